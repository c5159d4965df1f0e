using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Teleport.MachineId.Wire;

/// <summary>Where and how the wire client reaches a cluster. Exactly one of <see cref="ProxyServer"/> and <see cref="AuthServer"/> is set.</summary>
internal sealed record WireClientOptions
{
    /// <summary>The proxy's web address (tbot <c>proxy_server</c>); everything goes through the proxy.</summary>
    public HostPort? ProxyServer { get; init; }

    /// <summary>
    /// tbot's <c>auth_server</c>: tried as the Auth Service (dialled directly) and as a proxy's web
    /// address, in <see cref="Connections.ClusterAddressPlan"/>'s order.
    /// </summary>
    public HostPort? AuthServer { get; init; }

    /// <summary>
    /// Skip TLS verification of the proxy's web certificate and, with <see cref="AuthServer"/>, of
    /// Auth before an identity exists. Only on explicit opt-in (tbot <c>insecure: true</c>); never implied.
    /// </summary>
    public bool Insecure { get; init; }

    /// <summary>
    /// CA certificates that the proxy's web certificate must chain to instead of the operating system's
    /// trust store (a private CA, or the emulator's web CA). <see langword="null"/> ⇒ the OS store.
    /// </summary>
    public X509Certificate2Collection? ProxyCaCertificates { get; init; }

    /// <summary>CA pins (<c>sha256:&lt;hex&gt;</c>) that Auth's CA certificates must match before the first join (direct Auth only).</summary>
    public IReadOnlyList<string> CaPins { get; init; } = [];

    /// <summary>A PEM file with Auth's CA certificates, used instead of <see cref="CaPins"/> (direct Auth only).</summary>
    public string? CaPath { get; init; }

    /// <summary>Time allowed for TCP connect plus TLS handshake. Default 15 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Time allowed for one unary gRPC call (not for streams). Default 30 s.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time allowed for one HTTP request to the proxy's web API. Default 30 s.</summary>
    public TimeSpan WebRequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a pooled connection may be reused for new calls before it is retired (calls running
    /// on it continue). Default 10 minutes. Connections are already separated per identity, so this
    /// only bounds how long a load balancer keeps sending us to the same backend.
    /// </summary>
    public TimeSpan PooledConnectionLifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// HTTP/2 keep-alive ping delay on active streams (watches, ProxySSH). Default 5 minutes, the
    /// minimum interval Go gRPC servers accept without answering <c>too_many_pings</c>.
    /// </summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest payload of one ProxySSH/ProxyCluster frame this client sends. Default 32 KiB.</summary>
    public int TransportFrameSize { get; init; } = 32 * 1024;

    /// <summary>
    /// Whether connections to the proxy's ALPN-routed endpoints go through the ALPN connection upgrade
    /// (a proxy behind an L7 load balancer): detected as Teleport does (default), always, or never.
    /// </summary>
    public Connections.AlpnUpgradePolicy ConnectionUpgrade { get; init; } = Connections.AlpnUpgradePolicy.Detect;

    /// <summary>Reads environment variables (<c>TELEPORT_TLS_ROUTING_CONN_UPGRADE</c>, …); tests replace it.</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The clock for expiry checks and timeouts.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where log messages go.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Checks the combination of settings.</summary>
    /// <exception cref="ArgumentException">The settings contradict each other.</exception>
    public void Validate()
    {
        if (ProxyServer is null == AuthServer is null)
        {
            throw new ArgumentException("Set exactly one of ProxyServer (proxy_server) and AuthServer (auth_server).");
        }

        if (Insecure && (CaPins.Count > 0 || CaPath is not null))
        {
            throw new ArgumentException("insecure cannot be combined with ca_pins or ca_path.");
        }

        if (CaPins.Count > 0 && CaPath is not null)
        {
            throw new ArgumentException("ca_pins and ca_path are mutually exclusive.");
        }

        foreach (var pin in CaPins)
        {
            if (!Crypto.CaPins.IsValid(pin))
            {
                throw new ArgumentException("A CA pin is not 'sha256:' followed by 64 hex digits.");
            }
        }

        if (TransportFrameSize is < 1024 or > 4 * 1024 * 1024)
        {
            throw new ArgumentException("TransportFrameSize must be between 1 KiB and 4 MiB.");
        }

        if (ConnectTimeout <= TimeSpan.Zero || CallTimeout <= TimeSpan.Zero || WebRequestTimeout <= TimeSpan.Zero || PooledConnectionLifetime <= TimeSpan.Zero || KeepAlivePingDelay <= TimeSpan.Zero)
        {
            throw new ArgumentException("Timeouts and lifetimes must be positive.");
        }
    }
}
