using System.Runtime.CompilerServices;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Connections;
using Teleport.MachineId.Wire.Discovery;
using Teleport.MachineId.Wire.Join;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Streams;
using ClusterConfigService = Teleport.MachineId.Wire.Proto.ClusterConfig.V1.ClusterConfigService;
using TrustService = Teleport.MachineId.Wire.Proto.Trust.V1.TrustService;

namespace Teleport.MachineId.Wire;

/// <summary>
/// The SDK's client of one Teleport cluster: discovery, token join, and the Auth and proxy calls a
/// bot needs, with typed results and Teleport's exact wire behaviour. Internal; higher layers
/// (identity lifecycle, outputs) build on it.
/// </summary>
/// <remarks>
/// <para>Create one per cluster and keep it: it owns one pooled HTTP/2 channel per endpoint. The
/// client certificate is not fixed at construction: before each call the identity provider is read
/// and the call goes to connections authenticated with that identity, so after a renewal simply
/// make the provider return the new identity.</para>
/// <para>Nothing touches the network until the first call. With a proxy address, the first call
/// runs <c>/webapi/find</c> (cached for the client's lifetime; a failed discovery is retried by the
/// next call). Thread-safe.</para>
/// <para>Errors: every method throws the public <see cref="TeleportException"/> subtypes —
/// <see cref="TeleportAccessDeniedException"/>, <see cref="TeleportNotFoundException"/>,
/// <see cref="TeleportConnectionException"/> (transient), <see cref="TeleportJoinException"/>,
/// <see cref="TeleportProtocolException"/>, <see cref="CertificateValidationException"/> — or
/// <see cref="OperationCanceledException"/> when the caller cancels.</para>
/// </remarks>
internal sealed class TeleportWireClient : IAsyncDisposable, IDisposable
{
    private const string CertAuthorityKind = "cert_authority";

    private readonly WireClientOptions _options;
    private readonly IdentityProfiles _identities;
    private readonly ILogger _logger;
    private readonly ClusterRouteSelector _routes;
    private int _disposed;

    private TeleportWireClient(WireClientOptions options, Func<WireIdentity?> identityProvider)
    {
        _options = options;
        _identities = new IdentityProfiles(identityProvider);
        _logger = options.LoggerFactory.CreateLogger("Teleport.MachineId.Wire");
        _routes = new ClusterRouteSelector(options, _identities, _logger);
    }

    /// <summary>Creates a client. No connection is made yet.</summary>
    /// <param name="options">Where the cluster is and how to trust it.</param>
    /// <param name="identityProvider">Returns the current identity (or <see langword="null"/> before the first join); called before every call, must be cheap.</param>
    /// <returns>The client; dispose it when done.</returns>
    /// <exception cref="ArgumentException">The options are inconsistent.</exception>
    public static TeleportWireClient Create(WireClientOptions options, Func<WireIdentity?> identityProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(identityProvider);
        options.Validate();
        return new TeleportWireClient(options, identityProvider);
    }

    /// <summary>The options this client was created with.</summary>
    public WireClientOptions Options => _options;

    /// <summary>
    /// What the proxy says about the cluster (<c>/webapi/find</c>): name, version, TLS routing, SSH
    /// proxy address, signature algorithm suite. With an <c>auth_server</c> reached as the Auth
    /// Service, the proxy is found through Auth's <c>Ping</c> first.
    /// </summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The discovery (cached after the first success).</returns>
    /// <exception cref="TeleportException">Discovery failed (see the class remarks for subtypes).</exception>
    public async Task<ClusterDiscovery> DiscoverAsync(CancellationToken cancellationToken = default) =>
        (await GetProxyRouteAsync("Discovery", cancellationToken).ConfigureAwait(false)).Discovery;

