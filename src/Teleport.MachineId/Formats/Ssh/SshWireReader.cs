using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// Bounds-checked reader of SSH wire encodings (RFC 4251 §5: <c>byte</c>, <c>uint32</c>,
/// <c>uint64</c>, <c>string</c>, <c>mpint</c>) over a span. Every read that would run past the
/// end, or a length prefix larger than what is left, throws <see cref="TeleportFormatException"/>;
/// no other exception type escapes.
/// </summary>
/// <remarks>
/// <see cref="What"/> names the structure being read ("SSH certificate", "SSH public key") and goes
/// into error messages; the bytes themselves never do.
/// </remarks>
internal ref struct SshWireReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Creates a reader at the start of <paramref name="data"/>.</summary>
    /// <param name="data">The encoded bytes.</param>
    /// <param name="what">What is being read, for error messages.</param>
    public SshWireReader(ReadOnlySpan<byte> data, string what)
    {
        _data = data;
        _position = 0;
        What = what;
    }

    /// <summary>What is being read, for error messages.</summary>
    public string What { get; }

    /// <summary>Offset of the next byte to read.</summary>
    public readonly int Position => _position;

    /// <summary>Number of bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary><see langword="true"/> when everything has been read.</summary>
    public readonly bool IsAtEnd => _position == _data.Length;

    /// <summary>Reads one byte.</summary>
    /// <exception cref="TeleportFormatException">The data ends first.</exception>
    public byte ReadByte()
    {
        if (_position >= _data.Length)
        {
            ThrowTruncated(What, "byte");
        }

        return _data[_position++];
    }

    /// <summary>Reads an SSH <c>boolean</c> (any non-zero byte is true).</summary>
    /// <exception cref="TeleportFormatException">The data ends first.</exception>
    public bool ReadBoolean() => ReadByte() != 0;

    /// <summary>Reads a big-endian <c>uint32</c>.</summary>
    /// <exception cref="TeleportFormatException">The data ends first.</exception>
    public uint ReadUInt32()
    {
        if (Remaining < 4)
        {
            ThrowTruncated(What, "uint32");
        }

        var value = BinaryPrimitives.ReadUInt32BigEndian(_data.Slice(_position, 4));
        _position += 4;
        return value;
    }

    /// <summary>Reads a big-endian <c>uint64</c>.</summary>
    /// <exception cref="TeleportFormatException">The data ends first.</exception>
    public ulong ReadUInt64()
    {
        if (Remaining < 8)
        {
            ThrowTruncated(What, "uint64");
        }

        var value = BinaryPrimitives.ReadUInt64BigEndian(_data.Slice(_position, 8));
        _position += 8;
        return value;
    }

    /// <summary>Reads a length-prefixed <c>string</c> and returns its content.</summary>
    /// <exception cref="TeleportFormatException">The data ends first or the length is too large.</exception>
    public ReadOnlySpan<byte> ReadString()
    {
        var (offset, length) = ReadStringRange();
        return _data.Slice(offset, length);
    }

    /// <summary>
    /// Reads a length-prefixed <c>string</c> and returns where its content is (offset and length
    /// relative to the start of the data), so callers can keep ranges instead of copies.
    /// </summary>
    /// <exception cref="TeleportFormatException">The data ends first or the length is too large.</exception>
    public (int Offset, int Length) ReadStringRange()
    {
        if (Remaining < 4)
        {
            ThrowTruncated(What, "string length");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(_data.Slice(_position, 4));
        if (length > (uint)(Remaining - 4))
        {
            ThrowLengthOverflow(What, length, Remaining - 4);
        }

        var offset = _position + 4;
        _position = offset + (int)length;
        return (offset, (int)length);
    }

    /// <summary>Reads a <c>string</c> and decodes it as UTF-8 (invalid sequences become U+FFFD).</summary>
    /// <exception cref="TeleportFormatException">The data ends first or the length is too large.</exception>
    public string ReadUtf8String() => Encoding.UTF8.GetString(ReadString());

    /// <summary>
    /// Reads a non-negative <c>mpint</c> and returns its magnitude as unsigned big-endian bytes
    /// without leading zero bytes (empty for zero).
    /// </summary>
    /// <exception cref="TeleportFormatException">The data ends first or the number is negative.</exception>
    public ReadOnlySpan<byte> ReadPositiveMPInt()
    {
        var (offset, length) = ReadPositiveMPIntRange();
        return _data.Slice(offset, length);
    }

    /// <summary>
    /// Reads a non-negative <c>mpint</c> and returns where its magnitude is (without leading zero bytes).
    /// </summary>
    /// <exception cref="TeleportFormatException">The data ends first or the number is negative.</exception>
    public (int Offset, int Length) ReadPositiveMPIntRange()
    {
        var (offset, length) = ReadStringRange();
        if (length > 0 && (_data[offset] & 0x80) != 0)
        {
            ThrowFormat(What, "a negative mpint where a non-negative number is required");
        }

        while (length > 0 && _data[offset] == 0)
        {
            offset++;
            length--;
        }

        return (offset, length);
    }

    /// <summary>Skips <paramref name="count"/> bytes.</summary>
    /// <exception cref="TeleportFormatException">Fewer bytes are left.</exception>
    public void Skip(int count)
    {
        if (count < 0 || count > Remaining)
        {
            ThrowTruncated(What, "bytes");
        }

        _position += count;
    }

    /// <summary>Returns the bytes not read yet and moves to the end.</summary>
    public ReadOnlySpan<byte> ReadRemaining()
    {
        var rest = _data[_position..];
        _position = _data.Length;
        return rest;
    }

    /// <summary>Throws unless everything has been read.</summary>
    /// <exception cref="TeleportFormatException">Bytes are left over.</exception>
    public readonly void EnsureAtEnd()
    {
        if (!IsAtEnd)
        {
            ThrowFormat(What, $"{Remaining} unexpected trailing byte(s)");
        }
    }

    /// <summary>Throws a <see cref="TeleportFormatException"/> about <paramref name="what"/>.</summary>
    /// <exception cref="TeleportFormatException">Always.</exception>
    [DoesNotReturn]
    public static void ThrowFormat(string what, string problem) =>
        throw new TeleportFormatException($"Malformed {what}: {problem}.");

    [DoesNotReturn]
    private static void ThrowTruncated(string what, string field) =>
        throw new TeleportFormatException($"Malformed {what}: data ends in the middle of a {field} (truncated input).");

    [DoesNotReturn]
    private static void ThrowLengthOverflow(string what, uint length, int left) =>
        throw new TeleportFormatException(
            $"Malformed {what}: a string claims {length} bytes but only {left} are left (truncated or corrupt input).");
}
