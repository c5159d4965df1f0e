using System.Net;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Testing;

/// <summary>How <see cref="TeleportEmulator.StartAsync"/> sets up the emulated cluster. All properties have working defaults.</summary>
public sealed class TeleportEmulatorOptions
{
    /// <summary>The cluster name. Default <c>example.teleport.test</c>.</summary>
    public string ClusterName { get; set; } = "example.teleport.test";

    /// <summary>
    /// The cluster's signature algorithm suite: decides the CA key types (teleport-protocol.md §3.1) and what
    /// <c>/webapi/find</c>, <c>Ping</c> and the join service report. Default <c>balanced-v1</c>.
    /// </summary>
    public SignatureAlgorithmSuite SignatureAlgorithmSuite { get; set; } = SignatureAlgorithmSuite.BalancedV1;

    /// <summary>The Teleport version the cluster reports. Default <c>18.0.0</c>; clients older than <c>&lt;major-1&gt;.0.0</c> are refused.</summary>
    public string ServerVersion { get; set; } = "18.0.0";

    /// <summary>
    /// Which join APIs are served; <see langword="null"/> (default) derives them from <see cref="ServerVersion"/>:
    /// legacy only before 18.2, legacy and unified from 18.2 on (the unified service was backported to 18.x in 2025).
    /// </summary>
    public EmulatorJoinApis? JoinApis { get; set; }

    /// <summary>
    /// TLS routing (Teleport's multiplex listener mode, default <see langword="true"/>): everything on the proxy
    /// web port. When false the proxy has separate web and SSH ports and Auth is reached through
    /// <c>TransportService/ProxyCluster</c> (or directly).
    /// </summary>
    public bool TlsRoutingEnabled { get; set; } = true;

    /// <summary>The clock for every expiry and TTL decision. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where the emulator logs. Default: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The proxy's public host name, used in addresses and web certificate names. Default <c>localhost</c>.</summary>
    public string PublicHostName { get; set; } = "localhost";

    /// <summary>The address the public listeners bind to. Default <see cref="IPAddress.Loopback"/>.</summary>
    public IPAddress ListenAddress { get; set; } = IPAddress.Loopback;

    /// <summary>The proxy web port; 0 (default) picks a free port.</summary>
    public int ProxyPort { get; set; }

    /// <summary>The proxy SSH port used when <see cref="TlsRoutingEnabled"/> is false; 0 (default) picks a free port.</summary>
    public int SshProxyPort { get; set; }

    /// <summary>The Auth port; 0 (default) picks a free port.</summary>
    public int AuthPort { get; set; }

    /// <summary>
    /// The proxy's public address, <c>host:port</c>, as <c>/webapi/find</c> (<c>public_addr</c>) and Auth's
    /// <c>Ping</c> report it: set it to a load balancer's address when one is in front of the emulator.
    /// Default <see langword="null"/>: <see cref="PublicHostName"/> and the proxy port.
    /// </summary>
    public string? PublicProxyAddress { get; set; }

    /// <summary>
    /// How often the proxy pings tunnels of the ALPN connection upgrade of type <c>alpn-ping</c>
    /// (WebSocket pings, or legacy ping packets). Default 30 seconds (Teleport's proxy ping interval).
    /// </summary>
    public TimeSpan ConnectionUpgradePingInterval { get; set; } = TimeSpan.FromSeconds(30);
}
