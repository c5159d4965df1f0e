namespace Teleport.MachineId.Testing;

/// <summary>How a test ID token is minted: defaults give a valid token for the method's token resource.</summary>
public sealed class EmulatorIdTokenOptions
{
    /// <summary>The <c>aud</c> claim; default the one Teleport expects for the method.</summary>
    public string? Audience { get; init; }

    /// <summary>The <c>iss</c> claim; default the issuer's own URL.</summary>
    public string? Issuer { get; init; }

    /// <summary>The <c>iat</c> claim; default now (the emulator's clock).</summary>
    public DateTimeOffset? IssuedAt { get; init; }

    /// <summary>The <c>nbf</c> claim; default <see cref="IssuedAt"/>.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>The <c>exp</c> claim; default <see cref="IssuedAt"/> + <see cref="Lifetime"/>.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>Lifetime when <see cref="Expires"/> is not set. Default 5 minutes (GitHub's tokens live about that long).</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Signs with a key the issuer does not publish (a forged token: the signature check fails).</summary>
    public bool SignWithUnpublishedKey { get; init; }
}

/// <summary>Claims of a GitHub Actions ID token (the fields <c>spec.github.allow</c> rules look at, and a few more).</summary>
public sealed class EmulatorGitHubClaims
{
    /// <summary><c>repository</c>, <c>owner/name</c>.</summary>
    public string Repository { get; init; } = "example-org/example-repo";

    /// <summary><c>repository_owner</c>; default the owner part of <see cref="Repository"/>.</summary>
    public string? RepositoryOwner { get; init; }

    /// <summary><c>ref</c>.</summary>
    public string Ref { get; init; } = "refs/heads/main";

    /// <summary><c>ref_type</c>.</summary>
    public string RefType { get; init; } = "branch";

    /// <summary><c>workflow</c>.</summary>
    public string Workflow { get; init; } = "deploy";

    /// <summary><c>environment</c> (absent when null).</summary>
    public string? Environment { get; init; }

    /// <summary><c>actor</c>.</summary>
    public string Actor { get; init; } = "octocat";

    /// <summary><c>event_name</c>.</summary>
    public string EventName { get; init; } = "push";

    /// <summary><c>sub</c>; default GitHub's <c>repo:&lt;repository&gt;:ref:&lt;ref&gt;</c> (or <c>…:environment:&lt;env&gt;</c>).</summary>
    public string? Sub { get; init; }

    internal Dictionary<string, object> ToClaims()
    {
        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["sub"] = Sub ?? (Environment is not null ? $"repo:{Repository}:environment:{Environment}" : $"repo:{Repository}:ref:{Ref}"),
            ["repository"] = Repository,
            ["repository_owner"] = RepositoryOwner ?? Repository.Split('/')[0],
            ["ref"] = Ref,
            ["ref_type"] = RefType,
            ["workflow"] = Workflow,
            ["actor"] = Actor,
            ["event_name"] = EventName,
            ["run_id"] = "1",
            ["run_number"] = "1",
            ["run_attempt"] = "1",
            ["job_workflow_ref"] = $"{Repository}/.github/workflows/{Workflow}.yml@{Ref}",
        };
        if (Environment is not null)
        {
            claims["environment"] = Environment;
        }

        return claims;
    }
}

/// <summary>Claims of a GitLab CI ID token (the fields <c>spec.gitlab.allow</c> rules look at).</summary>
public sealed class EmulatorGitLabClaims
{
    /// <summary><c>namespace_path</c>.</summary>
    public string NamespacePath { get; init; } = "example-group";

    /// <summary><c>project_path</c>; default <c>&lt;namespace_path&gt;/example-project</c>.</summary>
    public string? ProjectPath { get; init; }

    /// <summary><c>pipeline_source</c>.</summary>
    public string PipelineSource { get; init; } = "push";

    /// <summary><c>ref</c>.</summary>
    public string Ref { get; init; } = "main";

    /// <summary><c>ref_type</c>.</summary>
    public string RefType { get; init; } = "branch";

    /// <summary><c>ref_protected</c>.</summary>
    public bool RefProtected { get; init; } = true;

    /// <summary><c>environment</c> (absent when null).</summary>
    public string? Environment { get; init; }

    /// <summary><c>environment_protected</c>.</summary>
    public bool EnvironmentProtected { get; init; }

    /// <summary><c>user_login</c>.</summary>
    public string UserLogin { get; init; } = "gitlab-user";

    /// <summary><c>user_id</c>.</summary>
    public string UserId { get; init; } = "42";

    /// <summary><c>user_email</c>.</summary>
    public string UserEmail { get; init; } = "gitlab-user@example.com";

    /// <summary><c>sub</c>; default GitLab's <c>project_path:&lt;project&gt;:ref_type:&lt;type&gt;:ref:&lt;ref&gt;</c>.</summary>
    public string? Sub { get; init; }

    internal Dictionary<string, object> ToClaims()
    {
        var project = ProjectPath ?? NamespacePath + "/example-project";
        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["sub"] = Sub ?? $"project_path:{project}:ref_type:{RefType}:ref:{Ref}",
            ["namespace_path"] = NamespacePath,
            ["namespace_id"] = "7",
            ["project_path"] = project,
            ["project_id"] = "8",
            ["pipeline_source"] = PipelineSource,
            ["pipeline_id"] = "1001",
            ["ref"] = Ref,
            ["ref_type"] = RefType,
            ["ref_protected"] = RefProtected ? "true" : "false",
            ["user_login"] = UserLogin,
            ["user_id"] = UserId,
            ["user_email"] = UserEmail,
            ["project_visibility"] = "private",
        };
        if (Environment is not null)
        {
            claims["environment"] = Environment;
            claims["environment_protected"] = EnvironmentProtected ? "true" : "false";
        }

        return claims;
    }
}

/// <summary>How a test Kubernetes service account token is minted (defaults: a valid projected, pod-bound token).</summary>
public sealed class EmulatorServiceAccountTokenOptions
{
    /// <summary>The pod the token is bound to; <see langword="null"/> for a legacy, unbound token. Default <c>tbot-0</c>.</summary>
    public string? PodName { get; init; } = "tbot-0";

    /// <summary>The <c>aud</c> claim; default the Teleport cluster name (what <c>static_jwks</c> requires).</summary>
    public string? Audience { get; init; }

    /// <summary>The <c>iat</c> claim; default now (the emulator's clock).</summary>
    public DateTimeOffset? IssuedAt { get; init; }

    /// <summary>The <c>exp</c> claim; default <see cref="IssuedAt"/> + <see cref="Lifetime"/>.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>Lifetime when <see cref="Expires"/> is not set. Default 10 minutes (Kubernetes' minimum for projected tokens).</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Signs with a key the cluster does not publish.</summary>
    public bool SignWithUnpublishedKey { get; init; }
}
