using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Connections;
using Teleport.MachineId.Wire.Streams;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>
/// Opens <c>TransportService.ProxySSH</c> streams on a known proxy address, without discovery:
/// what tbot's <c>ssh-proxy-command</c> does with <c>--proxy-server</c> (the web port with TLS
/// routing, else the SSH proxy port). mTLS with the given identity, ALPN
/// <c>teleport-proxy-ssh-grpc</c>, SNI the proxy host, the proxy verified against the identity's CAs.
/// </summary>
internal sealed class ProxyNodeDialer : IDisposable
{
    private readonly GrpcEndpoint _endpoint;
    private readonly ProxyStreamDialer _dialer;
    private readonly WireClientOptions _options;
    private readonly ILogger _logger;

    /// <param name="proxy">The proxy's transport address.</param>
    /// <param name="identity">The identity presented to the proxy (read for every new connection).</param>
    /// <param name="options">Timeouts, logging, frame size.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="trace">Phase timings, when asked for.</param>
    public ProxyNodeDialer(
        HostPort proxy, Func<WireIdentity?> identity, WireClientOptions options, ILogger logger, StartupTrace? trace = null)
    {
        _options = options;
        _logger = logger;
        var target = TlsTargets.ProxyTransport(proxy);
        var identities = new IdentityProfiles(identity);
        Proxy = proxy;

        // Behind an L7 load balancer the connection goes through the ALPN connection upgrade; the load
        // balancer's certificate is then verified with the OS trust store (or the configured bundle).
        var dialer = _dialer = new ProxyStreamDialer([proxy], ServerTrust.ForProxyWeb(options), options.ConnectionUpgrade, options, logger);
        _endpoint = new GrpcEndpoint(target.Peer, proxy.ToString(), _ => ValueTask.FromResult(identities.GetCurrent(target.Peer)),
            async (profile, ct) =>
            {
                trace?.Mark("HTTP/2 connection requested");
                var (transport, upgraded) = await dialer.DialAsync(proxy, target, ct).ConfigureAwait(false);
                trace?.Mark(upgraded ? "connection upgraded (ALPN connection upgrade)" : "TCP connected");
                var tls = await TlsConnector.AuthenticateAsync(transport, target, profile.Identity, profile.Trust, options.TimeProvider, logger, ct).ConfigureAwait(false);
                trace?.Mark("TLS established");
                return tls;
            },
            options);
    }

    /// <summary>The proxy address.</summary>
    public HostPort Proxy { get; }

    /// <summary>Opens a byte stream to <paramref name="hostPort"/> in <paramref name="cluster"/>.</summary>
    /// <exception cref="TeleportException">The proxy refused or could not reach the node.</exception>
    public Task<ProxySshStream> OpenAsync(string hostPort, string cluster, CancellationToken cancellationToken) =>
        ProxySshStream.OpenAsync(_endpoint.Invoker, hostPort, cluster, _options.TransportFrameSize, _endpoint.Description, _logger, cancellationToken);

    public void Dispose()
    {
        _endpoint.Dispose();
        _dialer.Dispose();
    }
}

/// <summary>Turns the host name ssh was given into the node name the proxy resolves (tbot's <c>cleanTargetHost</c>).</summary>
internal static class TargetHostNames
{
    /// <summary>Strips a trailing <c>.&lt;proxyHost&gt;</c>, then a trailing <c>.&lt;cluster&gt;</c>.</summary>
    public static string Clean(string host, string? proxyHost, string? cluster)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        var result = StripSuffix(host, proxyHost);
        return StripSuffix(result, cluster);
    }

    private static string StripSuffix(string host, string? suffix)
    {
        if (string.IsNullOrEmpty(suffix))
        {
            return host;
        }

        var dotted = "." + suffix;
        return host.Length > dotted.Length && host.EndsWith(dotted, StringComparison.OrdinalIgnoreCase) ? host[..^dotted.Length] : host;
    }
}
