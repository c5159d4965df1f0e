using Teleport.MachineId.Crypto;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Discovery;
using Teleport.MachineId.Wire.Join;
using Teleport.MachineId.Wire.Streams;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>Opens the streams behind <see cref="GrpcEndpoint"/>s.</summary>
internal static class EndpointStreams
{
    /// <summary>TCP to <paramref name="address"/>, then TLS per <paramref name="target"/> with the profile's identity and trust.</summary>
    public static async Task<Stream> TcpTlsAsync(
        HostPort address, TlsTarget target, ConnectionProfile profile, WireClientOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var tcp = await TlsConnector.ConnectTcpAsync(address, target.Peer, cancellationToken).ConfigureAwait(false);
        return await TlsConnector.AuthenticateAsync(tcp, target, profile.Identity, profile.Trust, options.TimeProvider, logger, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// One way to the cluster through the configured address (<see cref="ClusterAddressCandidate"/>):
/// where joins go, where Auth is, and which proxy reaches nodes. <see cref="ClusterRouteSelector"/>
/// tries the routes in <see cref="ClusterAddressPlan"/>'s order.
/// </summary>
internal interface IClusterRoute : IDisposable
{
    /// <summary>The address and as what it is tried.</summary>
    ClusterAddressCandidate Candidate { get; }

    /// <summary>Where unauthenticated join RPCs go: the proxy's <c>teleport-proxy-grpc</c>, or Auth without a client certificate.</summary>
    /// <exception cref="TeleportException">The route cannot be resolved (discovery, trust).</exception>
    ValueTask<GrpcEndpoint> GetJoinEndpointAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The cluster's signature algorithm suite as the legacy joins of this route learn it (tbot's
    /// <c>generateHostKeysForProxy</c>/<c>ForAuth</c>): the proxy's discovery, or Auth's <c>Ping</c>.
    /// </summary>
    /// <exception cref="TeleportException">The route cannot be resolved, or Ping failed.</exception>
    ValueTask<SignatureAlgorithmSuite> GetJoinSuiteAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The legacy <c>RegisterUsingToken</c> join of this route (the token method, and OIDC-style methods
    /// with their <paramref name="idToken"/>): <c>POST /webapi/host/credentials</c> on a proxy, or
    /// <c>proto.JoinService/RegisterUsingToken</c> on Auth (keys for the suite the route reports).
    /// </summary>
    /// <exception cref="TeleportException">The join failed.</exception>
    Task<JoinResult> JoinLegacyAsync(string token, DateTimeOffset expires, string? idToken, CancellationToken cancellationToken);

    /// <summary>Auth: with the current identity (required through a proxy), or unauthenticated on direct Auth before joining.</summary>
    /// <exception cref="InvalidOperationException">Through a proxy, there is no identity yet.</exception>
    /// <exception cref="TeleportException">The route cannot be resolved.</exception>
    ValueTask<GrpcEndpoint> GetAuthAsync(CancellationToken cancellationToken);

    /// <summary>The proxy (discovery, transport): the address itself, or the proxy Auth names in <c>Ping</c>.</summary>
    /// <exception cref="TeleportException">The proxy cannot be found or discovered.</exception>
    ValueTask<ProxyRoute> GetProxyAsync(CancellationToken cancellationToken);
}

/// <summary>Discovers a proxy (<c>/webapi/find</c>) once and keeps its <see cref="ProxyRoute"/>; a failed discovery is retried by the next call.</summary>
internal sealed class ProxyDiscovery : IDisposable
{
    private readonly IdentityProfiles _identities;
    private readonly WireClientOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private ProxyRoute? _route;

    public ProxyDiscovery(IdentityProfiles identities, WireClientOptions options, ILogger logger)
    {
        _identities = identities;
        _options = options;
        _logger = logger;
    }

    /// <summary>How the proxy's web certificate is verified: insecure only when asked, else the configured CA bundle or the OS store.</summary>
    public ServerTrust WebTrust => ServerTrust.ForProxyWeb(_options);

    /// <summary>The route of the proxy at the address <paramref name="address"/> returns (discovered on first use).</summary>
    /// <exception cref="TeleportException">Discovery failed; marked as not sent (<see cref="WireErrors.MarkNotSent"/>).</exception>
    public async ValueTask<ProxyRoute> GetAsync(Func<CancellationToken, ValueTask<HostPort>> address, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _route) is { } ready)
        {
            return ready;
        }

        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_route is not null)
            {
                return _route;
            }

            ProxyWebClient? web = null;
            try
            {
                var proxy = await address(cancellationToken).ConfigureAwait(false);
                var trust = WebTrust;
                web = new ProxyWebClient(proxy, trust, _options);
                var discovery = await web.FindAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _route, new ProxyRoute(discovery, web, trust, _identities, _options, _logger));
                return _route!;
            }
            catch (Exception ex)
            {
                web?.Dispose();
                if (ex is not OperationCanceledException)
                {
                    // Finding and discovering the proxy only reads; nothing the caller asked for was sent.
                    WireErrors.MarkNotSent(ex);
                }

                throw;
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose() => _route?.Dispose();
}

/// <summary>The configured address as a proxy's web address (tbot <c>proxy_server</c>, or <c>auth_server</c> naming a proxy).</summary>
internal sealed class ProxyClusterRoute : IClusterRoute
{
    private readonly ProxyDiscovery _discovery;
    private readonly IdentityProfiles _identities;

    public ProxyClusterRoute(HostPort address, IdentityProfiles identities, WireClientOptions options, ILogger logger)
    {
        Candidate = new ClusterAddressCandidate(ClusterAddressRole.Proxy, address);
        _identities = identities;
        _discovery = new ProxyDiscovery(identities, options, logger);
        if (options.Insecure)
        {
            WireLog.InsecureMode(logger, $"proxy {address} (web)");
        }
    }

    public ClusterAddressCandidate Candidate { get; }

    public async ValueTask<GrpcEndpoint> GetJoinEndpointAsync(CancellationToken cancellationToken) =>
        (await GetProxyAsync(cancellationToken).ConfigureAwait(false)).Join;

    public async ValueTask<SignatureAlgorithmSuite> GetJoinSuiteAsync(CancellationToken cancellationToken) =>
        (await GetProxyAsync(cancellationToken).ConfigureAwait(false)).Discovery.SignatureAlgorithmSuite;

    public async Task<JoinResult> JoinLegacyAsync(string token, DateTimeOffset expires, string? idToken, CancellationToken cancellationToken)
    {
        var route = await GetProxyAsync(cancellationToken).ConfigureAwait(false);
        return await TokenJoin.JoinLegacyHttpAsync(route.Web, route.Discovery.SignatureAlgorithmSuite, token, expires, cancellationToken, idToken).ConfigureAwait(false);
    }

    public async ValueTask<GrpcEndpoint> GetAuthAsync(CancellationToken cancellationToken)
    {
        // Through a proxy, Auth is reached with an identity only (TLS routing or ProxyCluster, both mTLS).
        if (_identities.Current is null)
        {
            // Not possible on this route before joining; another route (direct Auth) may still serve the call.
            throw WireErrors.MarkNotSent(new InvalidOperationException("Calls to Auth through the proxy need a bot identity; join the cluster first."));
        }

        return (await GetProxyAsync(cancellationToken).ConfigureAwait(false)).Auth;
    }

    public ValueTask<ProxyRoute> GetProxyAsync(CancellationToken cancellationToken) =>
        _discovery.GetAsync(_ => ValueTask.FromResult(Candidate.Address), cancellationToken);

    public void Dispose() => _discovery.Dispose();
}

/// <summary>
/// The configured address as the Auth Service (tbot <c>auth_server</c>); the proxy for nodes is the
/// one Auth names in <c>Ping</c> (<c>proxy_public_addr</c>).
/// </summary>
internal sealed class DirectAuthClusterRoute : IClusterRoute
{
    private readonly DirectAuthRoute _auth;
    private readonly ProxyDiscovery _proxy;
    private readonly WireClientOptions _options;
    private readonly ILogger _logger;

    public DirectAuthClusterRoute(HostPort address, IdentityProfiles identities, WireClientOptions options, ILogger logger)
    {
        Candidate = new ClusterAddressCandidate(ClusterAddressRole.Auth, address);
        _auth = new DirectAuthRoute(address, identities, options, logger);
        _proxy = new ProxyDiscovery(identities, options, logger);
        _options = options;
        _logger = logger;
    }

    public ClusterAddressCandidate Candidate { get; }

    public ValueTask<GrpcEndpoint> GetJoinEndpointAsync(CancellationToken cancellationToken) => ValueTask.FromResult(_auth.Anonymous);

    public async ValueTask<SignatureAlgorithmSuite> GetJoinSuiteAsync(CancellationToken cancellationToken) =>
        (await UnaryCall.PingAsync(_auth.Anonymous, _options, _logger, cancellationToken).ConfigureAwait(false)).SignatureAlgorithmSuite;

    public async Task<JoinResult> JoinLegacyAsync(string token, DateTimeOffset expires, string? idToken, CancellationToken cancellationToken)
    {
        var endpoint = _auth.Anonymous;
        var suite = await GetJoinSuiteAsync(cancellationToken).ConfigureAwait(false);
        return await TokenJoin.JoinLegacyGrpcAsync(endpoint.Invoker, endpoint.Description, suite, token, expires, _logger, cancellationToken, idToken)
            .ConfigureAwait(false);
    }

    public ValueTask<GrpcEndpoint> GetAuthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(_auth.Auth);

    public ValueTask<ProxyRoute> GetProxyAsync(CancellationToken cancellationToken) => _proxy.GetAsync(FindProxyAsync, cancellationToken);

    public void Dispose()
    {
        _auth.Dispose();
        _proxy.Dispose();
    }

    private async ValueTask<HostPort> FindProxyAsync(CancellationToken cancellationToken)
    {
        var ping = await UnaryCall.PingAsync(_auth.Auth, _options, _logger, cancellationToken).ConfigureAwait(false);
        if (!HostPort.TryParse(ping.ProxyPublicAddress, TeleportDefaults.ProxyPort, null, out var proxy))
        {
            throw new TeleportNotFoundException(
                $"Auth at {Candidate.Address} does not know a proxy public address, which reaching nodes needs; configure proxy_server instead of auth_server.");
        }

        return proxy;
    }
}

/// <summary>
/// Everything reached through a proxy (tbot <c>proxy_server</c>): the web API, the join gRPC,
/// the transport service and Auth — through TLS routing (ALPN <c>teleport-auth@</c>) when the proxy
/// has it, else through <c>TransportService.ProxyCluster</c> on the SSH proxy port.
/// </summary>
internal sealed class ProxyRoute : IDisposable
{
    /// <summary>Builds the endpoints for a discovered proxy; nothing connects yet.</summary>
    public ProxyRoute(ClusterDiscovery discovery, ProxyWebClient web, ServerTrust webTrust, IdentityProfiles identities, WireClientOptions options, ILogger logger)
    {
        Discovery = discovery;
        Web = web;
        var proxy = discovery.ProxyAddress;
        var sshProxy = discovery.SshProxyAddress;
        var cluster = discovery.ClusterName;
        var anonymous = new ConnectionProfile(null, webTrust);

        // With TLS routing the public (SSH) address is a web address of the proxy too (often the load balancer's).
        Dialer = new ProxyStreamDialer(discovery.TlsRoutingEnabled ? [proxy, sshProxy] : [proxy], webTrust, options.ConnectionUpgrade, options, logger);
        var dialer = Dialer;

        var joinTarget = TlsTargets.ProxyJoinGrpc(proxy);
        Join = new GrpcEndpoint(joinTarget.Peer, proxy.ToString(), _ => ValueTask.FromResult(anonymous),
            (profile, ct) => dialer.ConnectTlsAsync(proxy, joinTarget, profile, ct), options);

        var transportTarget = TlsTargets.ProxyTransport(sshProxy);
        Transport = new GrpcEndpoint(transportTarget.Peer, sshProxy.ToString(), _ => ValueTask.FromResult(identities.GetCurrent(transportTarget.Peer)),
            (profile, ct) => dialer.ConnectTlsAsync(sshProxy, transportTarget, profile, ct), options,
            InputLimits.ProxySshFrameBytes);

        if (discovery.TlsRoutingEnabled)
        {
            var authTarget = TlsTargets.AuthViaTlsRouting(proxy, cluster);
            Auth = new GrpcEndpoint(authTarget.Peer, authTarget.ServerName, _ => ValueTask.FromResult(identities.GetCurrent(authTarget.Peer)),
                (profile, ct) => dialer.ConnectTlsAsync(proxy, authTarget, profile, ct), options);
        }
        else
        {
            var authTarget = TlsTargets.AuthViaProxyCluster(sshProxy, cluster);
            Auth = new GrpcEndpoint(authTarget.Peer, authTarget.ServerName, _ => ValueTask.FromResult(identities.GetCurrent(authTarget.Peer)),
                async (profile, ct) =>
                {
                    var tunnel = await ProxyClusterStream.OpenAsync(Transport.Invoker, cluster, options.TransportFrameSize, Transport.Description, logger, ct)
                        .ConfigureAwait(false);
                    return await TlsConnector.AuthenticateAsync(tunnel, authTarget, profile.Identity, profile.Trust, options.TimeProvider, logger, ct)
                        .ConfigureAwait(false);
                },
                options);
        }
    }

    /// <summary>What the proxy said about the cluster.</summary>
    public ClusterDiscovery Discovery { get; }

    /// <summary>Dials the proxy's endpoints (TCP, or through the ALPN connection upgrade).</summary>
    public ProxyStreamDialer Dialer { get; }

    /// <summary>The proxy's HTTPS web API.</summary>
    public ProxyWebClient Web { get; }

    /// <summary>The proxy's unauthenticated join gRPC (<c>teleport-proxy-grpc</c>).</summary>
    public GrpcEndpoint Join { get; }

    /// <summary>The proxy's transport service (<c>teleport-proxy-ssh-grpc</c>, mTLS).</summary>
    public GrpcEndpoint Transport { get; }

    /// <summary>Auth, mutually authenticated with the current identity.</summary>
    public GrpcEndpoint Auth { get; }

    /// <summary>Closes every endpoint.</summary>
    public void Dispose()
    {
        Auth.Dispose();
        Transport.Dispose();
        Join.Dispose();
        Web.Dispose();
        Dialer.Dispose();
    }
}

/// <summary>
/// Auth dialled directly (tbot <c>auth_server</c>). Before an identity exists, Auth is verified
/// against CAs bootstrapped from CA pins (unverified <c>GetClusterCACert</c>, every certificate must
/// match a pin, then verified reconnects), or read from <c>ca_path</c>, or not at all with explicit
/// <c>insecure</c>. With an identity, its CA certificates are the trust.
/// </summary>
internal sealed class DirectAuthRoute : IDisposable
{
    private readonly HostPort _address;
    private readonly WireClientOptions _options;
    private readonly ILogger _logger;
    private readonly IdentityProfiles _identities;
    private readonly SemaphoreSlim _bootstrapLock = new(1, 1);
    private ConnectionProfile? _anonymous;

    /// <summary>Builds the endpoints; nothing connects yet.</summary>
    public DirectAuthRoute(HostPort address, IdentityProfiles identities, WireClientOptions options, ILogger logger)
    {
        _address = address;
        _identities = identities;
        _options = options;
        _logger = logger;
        var description = TlsTargets.AuthDirect(address, null).Peer;
        Auth = new GrpcEndpoint(description, WireProtocol.ApiDomain,
            async ct => _identities.TryGetCurrent() ?? await GetAnonymousProfileAsync(ct).ConfigureAwait(false),
            OpenAsync, options);
        Anonymous = new GrpcEndpoint(description, WireProtocol.ApiDomain, GetAnonymousProfileAsync, OpenAsync, options);
    }

    /// <summary>Auth with the current identity, or unauthenticated before the first join.</summary>
    public GrpcEndpoint Auth { get; }

    /// <summary>Auth without a client certificate (joins: an expired identity must not be presented).</summary>
    public GrpcEndpoint Anonymous { get; }

    /// <summary>Closes every endpoint.</summary>
    public void Dispose()
    {
        Auth.Dispose();
        Anonymous.Dispose();
    }

    private Task<Stream> OpenAsync(ConnectionProfile profile, CancellationToken cancellationToken) =>
        EndpointStreams.TcpTlsAsync(_address, TlsTargets.AuthDirect(_address, profile.Identity?.ClusterName), profile, _options, _logger, cancellationToken);

    private async ValueTask<ConnectionProfile> GetAnonymousProfileAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _anonymous) is { } ready)
        {
            return ready;
        }

