using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;

namespace Teleport.MachineId.Testing.Network;

/// <summary>What the router tells the internal h2c endpoints about a connection it terminated.</summary>
internal sealed record ProxiedConnection(X509Certificate2? ClientCertificate);

/// <summary>
/// Connections the router terminated and forwarded to an internal plaintext endpoint, keyed by the
/// router's outbound local port (which the endpoint sees as the remote port).
/// </summary>
internal sealed class ProxyConnectionRegistry
{
    private readonly ConcurrentDictionary<int, ProxiedConnection> _connections = new();

    public void Register(int localPort, ProxiedConnection connection) => _connections[localPort] = connection;

    public void Unregister(int localPort) => _connections.TryRemove(localPort, out _);

    public ProxiedConnection? Find(int remotePort) => _connections.GetValueOrDefault(remotePort);
}

/// <summary>Live Kestrel connections of one endpoint, so they can be aborted (Auth taken offline, client version refused).</summary>
internal sealed class ConnectionTracker
{
    private readonly ConcurrentDictionary<string, ConnectionContext> _connections = new(StringComparer.Ordinal);

    public void Add(ConnectionContext connection) => _connections[connection.ConnectionId] = connection;

    public void Remove(ConnectionContext connection) => _connections.TryRemove(connection.ConnectionId, out _);

    public void Abort(string connectionId)
    {
        if (_connections.TryGetValue(connectionId, out var connection))
        {
            connection.Abort(new ConnectionAbortedException("The emulator closed the connection."));
        }
    }

    public void AbortAll()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Abort(new ConnectionAbortedException("The emulated Auth service went offline."));
        }
    }
}
