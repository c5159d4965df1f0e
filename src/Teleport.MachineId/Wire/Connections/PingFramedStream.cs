using System.Buffers.Binary;

// Shared source: the emulator (Teleport.MachineId.Testing) compiles this file too, for the server
// side of the legacy upgrade, in its own namespace (it cannot see the SDK's internals).
#if TELEPORT_EMULATOR
namespace Teleport.MachineId.Testing.Network;
#else
namespace Teleport.MachineId.Wire.Connections;
#endif

/// <summary>
/// Teleport's "ping connection" framing (<c>api/utils/pingconn</c>), used by the legacy
/// <c>alpn-ping</c> connection upgrade: every write is one packet, a 4-byte big-endian length then
/// the bytes; a packet of length 0 is a ping, which readers skip. Hand-written because it is
/// Teleport's own framing (no library speaks it); the WebSocket upgrade uses the BCL instead.
/// </summary>
/// <remarks>
/// Reads copy a packet's bytes straight into the caller's buffer (a huge announced length is
/// streamed, never buffered); the end of the inner stream between packets is the end of this
/// stream, inside a packet it is an <see cref="IOException"/>. Writes and pings are serialised.
/// </remarks>
internal sealed class PingFramedStream : Stream
{
    private readonly Stream _inner;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _readHeader = new byte[4];
    private uint _remaining;
    private int _disposed;

    /// <summary>Wraps <paramref name="inner"/>, which this stream owns.</summary>
    public PingFramedStream(Stream inner)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
    }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Writes a ping (an empty packet).</summary>
    public async Task WritePingAsync(CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _inner.WriteAsync(new byte[4], cancellationToken).ConfigureAwait(false);
            await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (_remaining == 0)
        {
            // Between packets: a clean end of the inner stream is the end of this one.
            var got = await ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
            if (!got)
            {
                return 0;
            }

            _remaining = BinaryPrimitives.ReadUInt32BigEndian(_readHeader);
        }

        var want = (int)Math.Min(_remaining, (uint)buffer.Length);
        var read = await _inner.ReadAsync(buffer[..want], cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            throw new IOException($"The connection ended inside a ping-framed packet ({_remaining} bytes missing).");
        }

        _remaining -= (uint)read;
        return read;
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            // An empty packet would be a ping; Teleport writes nothing for an empty write.
            return;
        }

        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)buffer.Length);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _inner.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public override void Flush() => _inner.Flush();

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
            _writeLock.Dispose();
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _inner.Dispose();
            _writeLock.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Reads a packet header; false at a clean end of the inner stream.</summary>
    private async ValueTask<bool> ReadHeaderAsync(CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < _readHeader.Length)
        {
            var read = await _inner.ReadAsync(_readHeader.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return filled == 0 ? false : throw new IOException("The connection ended inside a ping-framed packet header.");
            }

            filled += read;
        }

        return true;
    }
}
