using System.Security.Cryptography.X509Certificates;

namespace Teleport.MachineId;

/// <summary>How a bot identity is renewed before it expires.</summary>
public enum BotRenewalMode
{
    /// <summary>
    /// Renew at about two thirds of the certificate's actual lifetime (from its <c>NotBefore</c>
    /// to its <c>NotAfter</c>), with ±5 % jitter so many bots do not renew at the same instant.
    /// Follows whatever lifetime the cluster granted, even when it is shorter than requested.
    /// </summary>
    Adaptive = 0,

    /// <summary>
    /// tbot's behaviour: renew every <see cref="MachineIdOptions.RenewalInterval"/> after the last
    /// successful renewal, but never later than 90 % of the granted lifetime.
    /// </summary>
    FixedInterval = 1,
}

/// <summary>Where the bot keeps its own identity between restarts (tbot's <c>storage</c>).</summary>
public enum BotStorageType
{
    /// <summary>
    /// A directory (<see cref="MachineIdOptions.StoragePath"/>, mode 0700) holding the identity,
    /// written durably and atomically, and locked so only one process uses it.
    /// </summary>
    Directory = 0,

    /// <summary>
    /// Process memory only. A restart then needs a new join token, because a <c>token</c> join
    /// token is single use.
    /// </summary>
    Memory = 1,
}

/// <summary>
/// How a bot joins a Teleport cluster and keeps its identity: the cluster address, the join
/// method and its secret, how the cluster is trusted, credential lifetime and renewal, storage.
/// </summary>
/// <remarks>
/// <para>
/// Bind it from configuration (<c>services.AddTeleportMachineId(configuration.GetSection("Teleport"))</c>)
/// or fill it in code; it is validated when a provider is created (or, with dependency injection,
/// at host start). Exactly one of <see cref="ProxyServer"/> and <see cref="AuthServer"/> is required.
/// </para>
/// <para>
/// The join token is read only when a join is needed, so a token file may be deleted after the
/// first join; the token never appears in logs, exception messages or <see cref="ToString"/>.
/// </para>
/// </remarks>
public sealed class MachineIdOptions
{
    /// <summary>The join method tbot calls <c>token</c>: a single-use secret; the identity is then renewed.</summary>
    public const string TokenJoinMethod = "token";

    /// <summary>
    /// The <c>bound_keypair</c> join method: a keypair the cluster binds to the token (registration
    /// secret or pre-registered key), kept in the bot's storage; the bot re-joins at each renewal and
    /// can recover on its own within the token's recovery rules.
    /// </summary>
    public const string BoundKeypairJoinMethod = "bound_keypair";

    /// <summary>The <c>github</c> join method: a GitHub Actions ID token from the runner; the bot re-joins at each renewal.</summary>
    public const string GitHubJoinMethod = "github";

    /// <summary>The <c>gitlab</c> join method: a GitLab CI ID token from an environment variable; the bot re-joins at each renewal.</summary>
    public const string GitLabJoinMethod = "gitlab";

    /// <summary>The <c>kubernetes</c> join method: the pod's service account token file; the bot re-joins at each renewal.</summary>
    public const string KubernetesJoinMethod = "kubernetes";

    /// <summary>
    /// The Teleport Proxy Service address, <c>host:port</c> (port 443 when omitted), as tbot's
    /// <c>proxy_server</c>. Mutually exclusive with <see cref="AuthServer"/>. Default: none.
    /// </summary>
    public string? ProxyServer { get; set; }

    /// <summary>
    /// The Teleport Auth Service address, <c>host:port</c> (port 3025 when omitted), as tbot's
    /// <c>auth_server</c>; like tbot, a proxy's web address is accepted too: the address is tried as
    /// Auth and then as a proxy (the proxy first on ports 443 and 3080). Auth is verified with
    /// <see cref="CaPins"/> or <see cref="CaPath"/> (never unverified unless <see cref="Insecure"/>),
    /// the proxy as with <see cref="ProxyServer"/>. Mutually exclusive with <see cref="ProxyServer"/>. Default: none.
    /// </summary>
    public string? AuthServer { get; set; }

