namespace Teleport.MachineId.Testing;

/// <summary>
/// A bot join token (Teleport's <c>token</c> resource, <c>kind: token</c>, <c>version: v2</c>). The
/// <c>token</c> method's token is single use and its name is the secret the bot presents; the
/// delegated methods (<c>github</c>, <c>gitlab</c>, <c>kubernetes</c>) and <c>bound_keypair</c> name
/// a reusable resource whose spec says who may join.
/// </summary>
/// <remarks>The emulator never lists token names after creation; see <see cref="TeleportEmulator.CountJoinTokens"/>.</remarks>
public sealed class EmulatorJoinToken
{
    /// <summary>The token name (<c>metadata.name</c>; for the <c>token</c> method also its secret: do not log it).</summary>
    public required string Name { get; init; }

    /// <summary>The bot the token joins as (<c>spec.bot_name</c>).</summary>
    public required string BotName { get; init; }

    /// <summary>When the token stops being valid (<c>metadata.expires</c>); <see langword="null"/> for never.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>The join method (<c>spec.join_method</c>, <see cref="EmulatorJoinMethods"/>). Default: <c>token</c>.</summary>
    public string JoinMethod { get; init; } = EmulatorJoinMethods.Token;

    /// <summary><c>spec.github</c>: required for the <c>github</c> method.</summary>
    public EmulatorGitHubJoinSpec? GitHub { get; init; }

    /// <summary><c>spec.gitlab</c>: required for the <c>gitlab</c> method.</summary>
    public EmulatorGitLabJoinSpec? GitLab { get; init; }

    /// <summary><c>spec.kubernetes</c>: required for the <c>kubernetes</c> method.</summary>
    public EmulatorKubernetesJoinSpec? Kubernetes { get; init; }

    /// <summary><c>spec.bound_keypair</c>: required for the <c>bound_keypair</c> method.</summary>
    public EmulatorBoundKeypairJoinSpec? BoundKeypair { get; init; }

    /// <summary>Whether the name is a secret (only for the <c>token</c> method).</summary>
    public bool NameIsSecret => JoinMethod == EmulatorJoinMethods.Token;

    /// <summary>Teleport's "safe name": for the <c>token</c> method the secret masked except its last characters; other names as they are.</summary>
    public string SafeName => NameIsSecret ? MaskTokenName(Name) : Name;

    /// <summary>The token without its secret, for display.</summary>
    /// <returns>A description.</returns>
    public override string ToString() => $"{JoinMethod} join token {SafeName} for bot {BotName}";

    internal static string MaskTokenName(string name) =>
        name.Length <= 8 ? new string('*', name.Length) : new string('*', name.Length - 8) + name[^8..];
}

/// <summary>The join method names (<c>spec.join_method</c>) the emulator serves.</summary>
public static class EmulatorJoinMethods
{
    /// <summary>A single-use secret; the identity is then renewed with <c>GenerateUserCerts</c>.</summary>
    public const string Token = "token";

    /// <summary>A GitHub Actions ID token (OIDC).</summary>
    public const string GitHub = "github";

    /// <summary>A GitLab CI ID token (OIDC).</summary>
    public const string GitLab = "gitlab";

    /// <summary>A Kubernetes service account token.</summary>
    public const string Kubernetes = "kubernetes";

    /// <summary>A keypair bound to the token (registration secret or pre-registered public key).</summary>
    public const string BoundKeypair = "bound_keypair";

    internal static bool IsKnown(string method) => method is Token or GitHub or GitLab or Kubernetes or BoundKeypair;

    internal static bool UsesIdToken(string method) => method is GitHub or GitLab or Kubernetes;
}
