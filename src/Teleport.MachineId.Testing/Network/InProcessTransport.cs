using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Teleport.MachineId.Testing.Network;

/// <summary>A Kestrel endpoint that is not a socket: the router hands it connections whose TLS it already terminated.</summary>
/// <param name="name">The endpoint's name, for logs.</param>
internal sealed class InProcessEndPoint(string name) : EndPoint
{
    public string Name { get; } = name;

    public override string ToString() => "in-process:" + Name;
}

/// <summary>
/// Kestrel transport for <see cref="InProcessEndPoint"/>s: the router passes a decrypted stream
/// straight to Kestrel's HTTP/2 layer, instead of relaying it over a second loopback TCP connection
/// (which cost two extra copies and four syscalls per chunk each way). Socket endpoints keep
/// Kestrel's socket transport: this factory only binds in-process endpoints.
/// </summary>
internal sealed class InProcessTransport : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly ConcurrentDictionary<InProcessEndPoint, Listener> _listeners = new();

    public bool CanBind(EndPoint endpoint) => endpoint is InProcessEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not InProcessEndPoint inProcess)
        {
            throw new NotSupportedException($"{endpoint} is not an in-process endpoint.");
        }

        var listener = new Listener(inProcess, this);
        if (!_listeners.TryAdd(inProcess, listener))
        {
            throw new InvalidOperationException($"{endpoint} is already bound.");
        }

        return ValueTask.FromResult<IConnectionListener>(listener);
    }

    /// <summary>
    /// Gives <paramref name="stream"/> to the endpoint's HTTP server and waits until the server is
    /// done with it, or until <paramref name="cancellationToken"/> aborts it. The stream is disposed.
    /// </summary>
    /// <exception cref="IOException">Nothing listens on the endpoint (not started, or stopping).</exception>
    public async Task ServeAsync(InProcessEndPoint endpoint, Stream stream, EndPoint? remoteEndPoint, ProxiedConnection proxied, CancellationToken cancellationToken)
    {
        var connection = new StreamConnection(stream, endpoint, remoteEndPoint, proxied);
        if (!_listeners.TryGetValue(endpoint, out var listener) || !listener.Offer(connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"Nothing listens on {endpoint}.");
        }

        try
        {
            await connection.Closed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The router is stopping: break the connection and do not wait for Kestrel, which
            // disposes it only after every request on it has finished (the host's own shutdown
            // deals with those).
            connection.Abort();
        }
    }

    private void Unbind(Listener listener) => _listeners.TryRemove(new KeyValuePair<InProcessEndPoint, Listener>((InProcessEndPoint)listener.EndPoint, listener));

    private sealed class Listener(InProcessEndPoint endpoint, InProcessTransport owner) : IConnectionListener
    {
        private readonly Channel<StreamConnection> _pending = Channel.CreateUnbounded<StreamConnection>(new UnboundedChannelOptions { SingleReader = true });

        public EndPoint EndPoint => endpoint;

        public bool Offer(StreamConnection connection) => _pending.Writer.TryWrite(connection);

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await _pending.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
            {
                // Unbound: Kestrel's accept loop ends on null.
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            owner.Unbind(this);
            _pending.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync().ConfigureAwait(false);
            while (_pending.Reader.TryRead(out var connection))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A Kestrel connection over a stream, with the router's facts as a connection feature.</summary>
    private sealed class StreamConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
        IConnectionLifetimeFeature, IConnectionEndPointFeature
    {
        // Pipe segments as large as a TLS record (plus HTTP/2 frame header) so each flushed segment
        // becomes one full record, not a run of 4 KiB ones.
        private const int SegmentSize = 32 * 1024;
        private static long s_nextId;

        private readonly Stream _stream;
        private readonly CancellationTokenSource _closed = new();
        private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _disposing;

        public StreamConnection(Stream stream, EndPoint local, EndPoint? remote, ProxiedConnection proxied)
        {
            _stream = stream;
            LocalEndPoint = local;
            RemoteEndPoint = remote;
            ConnectionId = "inproc-" + Interlocked.Increment(ref s_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Transport = new DuplexPipe(
                PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: SegmentSize, minimumReadSize: 2048, leaveOpen: true)),
                PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: SegmentSize, leaveOpen: true)));
            Features.Set<IConnectionIdFeature>(this);
            Features.Set<IConnectionTransportFeature>(this);
            Features.Set<IConnectionItemsFeature>(this);
            Features.Set<IConnectionLifetimeFeature>(this);
            Features.Set<IConnectionEndPointFeature>(this);
            Features.Set(proxied);
        }

        public Task Closed => _disposed.Task;

        public override string ConnectionId { get; set; }

        public override IFeatureCollection Features { get; } = new FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new ConnectionItems();

        public override IDuplexPipe Transport { get; set; }

        public override CancellationToken ConnectionClosed
        {
            get => _closed.Token;
            set => throw new NotSupportedException();
        }

        public override EndPoint? LocalEndPoint { get; set; }

        public override EndPoint? RemoteEndPoint { get; set; }

        public override void Abort(ConnectionAbortedException abortReason)
        {
            try
            {
                _closed.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            // Fails reads and writes in progress; Kestrel then disposes the connection.
            _stream.Dispose();
        }

        public override async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposing, 1) != 0)
            {
                return;
            }

            try
            {
                await Transport.Input.CompleteAsync().ConfigureAwait(false);
                await Transport.Output.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
            {
                // The peer is gone; nothing left to flush.
            }
            finally
            {
                await _stream.DisposeAsync().ConfigureAwait(false);
                _closed.Cancel();
                _closed.Dispose();
                _disposed.TrySetResult();
                await base.DisposeAsync().ConfigureAwait(false);
            }
        }

        private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
        {
            public PipeReader Input { get; } = input;

            public PipeWriter Output { get; } = output;
        }
    }
}
