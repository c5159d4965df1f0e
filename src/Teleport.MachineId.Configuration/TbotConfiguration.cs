namespace Teleport.MachineId.Configuration;

/// <summary>
/// A validated tbot v2 configuration (<c>tbot.yaml</c>), limited to what Teleport.MachineId
/// supports: the token, bound_keypair, github, gitlab and kubernetes join methods, directory or
/// memory storage, and <c>identity</c>, <c>ssh-multiplexer</c> and <c>ssh_host</c> services.
/// </summary>
/// <remarks>
/// Produced by <see cref="TbotConfigurationReader"/>, which has already applied tbot's defaults,
/// environment/flag overrides and validation: exactly one of <see cref="ProxyServer"/> and
/// <see cref="AuthServer"/> is set, lifetimes are positive, and every service has a supported
/// destination. The <c>outputs</c> list of the file (deprecated) is merged into
/// <see cref="Services"/> after the <c>services</c> entries, as tbot does. <c>fips</c> is not
/// modelled: it must be false, because Teleport.MachineId has no FIPS mode.
/// </remarks>
public sealed record TbotConfiguration
{
    /// <summary><c>proxy_server</c>: the Proxy Service to connect through (port 443 when omitted); null when <see cref="AuthServer"/> is used.</summary>
    public TbotAddress? ProxyServer { get; init; }

    /// <summary><c>auth_server</c>: the Auth Service to connect to directly (port 3025 when omitted); null when <see cref="ProxyServer"/> is used.</summary>
    public TbotAddress? AuthServer { get; init; }

    /// <summary>
    /// <c>credential_ttl</c> (or the deprecated <c>certificate_ttl</c>) and <c>renewal_interval</c>
    /// for the bot identity and every service without its own; defaults 1h and 20m.
    /// </summary>
    public TbotCredentialLifetime CredentialLifetime { get; init; } = TbotCredentialLifetime.Default;

    /// <summary><c>oneshot</c>: renew once, write the outputs and exit.</summary>
    public bool Oneshot { get; init; }

    /// <summary><c>insecure</c>: trust the cluster's certificates on first connect without verification. Not for production.</summary>
    public bool Insecure { get; init; }

    /// <summary><c>debug</c>: verbose logging.</summary>
    public bool Debug { get; init; }

    /// <summary><c>diag_addr</c>: where tbot would serve its diagnostics HTTP listener; null when not set.</summary>
    public TbotAddress? DiagnosticsAddress { get; init; }

    /// <summary><c>onboarding</c>: how the bot joins the cluster the first time.</summary>
    public required TbotOnboarding Onboarding { get; init; }

    /// <summary><c>storage</c>: where the bot keeps its own identity; tbot's default is the directory <c>/var/lib/teleport/bot</c>.</summary>
    public required TbotDestination Storage { get; init; }

    /// <summary><c>services</c> then <c>outputs</c>: the identity outputs to keep written.</summary>
    public IReadOnlyList<TbotIdentityService> Services { get; init; } = [];

    /// <summary>The <c>type: ssh-multiplexer</c> services, in file order.</summary>
    public IReadOnlyList<TbotSshMultiplexerService> SshMultiplexers { get; init; } = [];

    /// <summary>The <c>type: ssh_host</c> outputs, in file order.</summary>
    public IReadOnlyList<TbotSshHostService> SshHostOutputs { get; init; } = [];
}

/// <summary>How long issued credentials live and how often they are renewed.</summary>
/// <param name="Ttl"><c>credential_ttl</c>: the requested certificate lifetime.</param>
/// <param name="RenewalInterval"><c>renewal_interval</c>: how often new certificates are requested.</param>
public sealed record TbotCredentialLifetime(TimeSpan Ttl, TimeSpan RenewalInterval)
{
    /// <summary>tbot's defaults: <c>credential_ttl: 1h</c>, <c>renewal_interval: 20m</c>.</summary>
    public static TbotCredentialLifetime Default { get; } = new(TeleportDefaults.CredentialTtl, TeleportDefaults.RenewalInterval);

    /// <summary>The lifetime in tbot's notation, e.g. <c>credential_ttl 1h0m0s, renewal_interval 20m0s</c>.</summary>
    /// <returns>A description of the lifetime.</returns>
    public override string ToString() =>
        $"credential_ttl {GoDuration.Format(Ttl)}, renewal_interval {GoDuration.Format(RenewalInterval)}";
}

/// <summary>The <c>onboarding</c> section: how the bot joins the cluster.</summary>
public sealed record TbotOnboarding
{
    /// <summary><c>join_method</c>.</summary>
    public TbotJoinMethod JoinMethod { get; init; } = TbotJoinMethod.Token;

    /// <summary>
    /// <c>token</c>: for <c>join_method: token</c> the join token (a secret); for the other methods
    /// the name of the join token resource. Written inline or as an absolute path to a file holding
    /// it; null when not set (a token method bot then needs an identity already in its storage).
    /// </summary>
    public TbotJoinToken? Token { get; init; }

    /// <summary><c>ca_pins</c>: <c>sha256:&lt;hex&gt;</c> pins of the cluster CA, checked on first connect (lower-case hex).</summary>
    public IReadOnlyList<string> CaPins { get; init; } = [];

    /// <summary><c>ca_path</c>: a PEM file with the cluster CA, the alternative to <see cref="CaPins"/>; null when not set.</summary>
    public string? CaPath { get; init; }

    /// <summary><c>bound_keypair</c>: settings of the <c>bound_keypair</c> method.</summary>
    public TbotBoundKeypairOnboarding BoundKeypair { get; init; } = new();

