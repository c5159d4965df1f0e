using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Cluster.Joins;
using Teleport.MachineId.Testing.Network;

namespace Teleport.MachineId.Testing.Server;

/// <summary>Which listener a request arrived on.</summary>
internal enum EndpointKind
{
    Unknown,

    /// <summary>The Auth service (Kestrel, TLS from the host CA, optional client certificates).</summary>
    Auth,

    /// <summary>The proxy web endpoint (Kestrel, web certificate), behind the router.</summary>
    Web,

    /// <summary>HTTP/2 behind the router (which terminated TLS) for <c>teleport-proxy-grpc</c> (join services).</summary>
    ProxyGrpc,

    /// <summary>HTTP/2 behind the router (which terminated TLS) for <c>teleport-proxy-ssh-grpc</c> (TransportService).</summary>
    SshGrpc,

    /// <summary>The test OIDC issuer (HTTPS, web certificate): discovery documents and JWKS.</summary>
    Issuer,

    /// <summary>The GitHub Actions runner stand-in (plain HTTP on loopback): the ID token endpoint.</summary>
    ActionsRunner,
}

/// <summary>
/// Everything one running emulator is made of: settings, clock, CAs, cluster state, Auth rules,
/// server certificates, faults, the Kestrel host and the routers. Owned by <see cref="TeleportEmulator"/>.
/// </summary>
internal sealed class EmulatorRuntime : IRouterTargets, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly HttpClient _discoveryClient;
    private AlpnRouter? _webRouter;
    private AlpnRouter? _sshRouter;
    private EmulatorWebHost? _host;

    private EmulatorRuntime(EmulatorSettings settings, SkewedTimeProvider clock, ILoggerFactory loggerFactory,
        CertificateAuthorities authorities, ServerCertificates certificates)
    {
        Settings = settings;
        Clock = clock;
        LoggerFactory = loggerFactory;
        Authorities = authorities;
        Certificates = certificates;
        State = new ClusterState(clock);
        Issuer = new CertificateIssuer(settings.ClusterName, authorities);
        _discoveryClient = CreateDiscoveryClient(certificates.WebCa);
        var idTokens = new IdTokenValidator(settings.ClusterName, clock, _discoveryClient, () => ServiceAccountMinter.PublishedKey);
        Auth = new AuthServer(settings.ClusterName, State, Issuer, clock, loggerFactory.CreateLogger("Teleport.MachineId.Testing.Auth"), idTokens);
        BoundKeypairs = new BoundKeypairJoins(Auth, () => Settings.Suite.Name);
        Verifier = new IdentityVerifier(authorities, clock);
    }

    public EmulatorSettings Settings { get; }

    public SkewedTimeProvider Clock { get; }

    public ILoggerFactory LoggerFactory { get; }

    public CertificateAuthorities Authorities { get; }

    public ServerCertificates Certificates { get; }

    public ClusterState State { get; }

    public CertificateIssuer Issuer { get; }

    public AuthServer Auth { get; }

    public IdentityVerifier Verifier { get; }

    /// <summary>The bound keypair join flow (with its join state signing key).</summary>
    public BoundKeypairJoins BoundKeypairs { get; }

    /// <summary>Signs the test OIDC issuer's ID tokens.</summary>
    public JwtMinter IdTokenMinter { get; } = new();

    /// <summary>Signs the Kubernetes stand-in's service account tokens.</summary>
    public JwtMinter ServiceAccountMinter { get; } = new();

    /// <summary>The test OIDC issuer's <c>host:port</c> (HTTPS).</summary>
    public string IssuerHost => HostPort(IPAddress.Loopback.ToString(), IssuerPort);

    /// <summary>The GitHub Actions runner stand-in's <c>host:port</c> (HTTP).</summary>
    public string ActionsRunnerHost => HostPort(IPAddress.Loopback.ToString(), ActionsRunnerPort);

    public int IssuerPort { get; private set; }

    public int ActionsRunnerPort { get; private set; }

    /// <summary>Set by <see cref="TeleportEmulator"/>: the public face of the issuer (jobs live there).</summary>
    public EmulatorOidcIssuer? OidcIssuer { get; set; }

    public FaultState Faults { get; } = new();

    public CaEventBroadcaster Events { get; } = new();

    /// <summary>How the routers hand terminated connections to Kestrel (no loopback hop).</summary>
    public InProcessTransport Transport { get; } = new();

    public InProcessEndPoint ProxyGrpcEndPoint { get; } = new("teleport-proxy-grpc");

    public InProcessEndPoint SshGrpcEndPoint { get; } = new("teleport-proxy-ssh-grpc");

    public ConnectionTracker AuthConnections { get; } = new();

    /// <summary>Cancelled when the emulator stops, so long-running streams end promptly.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public int AuthPort { get; private set; }

    public int WebPort { get; private set; }

    public int ProxyPort => _webRouter?.Port ?? 0;

    public int SshProxyPort => Settings.TlsRoutingEnabled ? ProxyPort : _sshRouter?.Port ?? 0;

    public bool UnifiedJoinEnabled => Settings.JoinApis == EmulatorJoinApis.LegacyAndUnified;

    public string ProxyAddress => HostPort(Settings.PublicHostName, ProxyPort);

    /// <summary>The address the proxy advertises (<c>public_addr</c>, <c>proxy_public_addr</c>): a load balancer's when configured.</summary>
    public string PublicProxyAddress => Settings.PublicProxyAddress ?? ProxyAddress;

    /// <summary>The web port's router; connections upgraded on the web endpoint are handed to it.</summary>
    public AlpnRouter WebRouter => _webRouter ?? throw new InvalidOperationException("The emulator has not started.");

    public string SshProxyAddress => HostPort(Settings.PublicHostName, SshProxyPort);

    public string AuthAddress => HostPort(ReachableListenAddress().ToString(), AuthPort);

    bool IRouterTargets.TlsRoutingEnabled => Settings.TlsRoutingEnabled;

    string IRouterTargets.ClusterName => Settings.ClusterName;

    bool IRouterTargets.AuthOnline => Faults.AuthOnline;

    bool IRouterTargets.ProxyOnline => Faults.ProxyOnline;

    X509Certificate2 IRouterTargets.WebCertificate => Certificates.Web;

    X509Certificate2 IRouterTargets.ProxyCertificate => Certificates.Proxy;

    public static async Task<EmulatorRuntime> StartAsync(TeleportEmulatorOptions options, CancellationToken cancellationToken)
    {
        var settings = EmulatorSettings.From(options);
        var clock = new SkewedTimeProvider(options.TimeProvider ?? TimeProvider.System);
        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var now = clock.GetUtcNow();

        // Key generation dominates start-up: CAs (in parallel among themselves) and the web PKI at once.
        var authoritiesTask = CertificateAuthorities.CreateAsync(settings.ClusterName, settings.Suite, clock, cancellationToken);
        var webTask = Task.Run(() => ServerCertificates.CreateWeb(settings.ClusterName, settings.ServerNames, now), cancellationToken);
        var authorities = await authoritiesTask.ConfigureAwait(false);
        var (webCa, web) = await webTask.ConfigureAwait(false);
        ServerCertificates certificates;
        try
        {
            certificates = ServerCertificates.Create(webCa, web, settings.ServerNames, new CertificateIssuer(settings.ClusterName, authorities), now);
        }
        catch
        {
            authorities.Dispose();
            webCa.Dispose();
            web.Dispose();
            throw;
        }

        var runtime = new EmulatorRuntime(settings, clock, loggerFactory, authorities, certificates);
        try
        {
            await runtime.StartNetworkAsync(cancellationToken).ConfigureAwait(false);
            return runtime;
        }
        catch
        {
            await runtime.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public EndpointKind EndpointOf(int localPort)
    {
        if (localPort == AuthPort)
        {
            return EndpointKind.Auth;
        }

        if (localPort == WebPort)
        {
            return EndpointKind.Web;
        }

        if (localPort == IssuerPort)
        {
            return EndpointKind.Issuer;
        }

        if (localPort == ActionsRunnerPort)
        {
            return EndpointKind.ActionsRunner;
        }

        return EndpointKind.Unknown;
    }

    public EndpointKind EndpointOf(InProcessEndPoint endpoint) =>
        endpoint == ProxyGrpcEndPoint ? EndpointKind.ProxyGrpc
        : endpoint == SshGrpcEndPoint ? EndpointKind.SshGrpc
        : EndpointKind.Unknown;

    public bool VerifyUserCertificate(X509Certificate2 certificate) =>
        Verifier.IsTrustedAndCurrent(certificate, [CertificateAuthorityType.User]);

    /// <summary>Advances a CA rotation, reissues server certificates when needed, and tells watchers.</summary>
    public async Task<CertificateAuthorityRotationPhase> AdvanceRotationAsync(CertificateAuthorityType type, CancellationToken cancellationToken)
    {
        var snapshot = await Authorities.AdvanceRotationAsync(type, cancellationToken).ConfigureAwait(false);
        Verifier.Invalidate();
        if (type == CertificateAuthorityType.Host && snapshot.Phase == CertificateAuthorityRotationPhase.UpdateServers)
        {
            Certificates.ReissueHostCertificates(Issuer, Clock.GetUtcNow());
        }

        State.Audit("cert_authority.rotation", success: true, user: null,
            $"{snapshot.TypeName} CA rotation phase {snapshot.PhaseName}", ("ca_type", snapshot.TypeName), ("phase", snapshot.PhaseName));
        Events.Publish(snapshot);
        return snapshot.Phase;
    }

    /// <summary>Proxy offline: its listeners refuse new connections and every open proxy connection is reset.</summary>
    public void SetProxyOnline(bool online)
    {
        Faults.SetProxyOffline(!online);
        if (!online)
        {
            _webRouter?.ResetAll();
            _sshRouter?.ResetAll();
        }
    }

    public void SetAuthOnline(bool online)
    {
        Faults.SetAuthOffline(!online);
        if (!online)
        {
            AuthConnections.AbortAll();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_webRouter is not null)
        {
            await _webRouter.DisposeAsync().ConfigureAwait(false);
        }

        if (_sshRouter is not null)
        {
            await _sshRouter.DisposeAsync().ConfigureAwait(false);
        }

        if (_host is not null)
        {
            await _host.DisposeAsync().ConfigureAwait(false);
        }

        Certificates.Dispose();
        Authorities.Dispose();
        BoundKeypairs.Dispose();
        IdTokenMinter.Dispose();
        ServiceAccountMinter.Dispose();
        _discoveryClient.Dispose();
        _stopping.Dispose();
    }

    private async Task StartNetworkAsync(CancellationToken cancellationToken)
    {
        var routerLogger = LoggerFactory.CreateLogger("Teleport.MachineId.Testing.Router");
        _webRouter = AlpnRouter.Bind(new IPEndPoint(Settings.ListenAddress, Settings.ProxyPort), RouterRole.Web, this, routerLogger);
        if (!Settings.TlsRoutingEnabled)
        {
            _sshRouter = AlpnRouter.Bind(new IPEndPoint(Settings.ListenAddress, Settings.SshProxyPort), RouterRole.SshProxy, this, routerLogger);
        }

        _host = await EmulatorWebHost.StartAsync(this, cancellationToken).ConfigureAwait(false);
        AuthPort = _host.AuthPort;
        WebPort = _host.WebPort;
        IssuerPort = _host.IssuerPort;
        ActionsRunnerPort = _host.ActionsRunnerPort;
        _webRouter.Start();
        _sshRouter?.Start();
    }

    /// <summary>
    /// The client Auth uses for OIDC discovery: the operating system's trust store, plus the web CA
    /// that issued the test issuer's certificate (an admin's self-hosted GitLab or GHES would be
    /// trusted the same way, through the system store).
    /// </summary>
    private static HttpClient CreateDiscoveryClient(X509Certificate2 webCa)
    {
        var trusted = X509CertificateLoader.LoadCertificate(webCa.RawData);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (errors == System.Net.Security.SslPolicyErrors.None)
                    {
                        return true;
                    }

                    if (certificate is null || (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    chain.ChainPolicy.CustomTrustStore.Add(trusted);
                    return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    private IPAddress ReachableListenAddress() =>
        Settings.ListenAddress.Equals(IPAddress.Any) ? IPAddress.Loopback
        : Settings.ListenAddress.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback
        : Settings.ListenAddress;

    private static string HostPort(string host, int port) =>
        (host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host) + ":" + port.ToString(CultureInfo.InvariantCulture);
}
