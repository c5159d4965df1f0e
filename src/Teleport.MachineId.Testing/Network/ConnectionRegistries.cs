using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;

namespace Teleport.MachineId.Testing.Network;

/// <summary>
/// What the router tells the HTTP server about a connection whose TLS it terminated (a connection
/// feature of the in-process Kestrel connection): which endpoint, and the verified client certificate.
/// </summary>
internal sealed record ProxiedConnection(InProcessEndPoint EndPoint, X509Certificate2? ClientCertificate);

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
