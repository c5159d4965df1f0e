using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// The client side of the WebSocket connection upgrade against a peer that misbehaves after its
/// <c>101</c>: fragmented messages with pings between the fragments, a frame announcing an absurd
/// length, a close in the middle of a message, a connection cut inside a frame, an oversized control
/// frame, a peer that goes silent. Every case ends within seconds (no hang), data is delivered as it
/// arrives (never held back until a frame is complete: no unbounded buffer), pings are answered.
/// </summary>
public sealed class WebSocketTunnelHostilePeerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Test]
    public async Task A_fragmented_message_with_pings_between_its_fragments_is_delivered_and_each_ping_answered()
    {
        var pongs = new List<WebSocketFrame>();
        await using var server = new HostileUpgradeServer(Authority, async peer =>
        {
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: false, WebSocketFrame.Binary, "hel"u8.ToArray());
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Ping, "p1"u8.ToArray());
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: false, WebSocketFrame.Continuation, "lo "u8.ToArray());
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Ping, "p2"u8.ToArray());
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Continuation, "world"u8.ToArray());
            pongs.Add(await HostileUpgradeServer.ReadFrameAsync(peer));
            pongs.Add(await HostileUpgradeServer.ReadFrameAsync(peer));
        });
        await using var tunnel = await ConnectAsync(server);

        var received = await ReadAtLeastAsync(tunnel, 11);
        await server.ScriptDone.Task.WaitAsync(Bound);

        Assert.That(received, Is.EqualTo("hello world"u8.ToArray()));
        Assert.That(pongs.Select(p => (p.Opcode, System.Text.Encoding.ASCII.GetString(p.Payload))),
            Is.EqualTo(new[] { (WebSocketFrame.Pong, "p1"), (WebSocketFrame.Pong, "p2") }), "every ping answered with its payload");
    }

    [Test]
    public async Task Pings_interleaved_with_a_stream_of_data_frames_are_all_answered_and_no_byte_is_lost()
    {
        const int frames = 500;
        var pongs = 0;
        await using var server = new HostileUpgradeServer(Authority, async peer =>
        {
            for (var i = 0; i < frames; i++)
            {
                await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Binary, BitConverter.GetBytes(i));
                await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Ping, BitConverter.GetBytes(i));
            }

            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Close, new byte[] { 0x03, 0xE8 });
            for (var i = 0; i < frames; i++)
            {
                var pong = await HostileUpgradeServer.ReadFrameAsync(peer);
                Assert.That(pong.Opcode, Is.EqualTo(WebSocketFrame.Pong));
                Assert.That(BitConverter.ToInt32(pong.Payload), Is.EqualTo(i));
                pongs++;
            }
        });
        await using var tunnel = await ConnectAsync(server);

        var data = new MemoryStream();
        await tunnel.CopyToAsync(data).WaitAsync(Bound);
        var received = data.ToArray();
        await server.ScriptDone.Task.WaitAsync(Bound);

        Assert.That(received, Has.Length.EqualTo(frames * 4));
        Assert.That(Enumerable.Range(0, frames).Select(i => BitConverter.ToInt32(received, i * 4)), Is.EqualTo(Enumerable.Range(0, frames)));
        Assert.That(pongs, Is.EqualTo(frames));
    }

    [Test]
    public async Task A_frame_announcing_an_absurd_length_is_streamed_as_it_arrives_and_its_cut_ends_the_read()
    {
        var firstBytesRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new HostileUpgradeServer(Authority, async peer =>
        {
            // 2^62 bytes announced; 64 KiB sent, then more only once the client has read some of it.
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Binary, new byte[64 * 1024], announcedLength: 1UL << 62);
            await firstBytesRead.Task.WaitAsync(Bound);
            await peer.WriteAsync(new byte[64 * 1024]);
            await peer.FlushAsync();
            peer.Close();
        });
        await using var tunnel = await ConnectAsync(server);

        var buffer = new byte[16 * 1024];
        var first = await tunnel.ReadAsync(buffer).AsTask().WaitAsync(Bound);
        firstBytesRead.TrySetResult();
        long total = first;
        var ending = Assert.CatchAsync(async () =>
        {
            int read;
            while ((read = await tunnel.ReadAsync(buffer).AsTask().WaitAsync(Bound)) > 0)
            {
                total += read;
            }

            throw new EndOfStreamException("clean end");
        });

        Assert.That(first, Is.GreaterThan(0), "bytes of an unfinished frame are delivered (the frame is never buffered whole)");
        Assert.That(total, Is.EqualTo(128 * 1024));
        Assert.That(ending, Is.Not.InstanceOf<TimeoutException>(), "the cut connection ends the read instead of hanging");
    }

    [Test]
    public async Task A_close_in_the_middle_of_a_fragmented_message_ends_the_stream()
    {
        WebSocketFrame? reply = null;
        await using var server = new HostileUpgradeServer(Authority, async peer =>
        {
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: false, WebSocketFrame.Binary, "abc"u8.ToArray());
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Close, new byte[] { 0x03, 0xE8 });
            reply = await HostileUpgradeServer.ReadFrameAsync(peer);
        });
        var tunnel = await ConnectAsync(server);

        var received = await ReadAtLeastAsync(tunnel, 3);
        var end = await ReadToEndOrErrorAsync(tunnel);
        await tunnel.DisposeAsync().AsTask().WaitAsync(Bound);
        await server.ScriptDone.Task.WaitAsync(Bound);

        Assert.That(received, Is.EqualTo("abc"u8.ToArray()));
        Assert.That(end, Is.Null.Or.InstanceOf<IOException>().Or.InstanceOf<WebSocketException>(), "end of stream, or an error; never a hang");
        Assert.That(reply!.Opcode, Is.EqualTo(WebSocketFrame.Close), "the close is answered");
    }

    [Test]
    public async Task A_connection_cut_inside_a_frame_ends_the_read_with_an_error()
    {
        await using var server = new HostileUpgradeServer(Authority, async peer =>
        {
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Binary, new byte[10], announcedLength: 100);
            peer.Close();
        });
        await using var tunnel = await ConnectAsync(server);

        var received = await ReadAtLeastAsync(tunnel, 10);
        var end = await ReadToEndOrErrorAsync(tunnel);

        Assert.That(received, Has.Length.EqualTo(10));
        Assert.That(end, Is.InstanceOf<IOException>().Or.InstanceOf<WebSocketException>(), "a truncated frame is an error, not a clean end");
    }

    [Test]
    public async Task An_oversized_control_frame_is_a_protocol_error()
    {
        await using var server = new HostileUpgradeServer(Authority, async peer =>
        {
            await HostileUpgradeServer.WriteFrameAsync(peer, fin: true, WebSocketFrame.Ping, new byte[200]);
            await HostileUpgradeServer.DrainAsync(peer);
        });
        await using var tunnel = await ConnectAsync(server);

        var end = await ReadToEndOrErrorAsync(tunnel);

        Assert.That(end, Is.InstanceOf<IOException>().Or.InstanceOf<WebSocketException>(), "control frames carry at most 125 bytes (RFC 6455 5.5)");
    }

    [Test]
    public async Task A_silent_peer_does_not_hold_a_cancelled_read()
    {
        await using var server = new HostileUpgradeServer(Authority, HostileUpgradeServer.DrainAsync);
        await using var tunnel = await ConnectAsync(server);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var error = Assert.CatchAsync(() => tunnel.ReadAsync(new byte[16], cancel.Token).AsTask().WaitAsync(Bound));

        Assert.That(error, Is.InstanceOf<OperationCanceledException>());
    }

    private static TestAuthority Authority { get; } = new("example.teleport.test");

    private static async Task<Stream> ConnectAsync(HostileUpgradeServer server)
    {
        var options = new WireClientOptions
        {
            ProxyServer = server.Address,
            ProxyCaCertificates = new X509Certificate2Collection(Authority.Certificate),
            GetEnvironmentVariable = _ => null,
        };
        using var dialer = new AlpnUpgradeDialer(server.Address, ServerTrust.ForProxyWeb(options), options, NullLogger.Instance);
        return await dialer.ConnectAsync(withPing: true, CancellationToken.None).WaitAsync(Bound);
    }

    private static async Task<byte[]> ReadAtLeastAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(Bound);
        return buffer;
    }

    private static async Task<Exception?> ReadToEndOrErrorAsync(Stream stream)
    {
        try
        {
            var buffer = new byte[4096];
            while (await stream.ReadAsync(buffer).AsTask().WaitAsync(Bound) > 0)
            {
            }

            return null;
        }
        catch (TimeoutException)
        {
            throw;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }
}
