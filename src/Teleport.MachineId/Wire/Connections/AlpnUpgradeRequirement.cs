using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>Whether ALPN-routed connections to a proxy's web address go through the connection upgrade.</summary>
internal enum AlpnUpgradePolicy
{
    /// <summary>Decide as Teleport does: <c>TELEPORT_TLS_ROUTING_CONN_UPGRADE</c>, else a test dial (cached per proxy address).</summary>
    Detect,

    /// <summary>Always upgrade (tbot's <c>ssh-proxy-command --connection-upgrade</c>).</summary>
    Always,

    /// <summary>Never upgrade (<c>--no-connection-upgrade</c>).</summary>
    Never,
}

/// <summary>
/// Teleport's <c>IsALPNConnUpgradeRequired</c> (<c>api/client/alpn_conn_upgrade.go</c>): a proxy behind
/// an L7 load balancer that terminates TLS (AWS ALB, nginx, ngrok…) cannot route by ALPN, so a TLS
/// dial offering only <c>teleport-reversetunnel</c> comes back with no protocol, with the server's
/// <c>no_application_protocol</c> alert, or with a protocol that was not offered. Then the upgrade is
/// required. Any other outcome (a Teleport proxy answering the protocol, or a failure for another
/// reason) means it is not; the environment variable overrides the test.
/// </summary>
internal static class AlpnUpgradeRequirement
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    // Per proxy address for the process's lifetime, as Teleport clients keep the answer for a
    // proxy; only conclusive answers are kept (a failed test is tried again next time).
    private static readonly ConcurrentDictionary<string, bool> Cache = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether connections to <paramref name="proxy"/> need the upgrade: the environment override, the cache, else a test dial.</summary>
    /// <param name="proxy">The proxy's web address.</param>
    /// <param name="trust">How the proxy's (or load balancer's) web certificate is verified in the test dial.</param>
    /// <param name="options">Client options (environment, clock).</param>
    /// <param name="logger">Logger (the decision and its reason at Debug).</param>
    /// <param name="cancellationToken">Cancels the test.</param>
    /// <returns>Whether to upgrade.</returns>
    public static async ValueTask<bool> IsRequiredAsync(HostPort proxy, ServerTrust trust, WireClientOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var address = proxy.ToString();
        var environment = options.GetEnvironmentVariable(WireProtocol.ConnectionUpgradeEnvironmentVariable);
        if (!string.IsNullOrEmpty(environment))
        {
            var forced = IsRequiredByEnvironment(address, environment);
            var because = WireProtocol.ConnectionUpgradeEnvironmentVariable + "=" + environment;
            WireLog.ConnectionUpgradeDecided(logger, address, forced, because);
            return forced;
        }

        if (Cache.TryGetValue(address, out var known))
        {
            return known;
        }

        var (required, conclusive, reason) = await ProbeAsync(proxy, trust, options, logger, cancellationToken).ConfigureAwait(false);
        if (conclusive)
        {
            Cache[address] = required;
        }

        WireLog.ConnectionUpgradeDecided(logger, address, required, reason);
        return required;
    }

    /// <summary>
    /// Teleport's <c>isALPNConnUpgradeRequiredByEnv</c>: entries separated by <c>,</c> or <c>;</c>; an
    /// entry <c>&lt;addr&gt;=&lt;bool&gt;</c> whose text contains <c><paramref name="address"/>=</c> decides
    /// (an unparsable value means false); a bare boolean sets the answer for every other address; the
    /// default is false.
    /// </summary>
    /// <param name="address">The proxy address as configured (<c>host:port</c>).</param>
    /// <param name="value">The environment variable's value.</param>
    /// <returns>Whether the upgrade is required.</returns>
    public static bool IsRequiredByEnvironment(string address, string value)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(value);
        var forAll = false;
        foreach (var entry in value.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry.Contains('=', StringComparison.Ordinal))
            {
                var key = address + "=";
                var at = entry.IndexOf(key, StringComparison.Ordinal);
                if (at >= 0)
                {
                    return TryParseTeleportBool(entry[(at + key.Length)..], out var forAddress) && forAddress;
                }
            }
            else if (TryParseTeleportBool(entry, out var parsed))
            {
                forAll = parsed;
            }
        }

        return forAll;
    }

    /// <summary>Teleport's <c>utils.ParseBool</c> spellings.</summary>
    public static bool TryParseTeleportBool(string text, out bool value)
    {
        switch (text.ToLowerInvariant())
        {
            case "yes" or "yeah" or "y" or "true" or "1" or "on":
                value = true;
                return true;
            case "no" or "nope" or "n" or "false" or "0" or "off":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>Forgets every cached answer (tests).</summary>
    internal static void ClearCache() => Cache.Clear();

    private static async Task<(bool Required, bool Conclusive, string Reason)> ProbeAsync(
        HostPort proxy, ServerTrust trust, WireClientOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(ProbeTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var target = new TlsTarget($"proxy {proxy} (connection-upgrade test)", proxy.Host, [WireProtocol.ReverseTunnel], RequireNegotiatedProtocol: false);
        try
        {
            var tcp = await TlsConnector.ConnectTcpAsync(proxy, target.Peer, linked.Token).ConfigureAwait(false);
            var tls = await TlsConnector.AuthenticateAsync(tcp, target, identity: null, trust, options.TimeProvider, logger, linked.Token)
                .ConfigureAwait(false);
            await using var _ = tls.ConfigureAwait(false);
            var negotiated = tls.NegotiatedApplicationProtocol;
            return negotiated == default
                ? (true, true, "the proxy negotiated no ALPN protocol (a load balancer terminates TLS)")
                : negotiated != WireProtocol.ReverseTunnel
                    ? (true, true, $"the proxy negotiated the unadvertised ALPN protocol '{negotiated}'")
                    : (false, true, "the proxy negotiated teleport-reversetunnel");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, false, $"the test dial timed out after {ProbeTimeout.TotalSeconds:0} s; not upgrading");
        }
        catch (TeleportException ex) when (TlsConnector.DescribeProtocolRefusal(ex) is { } reason)
        {
            return (true, true, reason);
        }
        catch (TeleportException ex)
        {
            // As Teleport: any other failure means "no upgrade"; the real connection reports the problem.
            return (false, false, $"the test dial failed ({ex.Message.TrimEnd('.')}); not upgrading");
        }
    }
}
