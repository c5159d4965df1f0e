using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Server;

namespace Teleport.MachineId.Testing;

/// <summary>
/// An in-process Teleport cluster (Auth + Proxy) on real loopback sockets, faithful to Teleport 18's
/// documented wire behaviour: <c>/webapi/find</c>, token joins (legacy HTTP/gRPC and, when enabled, the
/// unified join service), bot identity renewal with generation checks, role impersonation, CA
/// rotation, locks and the proxy's TLS router. Start it, add roles, bots and tokens like <c>tctl</c>,
/// and point the code under test at <see cref="ProxyAddress"/>, trusting <see cref="WebCaCertificate"/>.
/// </summary>
/// <remarks>
/// All members are thread-safe. Dispose the emulator to stop its listeners; certificates it
/// returned stay usable. Errors in resource management raise <see cref="ArgumentException"/> (bad input)
/// or <see cref="InvalidOperationException"/> (conflicts, unknown references).
/// </remarks>
/// <example>
/// <code>
/// await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions(), ct);
/// cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
/// cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
/// var token = cluster.CreateJoinToken("robot");
/// // tbot-like client: proxy_server = cluster.ProxyAddress, token = token.Name, CA bundle = cluster.WebCaCertificatePem
/// </code>
/// </example>
public sealed class TeleportEmulator : IAsyncDisposable
{
    private readonly EmulatorRuntime _runtime;
    private int _disposed;

    private TeleportEmulator(EmulatorRuntime runtime)
    {
        _runtime = runtime;
        Faults = new EmulatorFaults(runtime);
        OidcIssuer = new EmulatorOidcIssuer(runtime);
        runtime.OidcIssuer = OidcIssuer;
        Kubernetes = new EmulatorKubernetesCluster(runtime);
    }

    /// <summary>The cluster name.</summary>
    public string ClusterName => _runtime.Settings.ClusterName;

    /// <summary>The Teleport version the cluster reports.</summary>
    public string ServerVersion => _runtime.Settings.ServerVersion;

    /// <summary>The cluster's signature algorithm suite.</summary>
    public SignatureAlgorithmSuite SignatureAlgorithmSuite => _runtime.Settings.Suite;

    /// <summary>Whether TLS routing (one proxy port) is on.</summary>
    public bool TlsRoutingEnabled => _runtime.Settings.TlsRoutingEnabled;

    /// <summary>Which join APIs are served.</summary>
    public EmulatorJoinApis JoinApis => _runtime.Settings.JoinApis;

    /// <summary>The proxy web address clients configure as <c>proxy_server</c>: <c>&lt;public host&gt;:&lt;port&gt;</c>.</summary>
    public string ProxyAddress => _runtime.ProxyAddress;

    /// <summary>The SSH proxy address (TransportService): the web address with TLS routing, else the separate SSH port.</summary>
    public string SshProxyAddress => _runtime.SshProxyAddress;

    /// <summary>The Auth service address (<c>auth_server</c>), <c>&lt;ip&gt;:&lt;port&gt;</c>.</summary>
    public string AuthAddress => _runtime.AuthAddress;

    /// <summary>The proxy's public host name (also in the web certificate).</summary>
    public string ProxyHost => _runtime.Settings.PublicHostName;

    /// <summary>
    /// The CA that issued the proxy web certificate. The OS trust store does not know it: clients
    /// must trust it as a caller-supplied CA bundle for <c>/webapi/*</c> and <c>teleport-proxy-grpc</c>.
    /// </summary>
    public X509Certificate2 WebCaCertificate => _runtime.Certificates.WebCa;

    /// <summary><see cref="WebCaCertificate"/> as PEM (a CA bundle file's content).</summary>
    public string WebCaCertificatePem => _runtime.Certificates.WebCaPem;

    /// <summary>Injected faults (Auth offline, failing calls, latency, clock skew).</summary>
    public EmulatorFaults Faults { get; }

    /// <summary>
    /// A test OIDC identity provider on loopback (a GitHub Enterprise Server / self-hosted GitLab
    /// stand-in) that mints ID tokens and serves the GitHub Actions runner's token endpoint.
    /// </summary>
    public EmulatorOidcIssuer OidcIssuer { get; }

    /// <summary>A stand-in for the Kubernetes cluster a bot's pod runs in: service account tokens and their JWKS.</summary>
    public EmulatorKubernetesCluster Kubernetes { get; }