    /// <summary>
    /// Whether connections to the proxy's SSH transport address go through the ALPN connection upgrade
    /// (a TLS-routing proxy behind an L7 load balancer; Teleport's test or its environment override).
    /// tbot writes <c>--connection-upgrade</c> into ssh_config from this.
    /// </summary>
    /// <param name="cancellationToken">Cancels the test.</param>
    /// <returns>Whether the upgrade is used; always false without TLS routing.</returns>
    /// <exception cref="TeleportException">Discovery failed.</exception>
    public async Task<bool> IsConnectionUpgradeRequiredAsync(CancellationToken cancellationToken = default)
    {
        var route = await GetProxyRouteAsync("Connection-upgrade test", cancellationToken).ConfigureAwait(false);
        return route.Discovery.TlsRoutingEnabled
            && await route.Dialer.IsUpgradeRequiredAsync(route.Discovery.SshProxyAddress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Joins the cluster with a bot token: the unified join service first; when the server does
    /// not have it, the legacy API (proxy HTTP, or <c>RegisterUsingToken</c> on a direct Auth).
    /// Keys are generated for the cluster's signature algorithm suite.
    /// </summary>
    /// <param name="token">The join token (secret; never logged).</param>
    /// <param name="credentialTtl">Requested lifetime of the bot certificates (tbot <c>credential_ttl</c>).</param>
    /// <param name="cancellationToken">Cancels the join.</param>
    /// <returns>The key and certificates; store them durably before use.</returns>
    /// <exception cref="ArgumentException">The token is empty or the lifetime not positive.</exception>
    /// <exception cref="TeleportJoinException">The cluster refused the token.</exception>
    /// <exception cref="TeleportConnectionException">The cluster could not be reached.</exception>
    /// <exception cref="CertificateValidationException">The server could not be verified (proxy certificate, CA pins).</exception>
    /// <exception cref="TeleportProtocolException">The server broke the protocol.</exception>
    public async Task<JoinResult> JoinWithTokenAsync(string token, TimeSpan credentialTtl, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(credentialTtl, TimeSpan.Zero);
        ThrowIfDisposed();
        var expires = _options.TimeProvider.GetUtcNow() + credentialTtl;
        var result = await _routes.RunAsync("Join", (route, ct) => JoinWithTokenOnAsync(route, token, expires, ct), cancellationToken).ConfigureAwait(false);
        LogJoined(result);
        return result;
    }

    /// <summary>
    /// Joins with an OIDC-style method (<c>github</c>, <c>gitlab</c>, <c>kubernetes</c>) as tbot 18
    /// does: <c>RegisterUsingToken</c> with the <c>IDToken</c>. A first join goes through the proxy's
    /// <c>POST /webapi/host/credentials</c> (or <c>RegisterUsingToken</c> on a direct Auth address); a
    /// re-join (<paramref name="presentIdentity"/>) calls <c>RegisterUsingToken</c> on Auth over the
    /// connection authenticated by the current identity, so the cluster keeps the bot instance.
    /// </summary>
    /// <param name="tokenName">The token resource's name (not a secret).</param>
    /// <param name="idToken">The ID token (secret; never logged).</param>
    /// <param name="credentialTtl">Requested lifetime of the bot certificates.</param>
    /// <param name="presentIdentity">Re-join with the current identity (there must be one).</param>
    /// <param name="cancellationToken">Cancels the join.</param>
    /// <returns>The key and certificates (not renewable); store them durably before use.</returns>
    /// <exception cref="TeleportJoinException">The cluster refused the ID token (the message says why).</exception>
    /// <exception cref="TeleportConnectionException">The cluster could not be reached.</exception>
    /// <exception cref="TeleportProtocolException">The server broke the protocol.</exception>
    public async Task<JoinResult> JoinWithIdTokenAsync(string tokenName, string idToken, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenName);
        ArgumentException.ThrowIfNullOrEmpty(idToken);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(credentialTtl, TimeSpan.Zero);
        ThrowIfDisposed();
        var expires = _options.TimeProvider.GetUtcNow() + credentialTtl;
        if (presentIdentity)
        {
            RequireIdentity("A re-join presenting the current identity");
        }

        var result = await _routes.RunAsync("Join", async (route, ct) =>
        {
            if (!presentIdentity)
            {
                var where = route.Candidate.Address + " " + route.Candidate.Description;
                WireLog.JoinStarted(_logger, where);
                return await route.JoinLegacyAsync(tokenName, expires, idToken, ct).ConfigureAwait(false);
            }

            var endpoint = await route.GetAuthAsync(ct).ConfigureAwait(false);
            WireLog.JoinStarted(_logger, endpoint.Description);
            var ping = await UnaryCall.PingAsync(endpoint, _options, _logger, ct).ConfigureAwait(false);
            return await TokenJoin.JoinLegacyGrpcAsync(endpoint.Invoker, endpoint.Description, ping.SignatureAlgorithmSuite, tokenName, expires, _logger, ct, idToken)
                .ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        LogJoined(result);
        return result;
    }

    /// <summary>
    /// Joins with the <c>bound_keypair</c> method as tbot 18 does: over <c>teleport.join.v1.JoinService/Join</c>,
    /// and when the server does not implement it (Teleport 18.0/18.1) over the legacy
    /// <c>proto.JoinService/RegisterUsingBoundKeypairMethod</c> stream on the same endpoint. Every join
    /// tries the unified service first, so a cluster upgraded meanwhile is used as such. A first join or a
    /// recovery goes through the proxy's join gRPC (or a direct Auth address) without client certificate;
    /// a re-join (<paramref name="presentIdentity"/>) goes to Auth authenticated by the current identity,
    /// so the cluster keeps the bot instance and no recovery is consumed.
    /// </summary>
    /// <param name="parameters">Token name, registration secret, previous join state and the keys.</param>
    /// <param name="credentialTtl">Requested lifetime of the bot certificates.</param>
    /// <param name="presentIdentity">Re-join with the current identity (there must be one).</param>
    /// <param name="cancellationToken">Cancels the join.</param>
    /// <returns>The identity, the bound key and the new join state; store them durably before use.</returns>
    /// <exception cref="TeleportJoinException">The cluster refused the join (the message says why).</exception>
    /// <exception cref="TeleportConnectionException">The cluster could not be reached.</exception>
    /// <exception cref="TeleportProtocolException">The server broke the protocol, or serves neither bound keypair join.</exception>
    public async Task<BoundKeypairJoinOutcome> JoinWithBoundKeypairAsync(
        BoundKeypairJoinParameters parameters, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(credentialTtl, TimeSpan.Zero);
        ThrowIfDisposed();
        var expires = _options.TimeProvider.GetUtcNow() + credentialTtl;
        if (presentIdentity)
        {
            RequireIdentity("A re-join presenting the current identity");
        }

        var outcome = await _routes.RunAsync("Join", async (route, ct) =>
        {
            var endpoint = presentIdentity ? await route.GetAuthAsync(ct).ConfigureAwait(false) : await route.GetJoinEndpointAsync(ct).ConfigureAwait(false);
            WireLog.JoinStarted(_logger, endpoint.Description);
            try
            {
                return await BoundKeypairJoin.JoinAsync(endpoint.Invoker, endpoint.Description, parameters, expires, _logger, ct).ConfigureAwait(false);
            }
            catch (TokenJoin.UnifiedJoinUnavailableException)
            {
                WireLog.JoinFallback(_logger, endpoint.Description, BoundKeypairJoin.LegacyOperation);

                // The keys are made before the stream opens, for the suite the route reports (Ping on the authenticated Auth for a re-join).
                var suite = presentIdentity
                    ? (await UnaryCall.PingAsync(endpoint, _options, _logger, ct).ConfigureAwait(false)).SignatureAlgorithmSuite
                    : await route.GetJoinSuiteAsync(ct).ConfigureAwait(false);
                return await BoundKeypairJoin.JoinLegacyAsync(endpoint.Invoker, endpoint.Description, suite, parameters, expires, _logger, ct).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
        LogJoined(outcome.Join);
        return outcome;
    }

    private void LogJoined(JoinResult result)
    {
        var identity = result.Certificates.TlsIdentity!;
        WireLog.JoinSucceeded(_logger, identity.Username, identity.BotInstanceId ?? "none", identity.Generation, identity.SerialNumber, identity.NotAfter, result.Api);
    }

    /// <summary>
    /// <c>proto.AuthService/GenerateUserCerts</c> on the current identity's connection: bot
    /// renewal (<see cref="UserCertificateRequest.ForBotRenewal"/>) or an impersonated output
    /// identity (<see cref="UserCertificateRequest.ForImpersonation"/>).
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The issued certificates.</returns>
    /// <exception cref="InvalidOperationException">There is no identity yet.</exception>
    /// <exception cref="TeleportAccessDeniedException">Denied: no permission, expired or locked identity, or a renewal generation mismatch (the bot is then locked).</exception>
    /// <exception cref="TeleportException">Another failure (see the class remarks).</exception>
    public Task<IssuedCertificates> GenerateUserCertsAsync(UserCertificateRequest request, CancellationToken cancellationToken = default) =>
        GenerateUserCertsAsync(request, null, cancellationToken);

    /// <summary>
    /// <c>GenerateUserCerts</c> with a hook awaited immediately before the request leaves: after the
    /// route is resolved and the request message built, so a failure before the hook ran proves
    /// nothing was sent (a bot renewal makes its in-flight record durable there).
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="beforeSend">Awaited just before sending; its exception ends the call unsent. <see langword="null"/> for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The issued certificates.</returns>
    /// <exception cref="InvalidOperationException">There is no identity yet.</exception>
    /// <exception cref="TeleportAccessDeniedException">Denied: no permission, expired or locked identity, or a renewal generation mismatch (the bot is then locked).</exception>
    /// <exception cref="TeleportException">Another failure (see the class remarks).</exception>
    public async Task<IssuedCertificates> GenerateUserCertsAsync(UserCertificateRequest request, Func<CancellationToken, Task>? beforeSend, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequireIdentity("GenerateUserCerts");
        const string operation = "GenerateUserCerts";
        var message = ProtoModels.ToProto(request);
        using var activity = MachineIdActivities.Source.StartActivity(MachineIdActivities.GenerateUserCerts);
        return await OnAuthAsync(operation, async (auth, ct) =>
        {
            var client = new AuthService.AuthServiceClient(auth.Invoker);
            if (beforeSend is not null)
            {
                // Whatever runs for the first time after the hook widens the window in which a crash
                // leaves a record of a request that never left: run it now (the service's method
                // descriptors and message parsers, the request's serializer), so after the hook only
                // warm code runs before the bytes reach the socket. The hook runs again if this
                // route fails before sending and another route is tried.
                RuntimeHelpers.RunClassConstructor(typeof(AuthService).TypeHandle);
                Google.Protobuf.MessageExtensions.WriteTo(message, new System.Buffers.ArrayBufferWriter<byte>(message.CalculateSize()));
                await beforeSend(ct).ConfigureAwait(false);
            }

            var certs = await UnaryAsync(auth, operation, (_, options) => client.GenerateUserCertsAsync(message, options), ct).ConfigureAwait(false);
            return IssuedCertificates.FromProto(certs, $"{operation} on {auth.Description}");
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>proto.AuthService/GetClusterCACert</c>: the host CA TLS certificates (active and additional).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The certificates.</returns>
    /// <exception cref="TeleportException">The call failed (see the class remarks).</exception>
    public async Task<IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2>> GetClusterCaCertificatesAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        const string operation = "GetClusterCACert";
        return await OnAuthAsync<IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2>>(operation, async (auth, ct) =>
        {
            var response = await UnaryAsync(auth, operation,
                (invoker, options) => new AuthService.AuthServiceClient(invoker).GetClusterCACertAsync(new Google.Protobuf.WellKnownTypes.Empty(), options), ct)
                .ConfigureAwait(false);
            try
            {
                return IssuedCertificates.ReadPemCertificates(response.TLSCA.ToStringUtf8(), "cluster CA certificate");
            }
            catch (TeleportFormatException ex)
            {
                throw new TeleportProtocolException($"{operation} on {auth.Description} returned malformed certificates.", ex);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>teleport.trust.v1.TrustService/GetCertAuthorities</c> without private keys.</summary>
    /// <param name="type">CA type (<see cref="CertAuthorityTypes"/>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The CAs of that type (local and trusted clusters).</returns>
    /// <exception cref="TeleportException">The call failed (see the class remarks).</exception>
    public async Task<IReadOnlyList<CertAuthority>> GetCertAuthoritiesAsync(string type, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        RequireIdentity("This call");
        var operation = $"TrustService.GetCertAuthorities({type})";
        return await OnAuthAsync<IReadOnlyList<CertAuthority>>(operation, async (auth, ct) =>
        {
            var response = await UnaryAsync(auth, operation,
                (invoker, options) => new TrustService.TrustServiceClient(invoker).GetCertAuthoritiesAsync(
                    new Proto.Trust.V1.GetCertAuthoritiesRequest { Type = type, IncludeKey = false }, options), ct).ConfigureAwait(false);
            return [.. response.CertAuthoritiesV2.Select(ca => ProtoModels.ToCertAuthority(ca, $"{operation} on {auth.Description}"))];
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>teleport.trust.v1.TrustService/GetCertAuthority</c> without private keys.</summary>
    /// <param name="type">CA type (<see cref="CertAuthorityTypes"/>).</param>
    /// <param name="domain">The cluster name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The CA.</returns>
    /// <exception cref="TeleportNotFoundException">No such CA.</exception>
    /// <exception cref="TeleportException">The call failed (see the class remarks).</exception>
    public async Task<CertAuthority> GetCertAuthorityAsync(string type, string domain, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentException.ThrowIfNullOrEmpty(domain);
        RequireIdentity("This call");
        var operation = $"TrustService.GetCertAuthority({type}, {domain})";
        return await OnAuthAsync(operation, async (auth, ct) =>
        {
            var response = await UnaryAsync(auth, operation,
                (invoker, options) => new TrustService.TrustServiceClient(invoker).GetCertAuthorityAsync(
                    new Proto.Trust.V1.GetCertAuthorityRequest { Type = type, Domain = domain, IncludeKey = false }, options), ct).ConfigureAwait(false);
            return ProtoModels.ToCertAuthority(response, $"{operation} on {auth.Description}");
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>teleport.trust.v1.TrustService/GenerateHostCert</c>: the cluster's host CA signs an SSH host key
    /// (tbot's <c>ssh_host</c> output). The caller's roles need a rule allowing <c>create</c> on <c>host_cert</c>.
    /// </summary>
    /// <param name="request">What to certify.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The host certificate.</returns>
    /// <exception cref="TeleportAccessDeniedException">The roles may not create host certificates (for these principals).</exception>
    /// <exception cref="TeleportException">The call failed or the reply is not a host certificate (see the class remarks).</exception>
    public async Task<Ssh.SshCertificate> GenerateHostCertAsync(HostCertificateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequireIdentity("This call");
        const string operation = "TrustService.GenerateHostCert";
        var wire = new Proto.Trust.V1.GenerateHostCertRequest
        {
            Key = Google.Protobuf.ByteString.CopyFromUtf8(request.PublicKey.ToAuthorizedKey() + "\n"),
            HostId = request.HostId ?? string.Empty,
            NodeName = request.NodeName ?? string.Empty,
            ClusterName = request.ClusterName,
            Role = request.Role,
            Ttl = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(request.Ttl),
        };
        wire.Principals.Add(request.Principals);
        return await OnAuthAsync(operation, async (auth, ct) =>
        {
            var response = await UnaryAsync(auth, operation,
                (invoker, options) => new TrustService.TrustServiceClient(invoker).GenerateHostCertAsync(wire, options), ct).ConfigureAwait(false);
            Ssh.SshCertificate certificate;
            try
            {
                certificate = Ssh.SshCertificate.ParseAuthorizedKey(response.SshCertificate.ToStringUtf8().Trim());
            }
            catch (TeleportFormatException ex)
            {
                throw new TeleportProtocolException($"{operation} on {auth.Description} returned a malformed certificate: {ex.Message}", ex);
            }

            if (certificate.Type != Ssh.SshCertificateType.Host || certificate.PublicKey != request.PublicKey)
            {
                throw new TeleportProtocolException($"{operation} on {auth.Description} returned a certificate that is not a host certificate for the key sent.");
            }

            return certificate;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>proto.AuthService/Ping</c>.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The answer.</returns>
    /// <exception cref="TeleportException">The call failed (see the class remarks).</exception>
    public Task<AuthPing> PingAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return OnAuthAsync("Ping", (auth, ct) => UnaryCall.PingAsync(auth, _options, _logger, ct), cancellationToken);
    }

    /// <summary><c>proto.AuthService/GetRole</c> (e.g. the bot's own role <c>bot-&lt;name&gt;</c> for its impersonable roles).</summary>
    /// <param name="name">The role name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The role.</returns>
    /// <exception cref="TeleportNotFoundException">No such role.</exception>
    /// <exception cref="TeleportException">The call failed (see the class remarks).</exception>
    public async Task<RoleInfo> GetRoleAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        RequireIdentity("This call");
        var role = await OnAuthAsync($"GetRole({name})", (auth, ct) => UnaryAsync(auth, $"GetRole({name})",
            (invoker, options) => new AuthService.AuthServiceClient(invoker).GetRoleAsync(new GetRoleRequest { Name = name }, options), ct), cancellationToken)
            .ConfigureAwait(false);
        return ProtoModels.ToRole(role, name);
    }

    /// <summary><c>teleport.clusterconfig.v1.ClusterConfigService/GetAuthPreference</c> (the suite for key generation after joining).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The preference.</returns>
    /// <exception cref="TeleportException">The call failed (see the class remarks).</exception>
    public async Task<AuthPreference> GetAuthPreferenceAsync(CancellationToken cancellationToken = default)
    {
        RequireIdentity("This call");
        const string operation = "ClusterConfigService.GetAuthPreference";
        var preference = await OnAuthAsync(operation, (auth, ct) => UnaryAsync(auth, operation,
            (invoker, options) => new ClusterConfigService.ClusterConfigServiceClient(invoker).GetAuthPreferenceAsync(
                new Proto.ClusterConfig.V1.GetAuthPreferenceRequest(), options), ct), cancellationToken).ConfigureAwait(false);
        return ProtoModels.ToAuthPreference(preference);
    }

    /// <summary>
    /// <c>teleport.machineid.v1.BotInstanceService/SubmitHeartbeat</c>; the server records it
    /// against the bot instance of the calling identity.
    /// </summary>
    /// <param name="heartbeat">The heartbeat.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="false"/> when the cluster does not implement heartbeats (as tbot, ignore it).</returns>
    /// <exception cref="TeleportException">The call failed otherwise (see the class remarks).</exception>
    public async Task<bool> SubmitHeartbeatAsync(BotHeartbeat heartbeat, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        RequireIdentity("This call");
        const string operation = "BotInstanceService.SubmitHeartbeat";
        try
        {
            await OnAuthAsync(operation, (auth, ct) => UnaryAsync(auth, operation,
                (invoker, options) => new Proto.MachineId.V1.BotInstanceService.BotInstanceServiceClient(invoker).SubmitHeartbeatAsync(
                    new Proto.MachineId.V1.SubmitHeartbeatRequest { Heartbeat = ProtoModels.ToProto(heartbeat) }, options), ct), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TeleportProtocolException ex) when (ex.InnerException is RpcException { StatusCode: StatusCode.Unimplemented })
        {
            WireLog.HeartbeatUnsupported(_logger);
            return false;
        }
    }

    /// <summary>
    /// <c>proto.AuthService/WatchEvents</c> for the cluster's host, user and database CAs (what
    /// tbot's CA-rotation watcher subscribes to). The first event is <see cref="WatchOperation.Init"/>.
    /// The sequence ends when the server closes the watch; re-subscribe then.
    /// </summary>
    /// <param name="clusterName">The cluster whose CAs to watch.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>The events.</returns>
    /// <exception cref="TeleportException">The watch failed (see the class remarks).</exception>
    public async IAsyncEnumerable<CertAuthorityEvent> WatchCertAuthoritiesAsync(string clusterName, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName);
        RequireIdentity("This call");
        const string operation = "WatchEvents(cert_authority)";

        // The route is chosen when the watch starts; a watch that ends is re-subscribed by the caller.
        var auth = await _routes.RunAsync(operation, async (route, ct) => await route.GetAuthAsync(ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        var kind = new Proto.Legacy.Types.WatchKind { Kind = CertAuthorityKind };
        kind.Filter.Add(CertAuthorityTypes.Host, clusterName);
        kind.Filter.Add(CertAuthorityTypes.User, clusterName);
        kind.Filter.Add(CertAuthorityTypes.Database, clusterName);
        var watch = new Watch();
        watch.Kinds.Add(kind);
        using var call = new AuthService.AuthServiceClient(auth.Invoker).WatchEvents(watch, cancellationToken: cancellationToken);
        WireLog.WatchStarted(_logger, clusterName, auth.Description);
        while (true)
        {
            bool more;
            try
            {
                more = await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                WireLog.CallFailed(_logger, operation, auth.Description, ex.StatusCode);
                throw WireErrors.FromRpc(ex, operation, auth.Description);
            }

            if (!more)
            {
                yield break;
            }

            if (ToEvent(call.ResponseStream.Current, $"{operation} on {auth.Description}") is { } item)
            {
                yield return item;
            }
        }
    }

    /// <summary>
    /// Opens <c>TransportService.ProxySSH</c> to <paramref name="hostPort"/>: a byte stream to the
    /// node's SSH server through the proxy (the SSH handshake is end to end).
    /// </summary>
    /// <param name="hostPort">The target <c>host:port</c> (node name, address or UUID; ssh_config uses port 3022).</param>
    /// <param name="cluster">The node's cluster; <see langword="null"/> for the identity's cluster.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The stream; dispose it to close the connection.</returns>
    /// <exception cref="InvalidOperationException">There is no identity yet.</exception>
    /// <exception cref="TeleportException">The proxy refused or could not reach the node (see the class remarks).</exception>
    public async Task<ProxySshStream> OpenSshAsync(string hostPort, string? cluster = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostPort);
        var identity = RequireIdentity("TransportService.ProxySSH");
        const string operation = "TransportService.ProxySSH";
        return await _routes.RunAsync(operation, async (route, ct) =>
        {
            var proxy = await route.GetProxyAsync(ct).ConfigureAwait(false);
            return await ProxySshStream.OpenAsync(proxy.Transport.Invoker, hostPort, cluster ?? identity.ClusterName, _options.TransportFrameSize,
                proxy.Transport.Description, _logger, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>TransportService.GetClusterDetails</c> on the proxy (a cheap authenticated ping of the transport path).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether the cluster runs in FIPS mode.</returns>
    /// <exception cref="TeleportException">The call failed (see the class remarks).</exception>
    public async Task<bool> GetClusterDetailsAsync(CancellationToken cancellationToken = default)
    {
        RequireIdentity("TransportService.GetClusterDetails");
        const string operation = "TransportService.GetClusterDetails";
        var response = await _routes.RunAsync(operation, async (route, ct) =>
        {
            var proxy = await route.GetProxyAsync(ct).ConfigureAwait(false);
            return await UnaryAsync(proxy.Transport, operation,
                (invoker, options) => new Proto.Transport.V1.TransportService.TransportServiceClient(invoker).GetClusterDetailsAsync(
                    new Proto.Transport.V1.GetClusterDetailsRequest(), options), ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return response.Details?.FipsEnabled ?? false;
    }

    /// <summary>Closes every connection; calls in flight are cancelled.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _routes.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private static CertAuthorityEvent? ToEvent(Event ev, string source)
    {
        var operation = (WatchOperation)(int)ev.Type;
        switch (ev.ResourceCase)
        {
            case Event.ResourceOneofCase.CertAuthority:
                var ca = ProtoModels.ToCertAuthority(ev.CertAuthority, source);
                return new CertAuthorityEvent(operation, ca, ev.CertAuthority.Kind, ev.CertAuthority.SubKind, ev.CertAuthority.Metadata?.Name ?? ca.ClusterName);
            case Event.ResourceOneofCase.ResourceHeader:
                var header = ev.ResourceHeader;
                return new CertAuthorityEvent(operation, null, header.Kind, header.SubKind, header.Metadata?.Name ?? string.Empty);
            case Event.ResourceOneofCase.None when ev.Type == Operation.Init:
                return new CertAuthorityEvent(WatchOperation.Init, null, string.Empty, string.Empty, string.Empty);
            default:
                // Another resource kind: not part of this watch.
                return null;
        }
    }

    private async Task<JoinResult> JoinWithTokenOnAsync(IClusterRoute route, string token, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        var endpoint = await route.GetJoinEndpointAsync(cancellationToken).ConfigureAwait(false);
        WireLog.JoinStarted(_logger, endpoint.Description);
        try
        {
            return await TokenJoin.JoinUnifiedAsync(endpoint.Invoker, endpoint.Description, token, expires, _logger, cancellationToken).ConfigureAwait(false);
        }
        catch (TokenJoin.UnifiedJoinUnavailableException)
        {
            WireLog.JoinFallback(_logger, endpoint.Description,
                route.Candidate.Role == ClusterAddressRole.Proxy ? "POST /webapi/host/credentials" : "proto.JoinService/RegisterUsingToken");
            return await route.JoinLegacyAsync(token, expires, idToken: null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a call on Auth through the route selector (direct, or through the proxy).</summary>
    private Task<T> OnAuthAsync<T>(string operation, Func<GrpcEndpoint, CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        _routes.RunAsync(operation, async (route, ct) =>
        {
            var auth = await route.GetAuthAsync(ct).ConfigureAwait(false);
            return await call(auth, ct).ConfigureAwait(false);
        }, cancellationToken);

    private async Task<TResponse> UnaryAsync<TResponse>(
        GrpcEndpoint endpoint, string operation, Func<CallInvoker, CallOptions, AsyncUnaryCall<TResponse>> start, CancellationToken cancellationToken)
    {
        try
        {
            return await UnaryCall.RunAsync(endpoint, operation, start, _options, _logger, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Not the caller's cancellation: the client was disposed while the call ran.
            ThrowIfDisposed();
            throw;
        }
    }

    private WireIdentity RequireIdentity(string operation)
    {
        ThrowIfDisposed();
        return _identities.Current ?? throw new InvalidOperationException($"{operation} needs a bot identity; join the cluster first.");
    }

    private async ValueTask<ProxyRoute> GetProxyRouteAsync(string operation, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return await _routes.RunAsync(operation, async (route, ct) => await route.GetProxyAsync(ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed != 0, this);
}
