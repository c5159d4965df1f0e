using System.Net.Security;
using System.Reflection;
using System.Text;

namespace Teleport.MachineId.Wire;

/// <summary>
/// Names Teleport's network protocol fixes: ALPN protocols, the SNI form of a cluster name, the
/// client version sent as gRPC metadata (docs/transports.md, teleport-protocol.md §2).
/// </summary>
internal static class WireProtocol
{
    /// <summary>The API domain of Teleport's own certificates (<c>*.teleport.cluster.local</c>).</summary>
    public const string ApiDomain = "teleport.cluster.local";

    /// <summary>Prefix of the ALPN protocol that makes a TLS-routing proxy pass the TLS session to Auth.</summary>
    public const string AuthAlpnPrefix = "teleport-auth@";

    /// <summary>ALPN of the proxy's unauthenticated gRPC listener (join services).</summary>
    public const string ProxyGrpcAlpn = "teleport-proxy-grpc";

    /// <summary>ALPN of the proxy's mTLS transport gRPC listener (<c>TransportService</c>).</summary>
    public const string ProxySshGrpcAlpn = "teleport-proxy-ssh-grpc";

    /// <summary>ALPN of the proxy's reverse tunnel; the ALPN connection-upgrade test dials it (<c>IsALPNConnUpgradeRequired</c>).</summary>
    public const string ReverseTunnelAlpn = "teleport-reversetunnel";

    /// <summary>The proxy's web path that upgrades an HTTP/1.1 connection to a tunnel for ALPN-routed TLS.</summary>
    public const string ConnectionUpgradePath = "/webapi/connectionupgrade";

    /// <summary>Teleport's own header naming the upgrade type (legacy upgrade, next to the standard <c>Upgrade</c>).</summary>
    public const string ConnectionUpgradeTeleportHeader = "X-Teleport-Upgrade";

    /// <summary>Upgrade type: a raw tunnel (legacy) or the WebSocket subprotocol for short-lived connections.</summary>
    public const string ConnectionUpgradeAlpn = "alpn";

    /// <summary>Upgrade type for long-lived connections: the server keeps the tunnel alive with pings.</summary>
    public const string ConnectionUpgradeAlpnPing = "alpn-ping";

    /// <summary>The standard WebSocket upgrade type (Teleport 15.1+; the only one a Teleport 18 client sends).</summary>
    public const string ConnectionUpgradeWebSocket = "websocket";

    /// <summary>
    /// Teleport's override of the connection-upgrade test: <c>true</c>/<c>false</c> (and Teleport's other
    /// boolean spellings) for every proxy, or <c>&lt;addr&gt;=&lt;bool&gt;</c> entries separated by <c>,</c> or <c>;</c>.
    /// </summary>
    public const string ConnectionUpgradeEnvironmentVariable = "TELEPORT_TLS_ROUTING_CONN_UPGRADE";

    /// <summary>
    /// Teleport 17's switch to the legacy (non-WebSocket) upgrade: <c>legacy</c>. Teleport 18 clients
    /// removed it; this client keeps it for proxies that only serve the legacy upgrade.
    /// </summary>
    public const string ConnectionUpgradeModeEnvironmentVariable = "TELEPORT_TLS_ROUTING_CONN_UPGRADE_MODE";

    /// <summary>
    /// The Teleport version this client speaks, sent as gRPC metadata <c>version</c>. Auth refuses a
    /// value below <c>&lt;server major − 1&gt;.0.0-aa</c>, so it must be a valid semver of the
    /// supported major (Teleport 18).
    /// </summary>
    public const string CompatibilityVersion = "18.0.0";

    /// <summary>The gRPC metadata key Teleport reads the client version from.</summary>
    public const string VersionMetadataKey = "version";

    /// <summary>The system role a bot joins with.</summary>
    public const string BotSystemRole = "Bot";

    /// <summary>The join method name of token joins.</summary>
    public const string TokenJoinMethod = "token";

    /// <summary>The join method name of bound keypair joins.</summary>
    public const string BoundKeypairJoinMethod = "bound_keypair";

    /// <summary>HTTP/2 over TLS.</summary>
    public static readonly SslApplicationProtocol Http2 = SslApplicationProtocol.Http2;

    /// <summary>HTTP/1.1 over TLS (the proxy's web endpoints).</summary>
    public static readonly SslApplicationProtocol Http11 = SslApplicationProtocol.Http11;

    /// <summary>ALPN <c>teleport-proxy-grpc</c>.</summary>
    public static readonly SslApplicationProtocol ProxyGrpc = new(ProxyGrpcAlpn);

    /// <summary>ALPN <c>teleport-proxy-ssh-grpc</c>.</summary>
    public static readonly SslApplicationProtocol ProxySshGrpc = new(ProxySshGrpcAlpn);

    /// <summary>ALPN <c>teleport-reversetunnel</c>.</summary>
    public static readonly SslApplicationProtocol ReverseTunnel = new(ReverseTunnelAlpn);

    /// <summary>
    /// The <c>User-Agent</c> this client sends: <c>teleport-machineid-dotnet/&lt;version&gt;
    /// (teleport/18.0.0)</c>.
    /// </summary>
    public static string UserAgent { get; } = BuildUserAgent();

    /// <summary>
    /// Teleport's SNI form of a cluster name: lowercase hex of its UTF-8 bytes followed by
    /// <c>.teleport.cluster.local</c> (Go's <c>utils.EncodeClusterName</c>).
    /// </summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <returns>The server name, e.g. <c>6578616d706c65.teleport.cluster.local</c> for <c>example</c>.</returns>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    public static string EncodeClusterServerName(string clusterName)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName);
        return string.Concat(Convert.ToHexStringLower(Encoding.UTF8.GetBytes(clusterName)), ".", ApiDomain);
    }

    /// <summary>The ALPN protocol that routes a TLS session to Auth of <paramref name="clusterName"/>.</summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <returns><c>teleport-auth@&lt;hex&gt;.teleport.cluster.local</c>.</returns>
    public static SslApplicationProtocol AuthAlpn(string clusterName) =>
        new(AuthAlpnPrefix + EncodeClusterServerName(clusterName));

    private static string BuildUserAgent()
    {
        var version = typeof(WireProtocol).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        if (plus >= 0)
        {
            version = version[..plus];
        }

        return $"teleport-machineid-dotnet/{version} (teleport/{CompatibilityVersion})";
    }
}
