using System.Buffers;
using Google.Protobuf;
using Teleport.MachineId.Fuzz;
using Teleport.MachineId.Wire.Proto.Transport.V1;
using Teleport.MachineId.Wire.Streams;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>The hand-written ProxySSH response reader agrees with the generated protobuf code.</summary>
public sealed class ProxySshWireTests
{
    [Test]
    public void Details_message_is_read()
    {
        var frame = Parse(new ProxySSHResponse { Details = new ClusterDetails { FipsEnabled = true } });

        Assert.That(frame.HasDetails, Is.True);
        Assert.That(frame.FipsEnabled, Is.True);
        Assert.That(frame.HasSshFrame, Is.False);
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(127)]
    [TestCase(128)]
    [TestCase(32 * 1024)]
    [TestCase(300_000)]
    public void Ssh_payloads_of_any_length_come_out_unchanged(int length)
    {
        var payload = new byte[length];
        new Random(length).NextBytes(payload);

        var frame = Parse(new ProxySSHResponse { Ssh = new Frame { Payload = ByteString.CopyFrom(payload) } });

        Assert.That(frame.HasSshFrame, Is.True);
        Assert.That(frame.Payload.ToArray(), Is.EqualTo(payload));
        frame.Release();
        frame.Release();
        Assert.That(frame.Payload.IsEmpty, Is.True);
    }

    [Test]
    public void Agent_frames_and_unknown_fields_are_skipped()
    {
        var agent = Parse(new ProxySSHResponse { Agent = new Frame { Payload = ByteString.CopyFromUtf8("agent bytes") } });
        Assert.That(agent.HasSshFrame, Is.False);

        // Unknown fields of every wire type before the frame: varint 9, fixed64 10, fixed32 11, bytes 12.
        var message = new ProxySSHResponse { Ssh = new Frame { Payload = ByteString.CopyFromUtf8("ssh bytes") } }.ToByteArray();
        var prefix = new byte[] { 9 << 3, 0x96, 0x01, (10 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, (11 << 3) | 5, 1, 2, 3, 4, (12 << 3) | 2, 2, 0xAA, 0xBB };
        var frame = ProxySshResponseFrame.Parse(new ReadOnlySequence<byte>([.. prefix, .. message]));
        Assert.That(frame.Payload.ToArray(), Is.EqualTo("ssh bytes"u8.ToArray()));
    }

    [Test]
    public void A_payload_split_across_sequence_segments_is_read()
    {
        var payload = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        var bytes = new ProxySSHResponse { Ssh = new Frame { Payload = ByteString.CopyFrom(payload) } }.ToByteArray();

        var frame = ProxySshResponseFrame.Parse(SegmentedSequence.Create(bytes, 7, 3007));

        Assert.That(frame.Payload.ToArray(), Is.EqualTo(payload));
    }

    [TestCase(new byte[] { 0x12 })]
    [TestCase(new byte[] { 0x12, 0x05, 0x0A })]
    [TestCase(new byte[] { 0x12, 0x03, 0x0A, 0x09, 0x00 })]
    [TestCase(new byte[] { 0x0B })]
    [TestCase(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Malformed_messages_are_refused(byte[] bytes) =>
        Assert.Throws<InvalidDataException>(() => ProxySshResponseFrame.Parse(new ReadOnlySequence<byte>(bytes)));

    private static ProxySshResponseFrame Parse(ProxySSHResponse message) =>
        ProxySshResponseFrame.Parse(new ReadOnlySequence<byte>(message.ToByteArray()));
}
