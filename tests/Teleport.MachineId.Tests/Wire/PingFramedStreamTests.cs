using System.Buffers.Binary;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>Teleport's ping framing (legacy <c>alpn-ping</c> upgrade) against well-formed and hostile byte streams.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class PingFramedStreamTests
{
    [Test]
    public async Task Writes_are_length_prefixed_packets_and_a_ping_is_an_empty_packet()
    {
        var inner = new MemoryStream();
        await using var framed = new PingFramedStream(inner);

        await framed.WriteAsync("abc"u8.ToArray());
        await framed.WritePingAsync(CancellationToken.None);
        await framed.WriteAsync(Array.Empty<byte>());
        await framed.WriteAsync("de"u8.ToArray());

        Assert.That(inner.ToArray(), Is.EqualTo(new byte[] { 0, 0, 0, 3, (byte)'a', (byte)'b', (byte)'c', 0, 0, 0, 0, 0, 0, 0, 2, (byte)'d', (byte)'e' }));
    }

    [Test]
    public async Task Reads_skip_pings_between_and_before_packets_and_end_cleanly_between_packets()
    {
        var bytes = Packets(Ping(), Ping(), Data("hello "), Ping(), Data("world"), Ping());
        await using var framed = new PingFramedStream(new MemoryStream(bytes));

        var result = new MemoryStream();
        await framed.CopyToAsync(result);

        Assert.That(result.ToArray(), Is.EqualTo("hello world"u8.ToArray()));
    }

    [Test]
    public async Task A_packet_larger_than_the_read_buffer_is_delivered_in_pieces()
    {
        var payload = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        await using var framed = new PingFramedStream(new MemoryStream(Packets(Data(payload))));
        var buffer = new byte[333];

#pragma warning disable CA2022 // The point: a read returns at most the buffer.
        var first = await framed.ReadAsync(buffer);
#pragma warning restore CA2022
        var rest = new MemoryStream();
        await framed.CopyToAsync(rest);

        Assert.That(first, Is.EqualTo(333));
        Assert.That(buffer.Concat(rest.ToArray()), Is.EqualTo(payload));
    }

    [Test]
    public async Task A_huge_announced_length_is_streamed_not_buffered_and_its_truncation_is_an_error()
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, uint.MaxValue);
        await using var framed = new PingFramedStream(new MemoryStream([.. header, .. new byte[1000]]));
        var buffer = new byte[4096];

#pragma warning disable CA2022 // The point: one read returns what has arrived so far.
        var read = await framed.ReadAsync(buffer);
#pragma warning restore CA2022

        Assert.That(read, Is.EqualTo(1000), "what has arrived is delivered at once");
        Assert.ThrowsAsync<IOException>(async () => await framed.ReadExactlyAsync(buffer));
    }

    [TestCase(new byte[] { 0, 0 })]
    [TestCase(new byte[] { 0, 0, 0, 5, 1, 2 })]
    public void A_stream_that_ends_inside_a_packet_is_an_error(byte[] bytes)
    {
        var framed = new PingFramedStream(new MemoryStream(bytes));

        Assert.ThrowsAsync<IOException>(async () =>
        {
            var result = new MemoryStream();
            await framed.CopyToAsync(result);
        });
    }

    private static byte[] Ping() => [0, 0, 0, 0];

    private static byte[] Data(string text) => Data(System.Text.Encoding.ASCII.GetBytes(text));

    private static byte[] Data(byte[] payload)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)payload.Length);
        return [.. header, .. payload];
    }

    private static byte[] Packets(params byte[][] packets) => [.. packets.SelectMany(p => p)];
}