    /// <summary><c>gitlab.token_env_var_name</c>: the variable holding the GitLab ID token; null for <c>TBOT_GITLAB_JWT</c>.</summary>
    public string? GitLabTokenEnvironmentVariable { get; init; }

    /// <summary><c>kubernetes.token_path</c>: the service account token file; null for <c>$KUBERNETES_TOKEN_PATH</c> or the default path.</summary>
    public string? KubernetesTokenPath { get; init; }
}

/// <summary>The <c>onboarding.bound_keypair</c> block.</summary>
public sealed record TbotBoundKeypairOnboarding
{
    /// <summary>
    /// <c>registration_secret</c>: the registration secret, or an absolute path to a file holding it;
    /// null when not set. Never shown in <see cref="ToString"/>.
    /// </summary>
    public string? RegistrationSecret { get; init; }

    /// <summary><c>registration_secret_path</c>: a file holding the registration secret; null when not set.</summary>
    public string? RegistrationSecretPath { get; init; }

    /// <summary><c>static_private_key_path</c>: a pre-registered private key file; null when not set.</summary>
    public string? StaticPrivateKeyPath { get; init; }

    /// <summary>Describes the block without the secret.</summary>
    /// <returns>The configured keys.</returns>
    public override string ToString() =>
        $"TbotBoundKeypairOnboarding {{ RegistrationSecret = {(RegistrationSecret is null ? string.Empty : "(redacted)")}, " +
        $"RegistrationSecretPath = {RegistrationSecretPath}, StaticPrivateKeyPath = {StaticPrivateKeyPath} }}";
}

/// <summary>A <c>join_method</c> Teleport.MachineId supports.</summary>
public enum TbotJoinMethod
{
    /// <summary><c>token</c>: a shared, single-use join token; the identity is then renewed.</summary>
    Token = 0,

    /// <summary><c>bound_keypair</c>: a keypair bound to the token (registration secret or pre-registered key).</summary>
    BoundKeypair = 1,

    /// <summary><c>github</c>: a GitHub Actions ID token.</summary>
    GitHub = 2,

    /// <summary><c>gitlab</c>: a GitLab CI ID token.</summary>
    GitLab = 3,

    /// <summary><c>kubernetes</c>: the pod's service account token.</summary>
    Kubernetes = 4,
}

/// <summary>What every tbot service has: a name, a destination and its own credential lifetime.</summary>
public abstract record TbotService
{
    /// <summary><c>name</c>: the service name for logs and health reports; null when not set.</summary>
    public string? Name { get; init; }

    /// <summary><c>destination</c>: where the service writes.</summary>
    public required TbotDestination Destination { get; init; }

    /// <summary>
    /// <c>credential_ttl</c> and <c>renewal_interval</c> of this service; null to use the bot's
    /// <see cref="TbotConfiguration.CredentialLifetime"/>.
    /// </summary>
    public TbotCredentialLifetime? CredentialLifetime { get; init; }

    /// <summary>tbot's <c>type</c> of the service.</summary>
    public abstract string Type { get; }
}

/// <summary>A service of <c>type: identity</c>: SSH and TLS credentials written like tbot's identity output.</summary>
public sealed record TbotIdentityService : TbotService
{
    /// <inheritdoc />
    public override string Type => "identity";

    /// <summary><c>roles</c>: the roles to request; empty means every role the bot may impersonate.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary><c>cluster</c>: a leaf cluster to issue certificates for; null for the cluster the bot joined.</summary>
    public string? Cluster { get; init; }

    /// <summary><c>ssh_config</c>: <c>on</c> (the default) writes <c>ssh_config</c> and <c>known_hosts</c>; <c>off</c> does not.</summary>
    public bool WriteSshConfig { get; init; } = true;

    /// <summary><c>allow_reissue</c>: whether the credentials may be used to reissue further certificates.</summary>
    public bool AllowReissue { get; init; }
}

/// <summary>
/// A service of <c>type: ssh-multiplexer</c>: in-memory credentials, <c>v1.sock</c>, <c>agent.sock</c>,
/// <c>ssh_config</c> and <c>known_hosts</c> in a directory destination.
/// </summary>
public sealed record TbotSshMultiplexerService : TbotService
{
    /// <inheritdoc />
    public override string Type => "ssh-multiplexer";

    /// <summary>
    /// <c>enable_resumption</c> (tbot's default true). Accepted for compatibility: Teleport's connection
    /// resumption applies to Teleport SSH agents only and is not implemented here; OpenSSH traffic passes unchanged.
    /// </summary>
    public bool EnableResumption { get; init; } = true;

    /// <summary><c>proxy_command</c>: the ProxyCommand's program and leading arguments; empty for this tool's own helper.</summary>
    public IReadOnlyList<string> ProxyCommand { get; init; } = [];
}

/// <summary>
/// A service of <c>type: ssh_host</c>: an OpenSSH host key and certificate from the cluster's host CA,
/// with the user CA keys for <c>TrustedUserCAKeys</c>.
/// </summary>
public sealed record TbotSshHostService : TbotService
{
    /// <inheritdoc />
    public override string Type => "ssh_host";

    /// <summary><c>principals</c>: the host names the certificate is valid for (at least one).</summary>
    public IReadOnlyList<string> Principals { get; init; } = [];

    /// <summary><c>roles</c>: the roles to request; empty means every role the bot may impersonate.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary><c>ca_type</c>: <c>user</c> (default) or <c>openssh</c>.</summary>
    public string CaType { get; init; } = "user";
}
