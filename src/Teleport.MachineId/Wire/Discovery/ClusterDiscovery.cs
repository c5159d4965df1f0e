using System.Globalization;
using System.Net;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Wire.Discovery;

/// <summary>
/// What a proxy's <c>/webapi/find</c> says about its cluster, with the addresses derived by
/// Teleport's rules (<c>api/client/webclient</c> <c>SSHProxyHostPort</c>, <c>TunnelAddr</c>).
/// </summary>
internal sealed record ClusterDiscovery
{
    /// <summary>Default port of the proxy's reverse tunnel listener.</summary>
    public const int DefaultTunnelPort = 3024;

    /// <summary>The proxy web address that was asked (the configured <c>proxy_server</c>).</summary>
    public required HostPort ProxyAddress { get; init; }

    /// <summary>The cluster name.</summary>
    public required string ClusterName { get; init; }

    /// <summary>The Teleport version of the proxy (e.g. <c>18.0.0</c>).</summary>
    public required string ServerVersion { get; init; }

    /// <summary>The oldest client version the cluster accepts, or empty.</summary>
    public string MinClientVersion { get; init; } = string.Empty;

    /// <summary><c>oss</c>, <c>ent</c> or <c>community</c>; empty when not sent.</summary>
    public string Edition { get; init; } = string.Empty;

    /// <summary>Whether the cluster runs in FIPS mode.</summary>
    public bool Fips { get; init; }

    /// <summary>Whether the proxy multiplexes every protocol on its web port (TLS routing).</summary>
    public required bool TlsRoutingEnabled { get; init; }

    /// <summary>Where SSH and the transport gRPC service are served (the web port when TLS routing is on).</summary>
    public required HostPort SshProxyAddress { get; init; }

    /// <summary>The reverse tunnel address (the web port when TLS routing is on).</summary>
    public required HostPort TunnelAddress { get; init; }

    /// <summary>The signature algorithm suite for key generation (legacy when the cluster does not say).</summary>
    public required SignatureAlgorithmSuite SignatureAlgorithmSuite { get; init; }

    /// <summary>The SSH dial timeout the proxy advertises, or <see langword="null"/>.</summary>
    public TimeSpan? DialTimeout { get; init; }

    /// <summary>Builds the typed view of a <c>/webapi/find</c> answer.</summary>
    /// <param name="json">The parsed JSON.</param>
    /// <param name="proxy">The proxy address that was asked.</param>
    /// <returns>The discovery.</returns>
    /// <exception cref="TeleportProtocolException">The answer lacks the cluster name or has an invalid suite.</exception>
    public static ClusterDiscovery FromJson(FindResponseJson json, HostPort proxy)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (string.IsNullOrWhiteSpace(json.ClusterName))
        {
            throw new TeleportProtocolException(
                $"GET /webapi/find on {proxy} returned no cluster_name; check that {proxy} is a Teleport proxy's web address.");
        }

        var ssh = json.Proxy?.Ssh ?? new SshProxySettingsJson();
        var routing = json.Proxy?.TlsRoutingEnabled ?? false;
        return new ClusterDiscovery
        {
            ProxyAddress = proxy,
            ClusterName = json.ClusterName,
            ServerVersion = json.ServerVersion ?? string.Empty,
            MinClientVersion = json.MinClientVersion ?? string.Empty,
            Edition = json.Edition ?? string.Empty,
            Fips = json.Fips,
            TlsRoutingEnabled = routing,
            SshProxyAddress = DeriveSshProxyAddress(ssh, routing, proxy),
            TunnelAddress = DeriveTunnelAddress(ssh, routing, proxy),
            SignatureAlgorithmSuite = ParseSuite(json.Auth?.SignatureAlgorithmSuite, proxy),
            DialTimeout = ssh.DialTimeout > 0 ? TimeSpan.FromTicks(ssh.DialTimeout / 100) : null,
        };
    }

    /// <summary>
    /// Teleport's <c>SSHProxyHostPort</c>: with TLS routing <c>public_addr</c>, else
    /// <c>web_listen_addr</c> (default port: the web port); without it <c>ssh_public_addr</c>
    /// (default port: the SSH listen port) → <c>public_addr</c> host with the SSH listen port →
    /// <c>listen_addr</c> → <c>web_listen_addr</c>. An unspecified host (<c>0.0.0.0</c>) or no address
    /// at all falls back to the configured proxy host.
    /// </summary>
    public static HostPort DeriveSshProxyAddress(SshProxySettingsJson ssh, bool tlsRouting, HostPort proxy)
    {
        ArgumentNullException.ThrowIfNull(ssh);
        if (tlsRouting)
        {
            var webPort = HostPort.PortOf(ssh.WebListenAddr) ?? TeleportDefaults.ProxyPort;
            return First(proxy, new HostPort(proxy.Host, proxy.Port),
                (ssh.PublicAddr, webPort, null),
                (ssh.WebListenAddr, webPort, null));
        }

        var sshPort = HostPort.PortOf(ssh.ListenAddr) ?? TeleportDefaults.SshProxyPort;
        return First(proxy, new HostPort(proxy.Host, sshPort),
            (ssh.SshPublicAddr, sshPort, null),
            (ssh.PublicAddr, null, sshPort),
            (ssh.ListenAddr, sshPort, null),
            (ssh.WebListenAddr, sshPort, null));
    }

    /// <summary>Teleport's <c>TunnelAddr</c> (without the environment override).</summary>
    public static HostPort DeriveTunnelAddress(SshProxySettingsJson ssh, bool tlsRouting, HostPort proxy)
    {
        ArgumentNullException.ThrowIfNull(ssh);
        if (tlsRouting)
        {
            return DeriveSshProxyAddress(ssh, tlsRouting, proxy);
        }

        var tunnelPort = HostPort.PortOf(ssh.TunnelListenAddr) ?? DefaultTunnelPort;
        return First(proxy, new HostPort(proxy.Host, tunnelPort),
            (ssh.SshTunnelPublicAddr, tunnelPort, null),
            (ssh.SshPublicAddr, null, tunnelPort),
            (ssh.PublicAddr, null, tunnelPort),
            (ssh.TunnelListenAddr, tunnelPort, null),
            (ssh.WebListenAddr, tunnelPort, null));
    }

    private static HostPort First(HostPort proxy, HostPort fallback, params (string? Text, int? DefaultPort, int? OverridePort)[] candidates)
    {
        foreach (var (text, defaultPort, overridePort) in candidates)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            if (HostPort.TryParse(text, defaultPort, overridePort, out var address))
            {
                // A listen address such as 0.0.0.0:3023 names no host to dial: use the proxy's.
                return IPAddress.TryParse(address.Host, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
                    ? address with { Host = proxy.Host }
                    : address;
            }

            throw new TeleportProtocolException(
                $"GET /webapi/find on {proxy} returned the address '{text}', which is not a host:port address.");
        }

        return fallback;
    }

    private static SignatureAlgorithmSuite ParseSuite(string? text, HostPort proxy)
    {
        if (text is not null && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return SignatureAlgorithmSuite.FromProtoValue(number);
        }

        return SignatureAlgorithmSuite.TryParse(text, out var suite)
            ? suite
            : throw new TeleportProtocolException(
                $"GET /webapi/find on {proxy} returned an invalid signature_algorithm_suite; check that the proxy runs Teleport 17 or later.");
    }
}
