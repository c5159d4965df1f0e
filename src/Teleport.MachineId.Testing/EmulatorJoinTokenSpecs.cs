namespace Teleport.MachineId.Testing;

/// <summary>
/// <c>spec.github</c> of a <c>github</c> join token: the ID token must come from GitHub Actions
/// (or the GitHub Enterprise Server at <see cref="EnterpriseServerHost"/>) with audience
/// <c>teleport.cluster.local</c>, and its claims must match at least one rule.
/// </summary>
public sealed class EmulatorGitHubJoinSpec
{
    /// <summary><c>allow</c>: a token is accepted when every set field of one rule equals its claim.</summary>
    public IReadOnlyList<EmulatorGitHubRule> Allow { get; init; } = [];

    /// <summary>
    /// <c>enterprise_server_host</c>: a GitHub Enterprise Server host (<c>host[:port]</c>); its issuer is
    /// <c>https://&lt;host&gt;/_services/token</c>. Unset: <c>https://token.actions.githubusercontent.com</c>.
    /// Point it at <see cref="EmulatorOidcIssuer.Host"/> to use the emulator's stand-in.
    /// </summary>
    public string? EnterpriseServerHost { get; init; }
}

/// <summary>One <c>spec.github.allow</c> rule (exact matches; unset fields match anything).</summary>
public sealed class EmulatorGitHubRule
{
    /// <summary><c>sub</c>.</summary>
    public string? Sub { get; init; }

    /// <summary><c>repository</c> (<c>owner/name</c>).</summary>
    public string? Repository { get; init; }

    /// <summary><c>repository_owner</c>.</summary>
    public string? RepositoryOwner { get; init; }

    /// <summary><c>workflow</c>.</summary>
    public string? Workflow { get; init; }

    /// <summary><c>environment</c>.</summary>
    public string? Environment { get; init; }

    /// <summary><c>actor</c>.</summary>
    public string? Actor { get; init; }

    /// <summary><c>ref</c>.</summary>
    public string? Ref { get; init; }

    /// <summary><c>ref_type</c> (<c>branch</c> or <c>tag</c>).</summary>
    public string? RefType { get; init; }
}

/// <summary>
/// <c>spec.gitlab</c> of a <c>gitlab</c> join token: the ID token must be issued by
/// <c>https://&lt;domain&gt;</c> (default <c>gitlab.com</c>) for the cluster name as audience, and match a rule.
/// </summary>
public sealed class EmulatorGitLabJoinSpec
{
    /// <summary><c>allow</c> rules.</summary>
    public IReadOnlyList<EmulatorGitLabRule> Allow { get; init; } = [];

    /// <summary><c>domain</c>: a self-hosted GitLab (<c>host[:port]</c>); unset for <c>gitlab.com</c>.</summary>
    public string? Domain { get; init; }
}

/// <summary>
/// One <c>spec.gitlab.allow</c> rule. <see cref="Sub"/>, <see cref="Ref"/>, <see cref="NamespacePath"/>
/// and <see cref="ProjectPath"/> accept globs (<c>*</c>, <c>?</c>); the others match exactly.
/// </summary>
public sealed class EmulatorGitLabRule
{
    /// <summary><c>sub</c> (glob).</summary>
    public string? Sub { get; init; }

    /// <summary><c>ref</c> (glob).</summary>
    public string? Ref { get; init; }

    /// <summary><c>ref_type</c>.</summary>
    public string? RefType { get; init; }

    /// <summary><c>namespace_path</c> (glob).</summary>
    public string? NamespacePath { get; init; }

    /// <summary><c>project_path</c> (glob).</summary>
    public string? ProjectPath { get; init; }

    /// <summary><c>pipeline_source</c>.</summary>
    public string? PipelineSource { get; init; }

    /// <summary><c>environment</c>.</summary>
    public string? Environment { get; init; }

    /// <summary><c>user_login</c>.</summary>
    public string? UserLogin { get; init; }

    /// <summary><c>user_id</c>.</summary>
    public string? UserId { get; init; }

    /// <summary><c>user_email</c>.</summary>
    public string? UserEmail { get; init; }

    /// <summary><c>ref_protected</c>.</summary>
    public bool? RefProtected { get; init; }

