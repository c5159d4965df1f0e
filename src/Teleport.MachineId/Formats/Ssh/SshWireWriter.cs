using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// Writer of SSH wire encodings into a buffer rented from <see cref="ArrayPool{T}"/>; the buffer
/// grows by doubling and goes back to the pool on <see cref="Dispose"/> (cleared first when the
/// writer was created for secrets). Always use it with <c>using</c> and pass it by <c>ref</c>.
/// </summary>
internal ref struct SshWireWriter
{
    private byte[] _buffer;
    private int _length;
    private readonly bool _sensitive;

    /// <summary>Creates a writer.</summary>
    /// <param name="initialCapacity">Expected size; the buffer grows when needed.</param>
    /// <param name="sensitive"><see langword="true"/> when the content includes private key material
    /// and the buffer must be zeroed before it returns to the pool.</param>
    public SshWireWriter(int initialCapacity, bool sensitive = false)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 64));
        _length = 0;
        _sensitive = sensitive;
    }

    /// <summary>Number of bytes written.</summary>
    public readonly int Length => _length;

    /// <summary>The bytes written so far (valid until the next write or <see cref="Dispose"/>).</summary>
    public readonly ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    /// <summary>Writes one byte.</summary>
    public void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    /// <summary>Writes a big-endian <c>uint32</c>.</summary>
    public void WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length, 4), value);
        _length += 4;
    }

    /// <summary>Writes a big-endian <c>uint64</c>.</summary>
    public void WriteUInt64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.AsSpan(_length, 8), value);
        _length += 8;
    }

    /// <summary>Writes raw bytes without a length prefix.</summary>
    public void WriteRaw(scoped ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Writes a length-prefixed <c>string</c>.</summary>
    public void WriteString(scoped ReadOnlySpan<byte> bytes)
    {
        Ensure(4 + bytes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length, 4), (uint)bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length + 4));
        _length += 4 + bytes.Length;
    }

    /// <summary>Writes a length-prefixed <c>string</c> holding the UTF-8 encoding of <paramref name="text"/>.</summary>
    public void WriteString(string text)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        Ensure(4 + max);
        var written = Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_length + 4));
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length, 4), (uint)written);
        _length += 4 + written;
    }

    /// <summary>
    /// Writes an <c>mpint</c> for a non-negative number given as unsigned big-endian bytes:
    /// leading zeros are dropped and a zero byte is prepended when the top bit is set.
    /// </summary>
    public void WriteMPInt(scoped ReadOnlySpan<byte> unsignedBigEndian)
    {
        var start = 0;
        while (start < unsignedBigEndian.Length && unsignedBigEndian[start] == 0)
        {
            start++;
        }

        var magnitude = unsignedBigEndian[start..];
        var pad = magnitude.Length > 0 && (magnitude[0] & 0x80) != 0 ? 1 : 0;
        Ensure(4 + pad + magnitude.Length);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length, 4), (uint)(pad + magnitude.Length));
        _length += 4;
        if (pad == 1)
        {
            _buffer[_length++] = 0;
        }

        magnitude.CopyTo(_buffer.AsSpan(_length));
        _length += magnitude.Length;
    }

    /// <summary>
    /// Starts a nested length-prefixed <c>string</c> whose content is written next; finish it with
    /// <see cref="EndNested"/> and the returned token.
    /// </summary>
    public int BeginNested()
    {
        Ensure(4);
        var start = _length;
        _length += 4;
        return start;
    }

    /// <summary>Finishes a nested <c>string</c> started with <see cref="BeginNested"/>.</summary>
    public readonly void EndNested(int token) =>
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(token, 4), (uint)(_length - token - 4));

    /// <summary>Returns a span of at least <paramref name="sizeHint"/> writable bytes; call <see cref="Advance"/> after writing.</summary>
    public Span<byte> GetSpan(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_length);
    }

    /// <summary>Marks <paramref name="count"/> bytes of the span from <see cref="GetSpan"/> as written.</summary>
    public void Advance(int count) => _length += count;

    /// <summary>Copies what was written into a new array of exactly that size.</summary>
    public readonly byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    /// <summary>Returns the buffer to the pool (zeroing it first for sensitive content).</summary>
    public void Dispose()
    {
        var buffer = _buffer;
        if (buffer is null)
        {
            return;
        }

        _buffer = null!;
        if (_sensitive)
        {
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, _length));
        }

        ArrayPool<byte>.Shared.Return(buffer);
    }

    private void Ensure(int extra)
    {
        if (_buffer.Length - _length >= extra)
        {
            return;
        }

        Grow(extra);
    }

    private void Grow(int extra)
    {
        var needed = checked(_length + extra);
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _length).CopyTo(next);
        if (_sensitive)
        {
            CryptographicOperations.ZeroMemory(_buffer.AsSpan(0, _length));
        }

        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = next;
    }
}
