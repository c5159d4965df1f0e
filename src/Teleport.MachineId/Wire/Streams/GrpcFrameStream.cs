using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire.Streams;

/// <summary>
/// A duplex <see cref="Stream"/> over a bidirectional gRPC call that carries raw bytes in frames
/// (Teleport's <c>ProxySSH</c> and <c>ProxyCluster</c>).
/// </summary>
/// <remarks>
/// <para>Reads pull one response message at a time and only when the caller asks for bytes, so at
/// most one received frame is held here (HTTP/2 flow control then holds the sender back: a slow
/// reader does not make anyone buffer without bound). Writes are cut into frames of at most the
/// configured size and each is awaited, so a write completes when its frames were handed to the
/// HTTP/2 connection; <see cref="Flush"/> has nothing left to do.</para>
/// <para>One read and one write may run at the same time (as with a socket); concurrent reads or
/// concurrent writes are not allowed. Cancelling a read or write cancels the whole call.
/// <see cref="ShutdownWriteAsync"/> half-closes (the peer sees end of stream while reads go on);
/// disposing half-closes, then ends the call.</para>
/// <para>Failures surface as <see cref="IOException"/> whose inner exception is the mapped
/// <see cref="TeleportException"/> (access denied, connection lost, …).</para>
/// </remarks>
/// <typeparam name="TRequest">The request message.</typeparam>
/// <typeparam name="TResponse">The response message.</typeparam>
internal abstract class GrpcFrameStream<TRequest, TResponse> : Stream
    where TRequest : class
    where TResponse : class
{
    private readonly AsyncDuplexStreamingCall<TRequest, TResponse> _call;
    private readonly int _frameSize;
    private readonly ILogger _logger;
    private readonly string _operation;
    private readonly string _endpoint;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private ReadOnlyMemory<byte> _current;
    private TResponse? _currentMessage;
    private bool _readCompleted;
    private bool _writeCompleted;
    private int _disposed;
    private long _bytesRead;
    private long _bytesWritten;

    /// <summary>Wraps a started call; the stream owns it.</summary>
    /// <param name="call">The call, after any opening exchange.</param>
    /// <param name="frameSize">Largest payload per frame sent.</param>
    /// <param name="operation">The gRPC method, for messages.</param>
    /// <param name="endpoint">Where the call runs, for messages.</param>
    /// <param name="logger">Logger.</param>
    protected GrpcFrameStream(AsyncDuplexStreamingCall<TRequest, TResponse> call, int frameSize, string operation, string endpoint, ILogger logger)
    {
        _call = call;
        _frameSize = frameSize;
        _operation = operation;
        _endpoint = endpoint;
        _logger = logger;
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
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Bytes received so far.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Bytes sent so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>Bytes of the current received frame not yet handed to the reader (never more than one frame).</summary>
    internal int BufferedBytes => _current.Length;

    /// <summary>Sets <paramref name="payload"/> as the frame of a reusable request message and returns it.</summary>
    protected abstract TRequest CreateFrame(ByteString payload);

    /// <summary>The data payload of a response, or <see langword="false"/> for messages that carry none (ignored).</summary>
    protected abstract bool TryGetPayload(TResponse response, out ReadOnlyMemory<byte> payload);

    /// <summary>Called when a response's payload has been consumed (or the stream closes): return pooled buffers here.</summary>
    protected virtual void ReleasePayload(TResponse response)
    {
    }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_current.IsEmpty && !await FillAsync(cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        var count = Math.Min(buffer.Length, _current.Length);
        _current.Span[..count].CopyTo(buffer.Span);
        _current = _current[count..];
        Interlocked.Add(ref _bytesRead, count);
        return count;
    }

    /// <summary>
    /// Reads without copying: returns the rest of the current received frame (empty at the end of
    /// the stream) and consumes it. The memory is valid until the next read or disposal.
    /// </summary>
    /// <param name="cancellationToken">Cancels the read (and the call).</param>
    /// <returns>The bytes, or empty when the peer ended the stream.</returns>
    /// <exception cref="IOException">The call failed (inner: the mapped <see cref="TeleportException"/>).</exception>
    internal async ValueTask<ReadOnlyMemory<byte>> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_current.IsEmpty && !await FillAsync(cancellationToken).ConfigureAwait(false))
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        var frame = _current;
        _current = default;
        Interlocked.Add(ref _bytesRead, frame.Length);
        return frame;
    }

    /// <summary>Makes the next non-empty frame current; false at the end of the stream.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        while (_current.IsEmpty)
        {
            ReleaseCurrent();
            if (_readCompleted)
            {
                return false;
            }

            bool more;
            try
            {
                more = await _call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                _readCompleted = true;
                throw Failure(ex);
            }

            if (!more)
            {
                _readCompleted = true;
                return false;
            }

            var message = _call.ResponseStream.Current;
            _currentMessage = message;
            if (TryGetPayload(message, out var payload))
            {
                _current = payload;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_writeCompleted)
            {
                throw new IOException($"The {_operation} stream to {_endpoint} was already shut down for writing.");
            }

            while (!buffer.IsEmpty)
            {
                var chunk = buffer[..Math.Min(buffer.Length, _frameSize)];

                // No copy: gRPC serializes the message before WriteAsync completes, and the
                // caller's buffer is not released before this method returns.
                var message = CreateFrame(UnsafeByteOperations.UnsafeWrap(chunk));
                try
                {
                    await GrpcCallFailures.WriteAsync(_call, message, cancellationToken, drainOnFailure: false).ConfigureAwait(false);
                }
                catch (RpcException ex)
                {
                    throw Failure(ex);
                }
                catch (Exception ex) when (ex is InvalidOperationException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    // The call already ended without a known error status (the server closed it).
                    throw Failure(ex);
                }

                Interlocked.Add(ref _bytesWritten, chunk.Length);
                buffer = buffer[chunk.Length..];
            }
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
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <summary>Nothing is buffered: every write was handed to the connection when it completed.</summary>
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <summary>Half-closes: the peer sees the end of our data; reading continues until the peer ends too. Idempotent.</summary>
    /// <param name="cancellationToken">Cancels waiting for a write in progress.</param>
    /// <returns>A task that completes when the end was sent.</returns>
    public async Task ShutdownWriteAsync(CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_writeCompleted)
            {
                return;
            }

            _writeCompleted = true;
            await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw Failure(ex);
        }
        catch (InvalidOperationException)
        {
            // The call is already over; nothing to close.
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }

    private async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await ShutdownWriteQuietlyAsync().ConfigureAwait(false);
        }
        finally
        {
            _call.Dispose();
            _current = default;
            ReleaseCurrent();
            WireLog.StreamClosed(_logger, _operation, BytesWritten, BytesRead);
        }
    }

    private void ReleaseCurrent()
    {
        if (Interlocked.Exchange(ref _currentMessage, null) is { } message)
        {
            ReleasePayload(message);
        }
    }

    private async Task ShutdownWriteQuietlyAsync()
    {
        // Do not wait behind a write that is blocked by flow control: disposing must not hang.
        if (!await _writeLock.WaitAsync(0).ConfigureAwait(false))
        {
            return;
        }

        try
        {
            if (!_writeCompleted)
            {
                _writeCompleted = true;
                await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
        {
            // The call already failed or ended; disposing ends it anyway.
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private IOException Failure(Exception exception)
    {
        TeleportException mapped;
        if (exception is RpcException rpc)
        {
            mapped = WireErrors.FromRpc(rpc, _operation, _endpoint);
        }
        else
        {
            var status = TryGetStatus();
            mapped = status is { } s && s.StatusCode != StatusCode.OK
                ? WireErrors.FromRpc(new RpcException(s), _operation, _endpoint)
                : new TeleportConnectionException($"The {_operation} stream to {_endpoint} was closed by the server.", exception);
        }

        WireLog.CallFailed(_logger, _operation, _endpoint, (mapped.InnerException as RpcException)?.StatusCode ?? StatusCode.Unknown);
        return new IOException(mapped.Message, mapped);
    }

    private Status? TryGetStatus() => GrpcCallFailures.TryGetStatus(_call);
}
