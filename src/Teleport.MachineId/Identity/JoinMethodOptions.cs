namespace Teleport.MachineId;

/// <summary>
/// Settings of the <c>bound_keypair</c> join method (tbot's <c>onboarding.bound_keypair</c>). The
/// registration secret is needed only for the first join (while no key is bound); later joins prove
/// the bound key kept in the bot's storage.
/// </summary>
/// <remarks>
/// Sources of the registration secret, first found wins: <see cref="RegistrationSecretPath"/>,
/// <see cref="RegistrationSecret"/>, the environment variable <c>TBOT_REGISTRATION_SECRET</c>. A
/// static key (<see cref="StaticPrivateKeyPath"/>, or a base64-encoded PEM in
/// <c>TBOT_BOUND_KEYPAIR_STATIC_KEY</c>) replaces the key in storage: it must be pre-registered
/// (<c>spec.bound_keypair.onboarding.initial_public_key</c>) and cannot be rotated. Secrets and keys
/// never appear in logs or messages.
/// </remarks>
public sealed class BoundKeypairJoinOptions
{
    /// <summary>
    /// The registration secret (<c>registration_secret</c>), or an absolute path to a file holding it
    /// (as tbot, a value that names an existing file is read). Default: none.
    /// </summary>
    public string? RegistrationSecret { get; set; }

    /// <summary>A file holding the registration secret (<c>registration_secret_path</c>). Default: none.</summary>
    public string? RegistrationSecretPath { get; set; }

    /// <summary>A pre-registered private key file (<c>static_private_key_path</c>), used instead of a key in storage. Default: none.</summary>
    public string? StaticPrivateKeyPath { get; set; }

    /// <summary>Describes the settings without secrets.</summary>
    /// <returns>Which sources are configured.</returns>
    public override string ToString() =>
        $"registration secret {(RegistrationSecretPath is not null ? "file " + RegistrationSecretPath : RegistrationSecret is not null ? "(inline, redacted)" : "(none)")}" +
        (StaticPrivateKeyPath is not null ? ", static key " + StaticPrivateKeyPath : string.Empty);
}

/// <summary>Settings of the <c>gitlab</c> join method (tbot's <c>onboarding.gitlab</c>).</summary>
public sealed class GitLabJoinOptions
{
    /// <summary>
    /// The environment variable holding the job's ID token (<c>token_env_var_name</c>), useful when
    /// one job joins several clusters. Default: <c>TBOT_GITLAB_JWT</c>.
    /// </summary>
    public string? TokenEnvironmentVariable { get; set; }
}

/// <summary>Settings of the <c>kubernetes</c> join method (tbot's <c>onboarding.kubernetes</c>).</summary>
public sealed class KubernetesJoinOptions
{
    /// <summary>
    /// The service account token file (<c>token_path</c>). Default: <c>$KUBERNETES_TOKEN_PATH</c>, else
    /// <c>/var/run/secrets/kubernetes.io/serviceaccount/token</c>.
    /// </summary>
    public string? TokenPath { get; set; }
}
