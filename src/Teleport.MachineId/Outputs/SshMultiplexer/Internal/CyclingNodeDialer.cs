using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Streams;

namespace Teleport.MachineId.Outputs.SshMultiplexer.Internal;

/// <summary>
/// Opens <c>ProxySSH</c> streams over one pooled wire client at a time and replaces the client with a
/// fresh one every <c>N</c> dials (tbot's <c>cyclingHostDialClient</c>, N = 100), so no single HTTP/2
/// connection to the proxy carries every session. A replaced client is closed when the last stream
/// opened through it ends; streams are never cut by a rotation. Thread-safe.
/// </summary>
internal sealed class CyclingNodeDialer : IAsyncDisposable
{
    private readonly Func<TeleportWireClient> _createClient;
    private readonly int _dialsPerClient;
    private readonly Lock _gate = new();
    private Lease? _current;
    private int _started;
    private int _clientsCreated;
    private bool _disposed;

    /// <param name="createClient">Creates a wire client (nothing connects until the first dial).</param>
    /// <param name="dialsPerClient">Dials per client before a fresh one is created.</param>
    public CyclingNodeDialer(Func<TeleportWireClient> createClient, int dialsPerClient)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dialsPerClient);
        _createClient = createClient;
        _dialsPerClient = dialsPerClient;
    }

    /// <summary>How many wire clients were created so far.</summary>
    public int ClientsCreated => Volatile.Read(ref _clientsCreated);

    /// <summary>Opens a stream to <paramref name="hostPort"/>; dispose the result to close it.</summary>
    /// <exception cref="TeleportException">The proxy refused or could not reach the node.</exception>
    /// <exception cref="ObjectDisposedException">The dialer was disposed.</exception>
    public async Task<DialedNode> DialAsync(string hostPort, string cluster, CancellationToken cancellationToken)
    {
        Lease lease;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_current is null)
            {
                // The dialer holds one reference while the client is current.
                _current = new Lease(_createClient());
                _started = 0;
                Interlocked.Increment(ref _clientsCreated);
            }

            lease = _current;
            _started++;
            if (_started >= _dialsPerClient)
            {
                // The dialer's reference passes to this dial; the next dial creates a fresh client.
                _current = null;
            }
            else
            {
                lease.AddReference();
            }
        }

        try
        {
            var stream = await lease.Client.OpenSshAsync(hostPort, cluster, cancellationToken).ConfigureAwait(false);
            return new DialedNode(stream, lease);
        }
        catch
        {
            lease.Release();
            throw;
        }
    }

    /// <summary>Releases the current client (open streams keep theirs until they end).</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Lease? current;
        lock (_gate)
        {
            _disposed = true;
            current = _current;
            _current = null;
        }

        current?.Release();
        return ValueTask.CompletedTask;
    }

    /// <summary>A client with a count of the streams (and the dialer) using it.</summary>
    internal sealed class Lease(TeleportWireClient client)
    {
        private int _references = 1;

        public TeleportWireClient Client { get; } = client;

        public void AddReference() => Interlocked.Increment(ref _references);

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0)
            {
                Client.Dispose();
            }
        }
    }
}

/// <summary>A stream to a node and the client it came through; disposing closes the stream and releases the client.</summary>
internal sealed class DialedNode(ProxySshStream stream, CyclingNodeDialer.Lease lease) : IAsyncDisposable
{
    private int _disposed;

    public ProxySshStream Stream { get; } = stream;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Stream.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            lease.Release();
        }
    }
}