    /// <summary><c>environment_protected</c>.</summary>
    public bool? EnvironmentProtected { get; init; }

    /// <summary><c>ci_config_sha</c>.</summary>
    public string? CiConfigSha { get; init; }

    /// <summary><c>ci_config_ref_uri</c>.</summary>
    public string? CiConfigRefUri { get; init; }

    /// <summary><c>deployment_tier</c>.</summary>
    public string? DeploymentTier { get; init; }

    /// <summary><c>project_visibility</c>.</summary>
    public string? ProjectVisibility { get; init; }
}

/// <summary>
/// <c>spec.kubernetes</c> of a <c>kubernetes</c> join token: the pod's service account token, checked
/// by a TokenReview (<c>in_cluster</c>: Auth runs in that cluster; the emulator answers from its
/// <see cref="EmulatorKubernetesCluster"/> stand-in) or against a JWKS (<c>static_jwks</c>).
/// </summary>
public sealed class EmulatorKubernetesJoinSpec
{
    /// <summary>The <c>in_cluster</c> type.</summary>
    public const string InCluster = "in_cluster";

    /// <summary>The <c>static_jwks</c> type.</summary>
    public const string StaticJwksType = "static_jwks";

    /// <summary><c>type</c>: <c>in_cluster</c> (default) or <c>static_jwks</c>.</summary>
    public string Type { get; init; } = InCluster;

    /// <summary><c>allow[].service_account</c>: <c>&lt;namespace&gt;:&lt;name&gt;</c> entries; one must match.</summary>
    public IReadOnlyList<string> AllowServiceAccounts { get; init; } = [];

    /// <summary><c>static_jwks.jwks</c>: the cluster's service-account signing keys as a JWKS JSON document.</summary>
    public string? StaticJwks { get; init; }
}

/// <summary>
/// <c>spec.bound_keypair</c> of a <c>bound_keypair</c> join token: how the first key is bound
/// (<c>onboarding</c>), how many recoveries (joins without a valid identity) are allowed, and when
/// the cluster asks the bot to rotate its key.
/// </summary>
public sealed class EmulatorBoundKeypairJoinSpec
{
    /// <summary><c>onboarding.initial_public_key</c>: a pre-registered public key (authorized_keys form).</summary>
    public string? InitialPublicKey { get; init; }

    /// <summary><c>onboarding.registration_secret</c>: the one-time secret; generated when neither it nor a key is set.</summary>
    public string? RegistrationSecret { get; init; }

    /// <summary><c>onboarding.must_register_before</c>: the registration secret is refused after this time.</summary>
    public DateTimeOffset? MustRegisterBefore { get; init; }

    /// <summary><c>recovery.mode</c>: <c>standard</c> (default), <c>relaxed</c> (no limit) or <c>insecure</c> (no limit, no join state check).</summary>
    public string RecoveryMode { get; init; } = "standard";

    /// <summary><c>recovery.limit</c>: how many recoveries are allowed in <c>standard</c> mode (the first join counts). Default 1.</summary>
    public int RecoveryLimit { get; init; } = 1;

    /// <summary><c>rotate_after</c>: the next join after this time must rotate the keypair.</summary>
    public DateTimeOffset? RotateAfter { get; init; }
}

/// <summary><c>status.bound_keypair</c> of a bound keypair token, as the cluster keeps it.</summary>
public sealed class EmulatorBoundKeypairStatus
{
    /// <summary><c>registration_secret</c>: set until a key is bound (the configured or generated secret).</summary>
    public string? RegistrationSecret { get; init; }

    /// <summary><c>bound_public_key</c> (authorized_keys form).</summary>
    public string? BoundPublicKey { get; init; }

    /// <summary><c>bound_bot_instance_id</c>.</summary>
    public string? BoundBotInstanceId { get; init; }

    /// <summary><c>recovery_count</c>: recoveries so far, the first join included.</summary>
    public int RecoveryCount { get; init; }

    /// <summary><c>last_recovered_at</c>.</summary>
    public DateTimeOffset? LastRecoveredAt { get; init; }

    /// <summary><c>last_rotated_at</c>.</summary>
    public DateTimeOffset? LastRotatedAt { get; init; }
}