        await _bootstrapLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_anonymous is null)
            {
                var trust = await BootstrapTrustAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _anonymous, new ConnectionProfile(null, trust));
            }

            return _anonymous!;
        }
        finally
        {
            _bootstrapLock.Release();
        }
    }

    private async Task<ServerTrust> BootstrapTrustAsync(CancellationToken cancellationToken)
    {
        var peer = $"Auth at {_address}";
        if (_options.Insecure)
        {
            WireLog.InsecureMode(_logger, peer);
            return ServerTrust.Insecure;
        }

        if (_options.CaPath is { } path)
        {
            string pem;
            try
            {
                pem = await BoundedFile.ReadAllTextAsync(path, InputLimits.PemFileBytes, "Auth CA file (ca_path)", cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TeleportFormatException)
            {
                // Teleport falls back to insecure here; this client never implies insecure.
                throw new CertificateValidationException(CertificateValidationFailure.UntrustedAuthority,
                    $"Cannot read the Auth CA file ca_path '{path}' ({ex.Message}); without it {peer} cannot be verified.", ex);
            }

            var certificates = IssuedCertificates.ReadPemCertificates(pem, $"ca_path file '{path}'");
            WireLog.CaPathLoaded(_logger, certificates.Count, path);
            return ServerTrust.CustomRoots([.. certificates], $"the CA certificates in ca_path '{path}'", "capath");
        }

        if (_options.CaPins.Count > 0)
        {
            return await PinnedTrustAsync(peer, cancellationToken).ConfigureAwait(false);
        }

        throw new CertificateValidationException(CertificateValidationFailure.UntrustedAuthority,
            $"{peer} cannot be verified before joining: configure onboarding ca_pins (see 'tctl status'), or ca_path, " +
            "or explicitly set insecure (not recommended).");
    }

    private async Task<ServerTrust> PinnedTrustAsync(string peer, CancellationToken cancellationToken)
    {
        var bootstrap = new ConnectionProfile(null, ServerTrust.PinBootstrap);
        using var endpoint = new GrpcEndpoint($"{peer} (CA-pin bootstrap)", WireProtocol.ApiDomain, _ => ValueTask.FromResult(bootstrap), OpenAsync, _options);
        Proto.Legacy.Client.GetClusterCACertResponse response;
        try
        {
            response = await new Proto.Legacy.Client.AuthService.AuthServiceClient(endpoint.Invoker)
                .GetClusterCACertAsync(new Google.Protobuf.WellKnownTypes.Empty(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Grpc.Core.RpcException ex)
        {
            throw WireErrors.FromRpc(ex, "GetClusterCACert (CA-pin bootstrap)", peer);
        }

        List<System.Security.Cryptography.X509Certificates.X509Certificate2> certificates;
        try
        {
            certificates = IssuedCertificates.ReadPemCertificates(response.TLSCA.ToStringUtf8(), "cluster CA certificate");
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportProtocolException($"GetClusterCACert on {peer} returned malformed CA certificates.", ex);
        }

        try
        {
            Crypto.CaPins.Verify(_options.CaPins, certificates, _options.TimeProvider.GetUtcNow());
        }
        catch (CertificateValidationException ex)
        {
            throw new CertificateValidationException(ex.Failure,
                $"The CA certificates of {peer} do not match the configured CA pins: {ex.Message} " +
                "Check the pins with 'tctl status' on the cluster; if they are right, something other than the cluster's Auth answered.", ex);
        }

        WireLog.CaPinsVerified(_logger, certificates.Count, _address);
        return ServerTrust.CustomRoots([.. certificates], "the Auth CA certificates that matched the CA pins", "pinned");
    }
}