    /// <summary>
    /// The join method, as tbot's <c>onboarding.join_method</c>: <c>token</c>, <c>bound_keypair</c>,
    /// <c>github</c>, <c>gitlab</c> or <c>kubernetes</c>. For every method but <c>token</c>,
    /// <see cref="Token"/> (or <see cref="TokenFile"/>, <see cref="TokenEnvironmentVariable"/>) names
    /// the join token resource, which is not a secret. Default: <c>token</c> (<see cref="TokenJoinMethod"/>).
    /// </summary>
    public string JoinMethod { get; set; } = TokenJoinMethod;

    /// <summary>Settings of the <c>bound_keypair</c> join method (tbot's <c>onboarding.bound_keypair</c>).</summary>
    public BoundKeypairJoinOptions BoundKeypair { get; } = new();

    /// <summary>Settings of the <c>gitlab</c> join method (tbot's <c>onboarding.gitlab</c>).</summary>
    public GitLabJoinOptions GitLab { get; } = new();

    /// <summary>Settings of the <c>kubernetes</c> join method (tbot's <c>onboarding.kubernetes</c>).</summary>
    public KubernetesJoinOptions Kubernetes { get; } = new();

    /// <summary>
    /// The join token itself. Set at most one of <see cref="Token"/>, <see cref="TokenFile"/>
    /// and <see cref="TokenEnvironmentVariable"/>; none is fine while the storage holds a
    /// renewable identity. Default: none.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>
    /// A file holding the join token (surrounding white space is ignored), read only when a join
    /// is needed, so it may be replaced to give the bot a new token. Default: none.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>
    /// The name of an environment variable holding the join token (for example
    /// <c>TELEPORT_BOT_TOKEN</c>), read only when a join is needed. Default: none.
    /// </summary>
    public string? TokenEnvironmentVariable { get; set; }

    /// <summary>
    /// Pins of the cluster's CA (<c>sha256:&lt;hex&gt;</c>, as <c>tctl status</c> prints them),
    /// checked on first contact with the Auth Service. Mutually exclusive with
    /// <see cref="CaPath"/> and <see cref="Insecure"/>. Default: empty.
    /// </summary>
    public IList<string> CaPins { get; } = new List<string>();

    /// <summary>
    /// A PEM file with the cluster's CA certificate, the alternative to <see cref="CaPins"/>.
    /// Default: none.
    /// </summary>
    public string? CaPath { get; set; }

    /// <summary>
    /// Skips verification of the cluster's certificates on first contact. Only for tests and
    /// demos: anyone on the network path could then issue the bot its identity. Default: <see langword="false"/>.
    /// </summary>
    public bool Insecure { get; set; }

    /// <summary>
    /// A PEM file with the CA certificates that issued the Proxy's web (HTTPS) certificate, used
    /// instead of the operating system's trust store (for a private CA). Default: none.
    /// </summary>
    public string? ProxyCaBundlePath { get; set; }

    /// <summary>
    /// CA certificates that issued the Proxy's web (HTTPS) certificate, used instead of the
    /// operating system's trust store; combined with <see cref="ProxyCaBundlePath"/>. Default: empty.
    /// </summary>
    public IList<X509Certificate2> ProxyCaCertificates { get; } = new List<X509Certificate2>();

    /// <summary>
    /// The lifetime requested for each bot certificate, as tbot's <c>credential_ttl</c>. The
    /// cluster may grant less (the bot role's <c>max_session_ttl</c>, at most 7 days); the
    /// schedule follows the granted lifetime. Default: 1 hour.
    /// </summary>
    public TimeSpan CredentialTtl { get; set; } = TeleportDefaults.CredentialTtl;

