using System.Net.Security;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>What a TLS client handshake asks for and accepts at one endpoint.</summary>
/// <param name="Peer">Who the peer is, for messages and logs (e.g. <c>Auth via TLS-routing proxy localhost:3080</c>).</param>
/// <param name="ServerName">SNI and the name the server certificate must be valid for.</param>
/// <param name="Protocols">ALPN protocols offered, in order of preference.</param>
/// <param name="RequireNegotiatedProtocol">Whether the server must select one of <paramref name="Protocols"/> (gRPC endpoints).</param>
internal sealed record TlsTarget(string Peer, string ServerName, IReadOnlyList<SslApplicationProtocol> Protocols, bool RequireNegotiatedProtocol)
{
    /// <summary>A long-lived connection (Auth, transport): through the ALPN connection upgrade it asks for <c>alpn-ping</c>, as Teleport's clients do.</summary>
    public bool LongLived { get; init; }

    /// <summary>
    /// Through the ALPN connection upgrade, also accept the proxy's host certificate (Teleport's
    /// <c>verifyALPNUpgradedConn</c>): the proxy's unauthenticated join gRPC, dialled before the
    /// cluster's CAs are known. The load balancer's certificate was verified on the way in.
    /// </summary>
    public bool AcceptsUpgradedProxyHostCertificate { get; init; }
}
