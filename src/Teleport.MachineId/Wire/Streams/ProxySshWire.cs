using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using Teleport.MachineId.Wire.Proto.Transport.V1;

namespace Teleport.MachineId.Wire.Streams;

/// <summary>
/// One <c>ProxySSHResponse</c> as the stream needs it: the cluster details of the first message, or
/// the payload of an <c>ssh</c> frame in a pooled buffer (returned by <see cref="Release"/>).
/// </summary>
internal sealed class ProxySshResponseFrame
{
    private byte[]? _buffer;

    private ProxySshResponseFrame(byte[]? buffer, int length, bool hasDetails, bool fipsEnabled)
    {
        _buffer = buffer;
        Length = length;
        HasDetails = hasDetails;
        FipsEnabled = fipsEnabled;
    }

    /// <summary>Whether the message carried <c>details</c> (field 1).</summary>
    public bool HasDetails { get; }

    /// <summary><c>details.fips_enabled</c>.</summary>
    public bool FipsEnabled { get; }

    /// <summary>Whether the message carried an <c>ssh</c> frame (field 2).</summary>
    public bool HasSshFrame => _buffer is not null;

    /// <summary>Payload length of the <c>ssh</c> frame.</summary>
    public int Length { get; }

    /// <summary>The payload of the <c>ssh</c> frame; valid until <see cref="Release"/>.</summary>
    public ReadOnlyMemory<byte> Payload => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, Length);

    /// <summary>Returns the payload buffer to the pool. Idempotent.</summary>
    public void Release()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null && buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads a serialized <c>ProxySSHResponse</c> (1 details {1 fips_enabled}, oneof 2 ssh / 3 agent
    /// {1 payload}) without materializing protobuf objects: the ssh payload is copied once, into a
    /// pooled buffer. Unknown fields and agent frames are skipped.
    /// </summary>
    /// <exception cref="InvalidDataException">The message is not valid protobuf.</exception>
    public static ProxySshResponseFrame Parse(ReadOnlySequence<byte> message)
    {
        var reader = new SequenceReader<byte>(message);
        var hasDetails = false;
        var fips = false;
        ReadOnlySequence<byte>? ssh = null;
        while (!reader.End)
        {
            var tag = ReadVarint(ref reader);
            var field = tag >> 3;
            var wireType = (int)(tag & 7);
            if (wireType == 2 && field is 1 or 2)
            {
                var body = ReadLengthDelimited(ref reader);
                if (field == 1)
                {
                    hasDetails = true;
                    fips = ReadDetailsFips(body);
                }
                else
                {
                    ssh = ReadFramePayload(body);
                }
            }
            else
            {
                if (field == 3 && wireType == 2)
                {
                    // An agent frame: this client offers no agent, so the oneof falls back to nothing.
                    ssh = null;
                }

                Skip(ref reader, wireType);
            }
        }

        if (ssh is not { } payload)
        {
            return new ProxySshResponseFrame(null, 0, hasDetails, fips);
        }

        var length = checked((int)payload.Length);
        var buffer = length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length);
        payload.CopyTo(buffer);
        return new ProxySshResponseFrame(buffer, length, hasDetails, fips);
    }

    private static bool ReadDetailsFips(ReadOnlySequence<byte> body)
    {
        var reader = new SequenceReader<byte>(body);
        var fips = false;
        while (!reader.End)
        {
            var tag = ReadVarint(ref reader);
            if (tag == ((1 << 3) | 0))
            {
                fips = ReadVarint(ref reader) != 0;
            }
            else
            {
                Skip(ref reader, (int)(tag & 7));
            }
        }

        return fips;
    }

    private static ReadOnlySequence<byte> ReadFramePayload(ReadOnlySequence<byte> body)
    {
        var reader = new SequenceReader<byte>(body);
        var payload = ReadOnlySequence<byte>.Empty;
        while (!reader.End)
        {
            var tag = ReadVarint(ref reader);
            if (tag == ((1 << 3) | 2))
            {
                payload = ReadLengthDelimited(ref reader);
            }
            else
            {
                Skip(ref reader, (int)(tag & 7));
            }
        }

        return payload;
    }

    private static ulong ReadVarint(ref SequenceReader<byte> reader)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (!reader.TryRead(out var b))
            {
                throw new InvalidDataException("Truncated varint in a ProxySSH response.");
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("Varint longer than 64 bits in a ProxySSH response.");
    }

    private static ReadOnlySequence<byte> ReadLengthDelimited(ref SequenceReader<byte> reader)
    {
        var length = ReadVarint(ref reader);
        if (length > (ulong)reader.Remaining)
        {
            throw new InvalidDataException("A length-delimited field runs past the end of a ProxySSH response.");
        }

        var slice = reader.UnreadSequence.Slice(0, (long)length);
        reader.Advance((long)length);
        return slice;
    }

    private static void Skip(ref SequenceReader<byte> reader, int wireType)
    {
        switch (wireType)
        {
            case 0:
                ReadVarint(ref reader);
                break;
            case 1:
                Advance(ref reader, 8);
                break;
            case 2:
                ReadLengthDelimited(ref reader);
                break;
            case 5:
                Advance(ref reader, 4);
                break;
            default:
                throw new InvalidDataException($"Unsupported protobuf wire type {wireType} in a ProxySSH response.");
        }
    }

    private static void Advance(ref SequenceReader<byte> reader, int count)
    {
        if (reader.Remaining < count)
        {
            throw new InvalidDataException("A fixed-size field runs past the end of a ProxySSH response.");
        }

        reader.Advance(count);
    }
}

/// <summary>
/// <c>/teleport.transport.v1.TransportService/ProxySSH</c> with the generated request type and a
/// response marshaller that copies each frame's payload once into a pooled buffer (the generated
/// one allocates a message, a frame and a byte array per frame).
/// </summary>
internal static class ProxySshWire
{
    /// <summary>The method descriptor (same service path as the generated client).</summary>
    public static Method<ProxySSHRequest, ProxySshResponseFrame> Method { get; } = new(
        MethodType.DuplexStreaming,
        "teleport.transport.v1.TransportService",
        "ProxySSH",
        Marshallers.Create<ProxySSHRequest>(
            static (message, context) =>
            {
                context.SetPayloadLength(message.CalculateSize());
                message.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            static context => ProxySSHRequest.Parser.ParseFrom(context.PayloadAsReadOnlySequence())),
        Marshallers.Create<ProxySshResponseFrame>(
            static (_, _) => throw new NotSupportedException("Responses are only read."),
            static context => ProxySshResponseFrame.Parse(context.PayloadAsReadOnlySequence())));
}
