using System.Buffers.Binary;
using System.Text;

namespace Teleport.MachineId.Testing.Network;

/// <summary>What the router needs from a TLS ClientHello: the offered ALPN protocols and the SNI host name.</summary>
internal sealed class ClientHelloInfo
{
    public IReadOnlyList<string> ApplicationProtocols { get; init; } = [];

    public string? ServerName { get; init; }
}

/// <summary>
/// Reads a TLS ClientHello from the start of a connection without consuming it: the bytes read are
/// returned so the connection can be replayed to whoever terminates TLS. Handles a ClientHello
/// split over several TLS records and TCP segments; bounded in size.
/// </summary>
internal static class ClientHello
{
    /// <summary>Largest ClientHello handshake message accepted (post-quantum key shares fit easily).</summary>
    public const int MaxHandshakeLength = 64 * 1024;

    private const byte HandshakeRecord = 22;
    private const byte ClientHelloType = 1;
    private const ushort ServerNameExtension = 0;
    private const ushort AlpnExtension = 16;

    /// <summary>Reads until the whole ClientHello handshake message has arrived.</summary>
    /// <returns>The bytes read (to replay) and the parsed hello, or null when the stream is not a TLS ClientHello.</returns>
    public static async Task<(byte[] Buffered, ClientHelloInfo? Hello)> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var handshake = new MemoryStream();
        var header = new byte[5];
        while (true)
        {
            if (!await ReadExactlyOrEndAsync(stream, header, buffer, cancellationToken).ConfigureAwait(false))
            {
                return (buffer.ToArray(), null);
            }

            if (header[0] != HandshakeRecord || header[1] != 3)
            {
                return (buffer.ToArray(), null);
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3));
            if (length == 0 || length > 16384 + 2048)
            {
                return (buffer.ToArray(), null);
            }

            var fragment = new byte[length];
            if (!await ReadExactlyOrEndAsync(stream, fragment, buffer, cancellationToken).ConfigureAwait(false))
            {
                return (buffer.ToArray(), null);
            }

            handshake.Write(fragment);
            if (handshake.Length >= 4)
            {
                var data = handshake.GetBuffer();
                if (data[0] != ClientHelloType)
                {
                    return (buffer.ToArray(), null);
                }

                var messageLength = (data[1] << 16) | (data[2] << 8) | data[3];
                if (messageLength > MaxHandshakeLength)
                {
                    return (buffer.ToArray(), null);
                }

                if (handshake.Length >= 4 + messageLength)
                {
                    return (buffer.ToArray(), Parse(data.AsSpan(4, messageLength)));
                }
            }
        }
    }

    /// <summary>Parses a ClientHello body (after the 4-byte handshake header); null when malformed.</summary>
    public static ClientHelloInfo? Parse(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Reader(body);
            reader.Skip(2 + 32); // legacy_version, random
            reader.Skip(reader.ReadByte()); // session id
            reader.Skip(reader.ReadUInt16()); // cipher suites
            reader.Skip(reader.ReadByte()); // compression methods
            if (reader.Remaining == 0)
            {
                return new ClientHelloInfo();
            }

            var extensions = reader.ReadSlice(reader.ReadUInt16());
            var protocols = new List<string>();
            string? serverName = null;
            var extensionReader = new Reader(extensions);
            while (extensionReader.Remaining > 0)
            {
                var type = extensionReader.ReadUInt16();
                var data = extensionReader.ReadSlice(extensionReader.ReadUInt16());
                var dataReader = new Reader(data);
                switch (type)
                {
                    case AlpnExtension:
                        var list = new Reader(dataReader.ReadSlice(dataReader.ReadUInt16()));
                        while (list.Remaining > 0)
                        {
                            protocols.Add(Encoding.ASCII.GetString(list.ReadSlice(list.ReadByte())));
                        }

                        break;
                    case ServerNameExtension:
                        var names = new Reader(dataReader.ReadSlice(dataReader.ReadUInt16()));
                        while (names.Remaining > 0)
                        {
                            var nameType = names.ReadByte();
                            var name = names.ReadSlice(names.ReadUInt16());
                            if (nameType == 0)
                            {
                                serverName = Encoding.ASCII.GetString(name);
                            }
                        }

                        break;
                }
            }

            return new ClientHelloInfo { ApplicationProtocols = protocols, ServerName = serverName };
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static async Task<bool> ReadExactlyOrEndAsync(Stream stream, byte[] target, MemoryStream copy, CancellationToken cancellationToken)
    {
        var read = await stream.ReadAtLeastAsync(target, target.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        copy.Write(target, 0, read);
        return read == target.Length;
    }

    /// <summary>A bounds-checked big-endian reader; throws <see cref="FormatException"/> on truncation.</summary>
    private ref struct Reader
    {
        private ReadOnlySpan<byte> _data;

        public Reader(ReadOnlySpan<byte> data) => _data = data;

        public readonly int Remaining => _data.Length;

        public byte ReadByte()
        {
            Ensure(1);
            var value = _data[0];
            _data = _data[1..];
            return value;
        }

        public ushort ReadUInt16()
        {
            Ensure(2);
            var value = BinaryPrimitives.ReadUInt16BigEndian(_data);
            _data = _data[2..];
            return value;
        }

        public ReadOnlySpan<byte> ReadSlice(int length)
        {
            Ensure(length);
            var slice = _data[..length];
            _data = _data[length..];
            return slice;
        }

        public void Skip(int length) => ReadSlice(length);

        private readonly void Ensure(int length)
        {
            if (length > _data.Length)
            {
                throw new FormatException("Truncated ClientHello.");
            }
        }
    }
}
