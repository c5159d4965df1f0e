using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire.Discovery;
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

        var joinTarget = TlsTargets.ProxyJoinGrpc(proxy);
        Join = new GrpcEndpoint(joinTarget.Peer, proxy.ToString(), _ => ValueTask.FromResult(anonymous),
            (profile, ct) => EndpointStreams.TcpTlsAsync(proxy, joinTarget, profile, options, logger, ct), options);

        var transportTarget = TlsTargets.ProxyTransport(sshProxy);
        Transport = new GrpcEndpoint(transportTarget.Peer, sshProxy.ToString(), _ => ValueTask.FromResult(identities.GetCurrent(transportTarget.Peer)),
            (profile, ct) => EndpointStreams.TcpTlsAsync(sshProxy, transportTarget, profile, options, logger, ct), options,
            InputLimits.ProxySshFrameBytes);

        if (discovery.TlsRoutingEnabled)
        {
            var authTarget = TlsTargets.AuthViaTlsRouting(proxy, cluster);
            Auth = new GrpcEndpoint(authTarget.Peer, authTarget.ServerName, _ => ValueTask.FromResult(identities.GetCurrent(authTarget.Peer)),
                (profile, ct) => EndpointStreams.TcpTlsAsync(proxy, authTarget, profile, options, logger, ct), options);
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