    /// <summary>The emulator's clock (the configured <see cref="TimeProvider"/> plus any injected skew).</summary>
    public TimeProvider TimeProvider => _runtime.Clock;

    /// <summary>Starts a cluster: generates the CAs for the suite, binds the listeners, and serves.</summary>
    /// <param name="options">How to set it up; defaults when null.</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <returns>The running emulator; dispose it to stop.</returns>
    /// <exception cref="ArgumentException">An option is invalid (cluster name, version, suite, host name or port).</exception>
    /// <exception cref="System.Net.Sockets.SocketException">A configured port is in use.</exception>
    /// <exception cref="IOException">A listener could not be bound.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<TeleportEmulator> StartAsync(TeleportEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        var runtime = await EmulatorRuntime.StartAsync(options ?? new TeleportEmulatorOptions(), cancellationToken).ConfigureAwait(false);
        return new TeleportEmulator(runtime);
    }

    // ---------------------------------------------------------------- CA material

    /// <summary>The trusted TLS certificates of a CA: active keys first, then additional trusted keys (rotation).</summary>
    /// <param name="type">The CA.</param>
    /// <returns>New certificate instances; the caller disposes them.</returns>
    public IReadOnlyList<X509Certificate2> GetCertificateAuthorityCertificates(CertificateAuthorityType type) =>
        _runtime.Authorities[type].Trusted.Select(k => X509CertificateLoader.LoadCertificate(k.TlsCertificate.RawData)).ToArray();

    /// <summary>The trusted TLS certificates of a CA as concatenated PEM.</summary>
    /// <param name="type">The CA.</param>
    /// <returns>PEM text.</returns>
    public string GetCertificateAuthorityPem(CertificateAuthorityType type) =>
        string.Concat(_runtime.Authorities[type].Trusted.Select(k => k.TlsCertificatePem));

    /// <summary>The trusted SSH public keys of a CA (active, then additional); empty for the database CA.</summary>
    /// <param name="type">The CA.</param>
    /// <returns>The keys.</returns>
    public IReadOnlyList<PublicKeyInfo> GetCertificateAuthoritySshKeys(CertificateAuthorityType type) =>
        _runtime.Authorities[type].Trusted.Where(k => k.Ssh is not null).Select(k => k.Ssh!.PublicKey).ToArray();

    /// <summary>The CA pins of the host CA (<c>sha256:&lt;hex&gt;</c>, as <c>tctl status</c> prints), for direct Auth joins.</summary>
    /// <returns>One pin per trusted host CA certificate.</returns>
    public IReadOnlyList<string> GetCaPins() =>
        _runtime.Authorities[CertificateAuthorityType.Host].Trusted.Select(k => CaPins.Compute(k.TlsCertificate)).ToArray();

    /// <summary>
    /// Moves a CA to its next manual rotation phase: standby → init (new keys added as additional trusted)
    /// → update_clients (new keys sign, old still trusted) → update_servers (Auth/Proxy certificates
    /// reissued for the host CA) → standby (old keys removed). Each step is sent to <c>WatchEvents</c>
    /// subscribers as a <c>cert_authority</c> PUT.
    /// </summary>
    /// <param name="type">The CA to rotate.</param>
    /// <param name="cancellationToken">Cancels key generation.</param>
    /// <returns>The phase the CA is now in.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<CertificateAuthorityRotationPhase> AdvanceRotationAsync(CertificateAuthorityType type, CancellationToken cancellationToken = default) =>
        _runtime.AdvanceRotationAsync(type, cancellationToken);

    /// <summary>The current rotation phase of a CA.</summary>
    /// <param name="type">The CA.</param>
    /// <returns>The phase.</returns>
    public CertificateAuthorityRotationPhase GetRotationPhase(CertificateAuthorityType type) => _runtime.Authorities[type].Phase;

    // ---------------------------------------------------------------- resources

    /// <summary>Creates or replaces a role (<c>tctl create -f role.yaml</c>).</summary>
    /// <param name="role">The role.</param>
    /// <exception cref="ArgumentException">The role has no name.</exception>
    public void UpsertRole(EmulatorRole role)
    {
        ArgumentNullException.ThrowIfNull(role);
        ArgumentException.ThrowIfNullOrWhiteSpace(role.Name, nameof(role));
        _runtime.State.UpsertRole(role);
    }

    /// <summary>Reads a role, including the generated <c>bot-&lt;name&gt;</c> roles.</summary>
    /// <param name="name">The role name.</param>
    /// <returns>The role, or null.</returns>
    public EmulatorRole? GetRole(string name) => _runtime.State.GetRole(name);

    /// <summary>Adds a bot (<c>tctl bots add &lt;name&gt; --roles=…</c>): its user and generated role. Create a join token separately.</summary>
    /// <param name="bot">The bot.</param>
    /// <exception cref="ArgumentException">The bot has no name.</exception>
    /// <exception cref="InvalidOperationException">The bot, or a user or role with its resource name, already exists.</exception>
    public void AddBot(EmulatorBot bot)
    {
        ArgumentNullException.ThrowIfNull(bot);
        ArgumentException.ThrowIfNullOrWhiteSpace(bot.Name, nameof(bot));
        Translate(() => _runtime.State.AddBot(bot));
    }

    /// <summary>Adds impersonable roles to a bot (<c>tctl bots update &lt;name&gt; --add-roles=…</c>).</summary>
    /// <param name="botName">The bot.</param>
    /// <param name="roles">Roles to add.</param>
    /// <returns>The updated bot.</returns>
    /// <exception cref="InvalidOperationException">The bot does not exist.</exception>
    public EmulatorBot AddBotRoles(string botName, params string[] roles)
    {
        ArgumentNullException.ThrowIfNull(botName);
        ArgumentNullException.ThrowIfNull(roles);
        return Translate(() => _runtime.State.AddBotRoles(botName, roles));
    }

    /// <summary>Creates a single-use <c>token</c>-method join token for a bot, with a random secret name.</summary>
    /// <param name="botName">The bot.</param>
    /// <param name="ttl">How long the token is valid; default 1 hour (as <c>tctl bots add</c>).</param>
    /// <returns>The token; its <see cref="EmulatorJoinToken.Name"/> is the secret and is not shown again.</returns>
    /// <exception cref="InvalidOperationException">The bot does not exist.</exception>
    public EmulatorJoinToken CreateJoinToken(string botName, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(botName);
        var token = new EmulatorJoinToken
        {
            Name = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(),
            BotName = botName,
            Expires = _runtime.Clock.GetUtcNow() + (ttl ?? TimeSpan.FromHours(1)),
        };
        Translate(() => _runtime.State.AddToken(token));
        return token;
    }

    /// <summary>Adds a join token with a chosen name (like <c>tctl create</c> of a <c>token</c> resource), of any emulated join method.</summary>
    /// <param name="token">The token.</param>
    /// <exception cref="ArgumentException">The token has no name or its spec is invalid (Teleport's messages).</exception>
    /// <exception cref="InvalidOperationException">A token with that name exists, or the bot does not.</exception>
    public void AddJoinToken(EmulatorJoinToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentException.ThrowIfNullOrEmpty(token.Name, nameof(token));
        Translate(() => _runtime.State.AddToken(token));
    }

    /// <summary>
    /// Replaces a join token's spec (<c>tctl edit</c>) keeping its status, for example to raise a bound
    /// keypair token's <c>recovery.limit</c> or set <c>rotate_after</c>. The bot and method cannot change.
    /// </summary>
    /// <param name="token">The token with the new spec.</param>
    /// <exception cref="ArgumentException">The spec is invalid, or changes the bot or method.</exception>
    /// <exception cref="InvalidOperationException">No such token.</exception>
    public void UpdateJoinToken(EmulatorJoinToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        Translate(() => _runtime.State.UpdateToken(token));
    }

    /// <summary>The <c>status.bound_keypair</c> of a bound keypair token (registration secret, bound key, recovery count).</summary>
    /// <param name="tokenName">The token name.</param>
    /// <returns>The status, or null when there is no such bound keypair token.</returns>
    public EmulatorBoundKeypairStatus? GetBoundKeypairStatus(string tokenName)
    {
        ArgumentNullException.ThrowIfNull(tokenName);
        return _runtime.State.BoundKeypairStatus(tokenName);
    }

    /// <summary>How many unexpired, unused join tokens remain.</summary>
    /// <param name="botName">Only count this bot's tokens; all when null.</param>
    /// <returns>The count.</returns>
    public int CountJoinTokens(string? botName = null) => _runtime.State.CountTokens(botName);

    /// <summary>Whether a join token is still usable (exists and has not expired).</summary>
    /// <param name="name">The token name.</param>
    /// <returns><see langword="true"/> when it can still be used.</returns>
    public bool JoinTokenExists(string name) => _runtime.State.TokenExists(name);

    /// <summary>Registers an OpenSSH node the proxy can dial (<c>tctl create</c> of a <c>node</c> with sub-kind <c>openssh</c>); replaces one with the same name.</summary>
    /// <param name="node">The node.</param>
    /// <exception cref="ArgumentException">The name or address is empty.</exception>
    public void AddNode(EmulatorNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentException.ThrowIfNullOrWhiteSpace(node.Name, nameof(node));
        ArgumentException.ThrowIfNullOrWhiteSpace(node.Address, nameof(node));
        _runtime.State.UpsertNode(node);
    }

    /// <summary>Registers a plain TCP target the proxy can dial through <c>ProxySSH</c>; replaces one with the same name.</summary>
    /// <param name="target">The target.</param>
    /// <exception cref="ArgumentException">The name or address is empty.</exception>
    public void AddTcpTarget(EmulatorTcpTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrWhiteSpace(target.Name, nameof(target));
        ArgumentException.ThrowIfNullOrWhiteSpace(target.Address, nameof(target));
        _runtime.State.UpsertTcpTarget(target);
    }

    /// <summary>Removes a node or TCP target.</summary>
    /// <param name="name">Its name.</param>
    /// <returns>Whether something was removed.</returns>
    public bool RemoveNode(string name) => _runtime.State.RemoveNode(name);

    /// <summary>
    /// Signs an OpenSSH host certificate with the host CA, like
    /// <c>tctl auth sign --format=openssh --host=&lt;name&gt;,&lt;name&gt;.&lt;cluster&gt;</c>: key id
    /// <c>&lt;first principal&gt;.&lt;cluster&gt;</c>, extensions <c>x-teleport-role=Node</c> and
    /// <c>x-teleport-authority=&lt;cluster&gt;</c>, valid from one minute ago.
    /// </summary>
    /// <param name="hostKey">The node's host public key.</param>
    /// <param name="principals">Host names the certificate is valid for (at least one), e.g. <c>node1</c>, <c>node1.&lt;cluster&gt;</c>, <c>127.0.0.1</c>.</param>
    /// <param name="ttl">Validity; default 12 hours (tctl's default).</param>
    /// <returns>The certificate (write it next to the host key as <c>*-cert.pub</c>, <c>HostCertificate</c> in sshd_config).</returns>
    /// <exception cref="ArgumentException">No principals were given.</exception>
    public SshCertificate SignHostCertificate(PublicKeyInfo hostKey, IEnumerable<string> principals, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(hostKey);
        ArgumentNullException.ThrowIfNull(principals);
        var names = principals.Where(p => !string.IsNullOrWhiteSpace(p)).Distinct(StringComparer.Ordinal).ToArray();
        if (names.Length == 0)
        {
            throw new ArgumentException("A host certificate needs at least one principal.", nameof(principals));
        }

        var now = _runtime.Clock.GetUtcNow();
        var lifetime = ttl ?? TimeSpan.FromHours(12);
        var certificate = _runtime.Issuer.IssueHost(hostKey, names, now, lifetime);
        _runtime.State.RecordIssued(new IssuedCertificate
        {
            Kind = IssuedCertificateKind.HostCertificate,
            Username = names[0],
            Principals = names,
            IssuedAt = now,
            Expires = now + lifetime,
            HasSshCertificate = true,
        });
        return certificate;
    }

    /// <summary>
    /// The user CA's SSH public keys (active and additional trusted), one <c>&lt;type&gt; &lt;base64&gt;</c> line
    /// each, for sshd's <c>TrustedUserCAKeys</c> file (what <c>tctl auth export --type=openssh</c> is used for).
    /// The emulator's proxy relays SSH end to end, so nodes trust the user CA itself.
    /// </summary>
    /// <returns>The file content.</returns>
    public string ExportUserCaOpenSsh() =>
        string.Concat(_runtime.Authorities[CertificateAuthorityType.User].Trusted.Select(k => k.SshAuthorizedKey + "\n"));

    /// <summary>Creates a lock (<c>tctl lock</c>); target a user (<see cref="EmulatorLock.User"/>), a bot instance or a join token.</summary>
    /// <param name="candidate">The lock; a name is generated when empty.</param>
    /// <returns>The lock as stored.</returns>
    /// <exception cref="ArgumentException">The lock has no target.</exception>
    public EmulatorLock AddLock(EmulatorLock candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var created = Translate(() => _runtime.State.AddLock(candidate));
        _runtime.State.Audit("lock.created", success: true, created.User, $"lock {created.Name} targeting {created}", ("lock_name", created.Name));
        return created;
    }

    /// <summary>Locks a bot's user (<c>tctl lock --user=bot-&lt;name&gt;</c>): all its identities and impersonated identities are denied.</summary>
    /// <param name="botName">The bot.</param>
    /// <param name="message">Shown to denied callers.</param>
    /// <param name="ttl">How long; forever when null.</param>
    /// <returns>The lock.</returns>
    public EmulatorLock LockBot(string botName, string? message = null, TimeSpan? ttl = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(botName);
        return AddLock(new EmulatorLock
        {
            User = EmulatorBot.ResourceName(botName),
            Message = message,
            Expires = ttl is { } t ? _runtime.Clock.GetUtcNow() + t : null,
        });
    }

    /// <summary>Removes a lock.</summary>
    /// <param name="name">The lock name.</param>
    /// <returns>Whether a lock was removed.</returns>
    public bool RemoveLock(string name) => _runtime.State.RemoveLock(name);

    /// <summary>Locks in force (not expired), including those created by generation mismatches.</summary>
    public IReadOnlyList<EmulatorLock> Locks => _runtime.State.Locks();

    /// <summary>
    /// Creates the resources of a YAML text (like <c>tctl create -f</c>): documents separated by <c>---</c>,
    /// each a resource (or a list of them) with <c>kind: role | bot | token | node | tcp_target | lock</c>,
    /// <c>metadata</c> and <c>spec</c> as Teleport writes them (see the package README). Resources are applied
    /// in dependency order: roles, bots, tokens, nodes, TCP targets, locks.
    /// </summary>
    /// <param name="yaml">The YAML text.</param>
    /// <exception cref="TeleportFormatException">The YAML is malformed or a resource is invalid; the message names the document and field.</exception>
    /// <exception cref="InvalidOperationException">A resource conflicts with an existing one or references a missing bot.</exception>
    /// <exception cref="ArgumentException">A resource is incomplete.</exception>
    public void ApplyResources(string yaml) => Hosting.ResourceYaml.Parse(yaml).ApplyTo(this);

    /// <summary>Creates the resources of a YAML file; see <see cref="ApplyResources"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>A task that completes when the resources exist.</returns>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="TeleportFormatException">The file is larger than <see cref="InputLimits.ConfigurationFileBytes"/>, the YAML is malformed or a resource is invalid.</exception>
    /// <exception cref="InvalidOperationException">A resource conflicts with an existing one.</exception>
    public async Task ApplyResourceFileAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ApplyResources(await BoundedFile.ReadAllTextAsync(path, InputLimits.ConfigurationFileBytes, "resource file", cancellationToken).ConfigureAwait(false));
    }

    // ---------------------------------------------------------------- inspection

    /// <summary>Every certificate issuance so far, oldest first.</summary>
    public IReadOnlyList<IssuedCertificate> IssuedCertificates => _runtime.State.Issued();

    /// <summary>Every bot instance with its generation and authentication and heartbeat history.</summary>
    public IReadOnlyList<BotInstanceInfo> BotInstances => _runtime.State.BotInstances();

    /// <summary>Audit events (joins, failed joins, generation mismatches, locks, rotations), oldest first.</summary>
    public IReadOnlyList<EmulatorAuditEvent> AuditEvents => _runtime.State.AuditEvents();

    /// <summary>Stops the listeners and releases the keys.</summary>
    /// <returns>A task that completes when everything is stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _runtime.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal EmulatorRuntime Runtime => _runtime;

    private static void Translate(Action action) => Translate(() =>
    {
        action();
        return 0;
    });

    private static T Translate<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (TraceException ex) when (ex.Kind == TraceKind.BadParameter)
        {
            throw new ArgumentException(ex.Message, ex);
        }
        catch (TraceException ex)
        {
            throw new InvalidOperationException(ex.Message, ex);
        }
    }
}
