namespace Teleport.MachineId.Wire.Connections;

/// <summary>The TLS parameters of each kind of Teleport endpoint (docs/transports.md).</summary>
internal static class TlsTargets
{
    /// <summary>Auth through a TLS-routing proxy: ALPN <c>teleport-auth@&lt;hex&gt;…</c> then <c>h2</c>, SNI the encoded cluster name; the proxy passes the TLS session through.</summary>
    public static TlsTarget AuthViaTlsRouting(HostPort proxy, string cluster) => new(
        $"Auth via TLS-routing proxy {proxy}",
        WireProtocol.EncodeClusterServerName(cluster),
        [WireProtocol.AuthAlpn(cluster), WireProtocol.Http2],
        RequireNegotiatedProtocol: true)
    {
        LongLived = true,
    };

    /// <summary>Auth dialled directly: ALPN <c>h2</c>, SNI the encoded cluster name (or <c>teleport.cluster.local</c> before it is known).</summary>
    public static TlsTarget AuthDirect(HostPort auth, string? cluster) => new(
        $"Auth at {auth}",
        cluster is null ? WireProtocol.ApiDomain : WireProtocol.EncodeClusterServerName(cluster),
        [WireProtocol.Http2],
        RequireNegotiatedProtocol: true);

    /// <summary>Auth inside a <c>ProxyCluster</c> stream of a proxy without TLS routing.</summary>
    public static TlsTarget AuthViaProxyCluster(HostPort sshProxy, string cluster) => new(
        $"Auth via proxy {sshProxy} (ProxyCluster)",
        WireProtocol.EncodeClusterServerName(cluster),
        [WireProtocol.Http2],
        RequireNegotiatedProtocol: true);

    /// <summary>The proxy's unauthenticated join gRPC: ALPN <c>teleport-proxy-grpc</c>, <c>h2</c>; SNI the proxy host.</summary>
    public static TlsTarget ProxyJoinGrpc(HostPort web) => new(
        $"proxy {web} (join gRPC)",
        web.Host,
        [WireProtocol.ProxyGrpc, WireProtocol.Http2],
        RequireNegotiatedProtocol: true)
    {
        AcceptsUpgradedProxyHostCertificate = true,
    };

    /// <summary>The proxy's transport gRPC (mTLS): ALPN <c>teleport-proxy-ssh-grpc</c> only; SNI the proxy host.</summary>
    public static TlsTarget ProxyTransport(HostPort sshProxy) => new(
        $"proxy {sshProxy} (SSH transport)",
        sshProxy.Host,
        [WireProtocol.ProxySshGrpc],
        RequireNegotiatedProtocol: true)
    {
        LongLived = true,
    };
}