    /// <summary>How renewals are scheduled. Default: <see cref="BotRenewalMode.Adaptive"/>.</summary>
    public BotRenewalMode RenewalMode { get; set; } = BotRenewalMode.Adaptive;

    /// <summary>
    /// The renewal period in <see cref="BotRenewalMode.FixedInterval"/> mode, as tbot's
    /// <c>renewal_interval</c>; must be shorter than <see cref="CredentialTtl"/>. Default: 20 minutes.
    /// </summary>
    public TimeSpan RenewalInterval { get; set; } = TeleportDefaults.RenewalInterval;

    /// <summary>
    /// The first delay before retrying a failed join or renewal; later delays double up to
    /// <see cref="RetryMaxBackoff"/>, each drawn at random below its cap (full jitter). Default: 1 second.
    /// </summary>
    public TimeSpan RetryMinBackoff { get; set; } = TeleportDefaults.RetryMinBackoff;

    /// <summary>The longest delay between retries. Default: 1 minute.</summary>
    public TimeSpan RetryMaxBackoff { get; set; } = TeleportDefaults.RetryMaxBackoff;

    /// <summary>Where the bot keeps its identity. Default: <see cref="BotStorageType.Directory"/>.</summary>
    public BotStorageType StorageType { get; set; } = BotStorageType.Directory;

    /// <summary>
    /// The storage directory for <see cref="BotStorageType.Directory"/> (tbot uses
    /// <c>/var/lib/teleport/bot</c>); created with mode 0700 when missing. Required for directory storage.
    /// </summary>
    public string? StoragePath { get; set; }

    /// <summary>Describes the options without secrets.</summary>
    /// <returns>The address, join method, token source, storage and lifetime.</returns>
    public override string ToString()
    {
        var address = ProxyServer is not null ? "proxy " + ProxyServer : "auth " + AuthServer;
        var storage = StorageType == BotStorageType.Memory ? "memory" : "directory " + StoragePath;
        return $"{address}, join method {JoinMethod}, token {DescribeTokenSource()}, storage {storage}, credential TTL {CredentialTtl}, {RenewalMode} renewal";
    }

    internal string DescribeTokenSource() =>
        Token is not null ? "(inline, redacted)"
        : TokenFile is not null ? "file " + TokenFile
        : TokenEnvironmentVariable is not null ? "environment variable " + TokenEnvironmentVariable
        : "(none)";

    /// <summary>Copies the options so later changes by the caller do not affect a running provider.</summary>
    internal MachineIdOptions Clone()
    {
        var copy = new MachineIdOptions
        {
            ProxyServer = ProxyServer,
            AuthServer = AuthServer,
            JoinMethod = JoinMethod,
            Token = Token,
            TokenFile = TokenFile,
            TokenEnvironmentVariable = TokenEnvironmentVariable,
            CaPath = CaPath,
            Insecure = Insecure,
            ProxyCaBundlePath = ProxyCaBundlePath,
            CredentialTtl = CredentialTtl,
            RenewalMode = RenewalMode,
            RenewalInterval = RenewalInterval,
            RetryMinBackoff = RetryMinBackoff,
            RetryMaxBackoff = RetryMaxBackoff,
            StorageType = StorageType,
            StoragePath = StoragePath,
        };
        copy.BoundKeypair.RegistrationSecret = BoundKeypair.RegistrationSecret;
        copy.BoundKeypair.RegistrationSecretPath = BoundKeypair.RegistrationSecretPath;
        copy.BoundKeypair.StaticPrivateKeyPath = BoundKeypair.StaticPrivateKeyPath;
        copy.GitLab.TokenEnvironmentVariable = GitLab.TokenEnvironmentVariable;
        copy.Kubernetes.TokenPath = Kubernetes.TokenPath;
        foreach (var pin in CaPins)
        {
            copy.CaPins.Add(pin);
        }

        foreach (var ca in ProxyCaCertificates)
        {
            copy.ProxyCaCertificates.Add(ca);
        }

        return copy;
    }
}
