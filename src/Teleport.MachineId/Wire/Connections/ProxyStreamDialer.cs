using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>
/// Opens the transport under every TLS connection to one proxy's ALPN-routed endpoints: a TCP
/// connection, or — for a web address of the proxy (its configured address, and with TLS routing
/// its public address) when it sits behind an L7 load balancer — a tunnel through the ALPN
/// connection upgrade (<see cref="AlpnUpgradeDialer"/>). The TLS handshake with the real ALPN and
/// SNI then runs on top either way, so every ALPN-routed connection (Auth through the proxy,
/// joins, <c>ProxySSH</c>/<c>ProxyCluster</c>) crosses a load balancer transparently.
/// </summary>
internal sealed class ProxyStreamDialer : IDisposable
{
    private readonly HashSet<HostPort> _webAddresses;
    private readonly ServerTrust _webTrust;
    private readonly AlpnUpgradePolicy _policy;
    private readonly WireClientOptions _options;
    private readonly ILogger _logger;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<HostPort, Lazy<AlpnUpgradeDialer>> _upgrades = new();

    /// <summary>Creates the dialer; nothing connects yet.</summary>
    /// <param name="webAddresses">The proxy's web addresses (the only addresses that can need the upgrade).</param>
    /// <param name="webTrust">How the web certificate (of the proxy, or of a load balancer in front of it) is verified.</param>
    /// <param name="policy">Whether to upgrade: detect, always, never.</param>
    /// <param name="options">Client options.</param>
    /// <param name="logger">Logger.</param>
    public ProxyStreamDialer(IEnumerable<HostPort> webAddresses, ServerTrust webTrust, AlpnUpgradePolicy policy, WireClientOptions options, ILogger logger)
    {
        _webAddresses = [.. webAddresses];
        _webTrust = webTrust;
        _policy = policy;
        _options = options;
        _logger = logger;
    }

    /// <summary>Whether connections to the web address <paramref name="web"/> go through the upgrade (the policy, else Teleport's test, cached per address).</summary>
    /// <param name="web">A web address of the proxy.</param>
    /// <param name="cancellationToken">Cancels the test.</param>
    /// <returns>Whether to upgrade.</returns>
    public ValueTask<bool> IsUpgradeRequiredAsync(HostPort web, CancellationToken cancellationToken) => _policy switch
    {
        AlpnUpgradePolicy.Always => ValueTask.FromResult(true),
        AlpnUpgradePolicy.Never => ValueTask.FromResult(false),
        _ => AlpnUpgradeRequirement.IsRequiredAsync(web, _webTrust, _options, _logger, cancellationToken),
    };

    /// <summary>Opens the transport to <paramref name="address"/> for a TLS handshake per <paramref name="target"/>.</summary>
    /// <param name="address">Where the endpoint is.</param>
    /// <param name="target">The TLS handshake that will run on top (its peer names the endpoint; long-lived ones ask for <c>alpn-ping</c>).</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The stream, and whether it is an upgraded tunnel.</returns>
    /// <exception cref="TeleportException">Connecting or upgrading failed.</exception>
    public async Task<(Stream Stream, bool Upgraded)> DialAsync(HostPort address, TlsTarget target, CancellationToken cancellationToken)
    {
        if (_webAddresses.Contains(address) && await IsUpgradeRequiredAsync(address, cancellationToken).ConfigureAwait(false))
        {
            var upgrade = _upgrades.GetOrAdd(address, static (web, self) => new Lazy<AlpnUpgradeDialer>(
                () => new AlpnUpgradeDialer(web, self._webTrust, self._options, self._logger), LazyThreadSafetyMode.ExecutionAndPublication), this).Value;
            return (await upgrade.ConnectAsync(target.LongLived, cancellationToken).ConfigureAwait(false), true);
        }

        return (await TlsConnector.ConnectTcpAsync(address, target.Peer, cancellationToken).ConfigureAwait(false), false);
    }

    /// <summary>
    /// Dials <paramref name="address"/> and runs the TLS handshake of <paramref name="target"/> with
    /// the profile's identity and trust. Through an upgrade, a target that allows it also accepts the
    /// proxy's host certificate (<see cref="ServerTrust.ForUpgradedProxy"/>).
    /// </summary>
    /// <exception cref="TeleportException">Connecting, upgrading or the handshake failed.</exception>
    public async Task<Stream> ConnectTlsAsync(HostPort address, TlsTarget target, ConnectionProfile profile, CancellationToken cancellationToken)
    {
        var (transport, upgraded) = await DialAsync(address, target, cancellationToken).ConfigureAwait(false);
        var trust = upgraded && target.AcceptsUpgradedProxyHostCertificate ? ServerTrust.ForUpgradedProxy(profile.Trust) : profile.Trust;
        return await TlsConnector.AuthenticateAsync(transport, target, profile.Identity, trust, _options.TimeProvider, _logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes idle upgrade connections.</summary>
    public void Dispose()
    {
        foreach (var upgrade in _upgrades.Values.Where(u => u.IsValueCreated))
        {
            upgrade.Value.Dispose();
        }
    }
}
