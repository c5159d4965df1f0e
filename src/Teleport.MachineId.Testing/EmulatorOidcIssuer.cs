using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Teleport.MachineId.Testing.Cluster.Joins;
using Teleport.MachineId.Testing.Server;

namespace Teleport.MachineId.Testing;

/// <summary>
/// A test OIDC identity provider on loopback, standing in for a GitHub Enterprise Server or a
/// self-hosted GitLab: it publishes discovery documents and signing keys over HTTPS (the web CA's
/// certificate) and mints ID tokens with the claims a test chooses. Point a token resource at it
/// as an admin would (<c>spec.github.enterprise_server_host</c> or <c>spec.gitlab.domain</c> =
/// <see cref="Host"/>). It also serves the GitHub Actions runner's ID token endpoint
/// (<see cref="CreateGitHubActionsJob"/>) on a plain-HTTP loopback listener.
/// </summary>
public sealed class EmulatorOidcIssuer
{
    /// <summary>The audience GitHub Actions tokens are requested for by Teleport clients.</summary>
    public const string GitHubAudience = "teleport.cluster.local";

    private readonly EmulatorRuntime _runtime;
    private readonly ConcurrentDictionary<string, EmulatorGitHubActionsJob> _jobs = new(StringComparer.Ordinal);

    internal EmulatorOidcIssuer(EmulatorRuntime runtime) => _runtime = runtime;

    /// <summary>The issuer host, <c>127.0.0.1:&lt;port&gt;</c> (HTTPS with the web CA's certificate).</summary>
    public string Host => _runtime.IssuerHost;

    /// <summary>The GitHub Enterprise Server issuer Teleport derives from <see cref="Host"/>: <c>https://&lt;host&gt;/_services/token</c>.</summary>
    public string GitHubIssuerUrl => $"https://{Host}/_services/token";

    /// <summary>The self-hosted GitLab issuer Teleport derives from <see cref="Host"/>: <c>https://&lt;host&gt;</c>.</summary>
    public string GitLabIssuerUrl => $"https://{Host}";

    /// <summary>The signing keys as a JWKS document.</summary>
    public string Jwks => _runtime.IdTokenMinter.Jwks;

    /// <summary>Mints a GitHub Actions ID token from this issuer (audience <c>teleport.cluster.local</c> unless overridden).</summary>
    /// <param name="claims">The workflow claims; defaults when null.</param>
    /// <param name="options">Times, audience, issuer, forged signature.</param>
    /// <returns>The compact JWT.</returns>
    public string MintGitHubIdToken(EmulatorGitHubClaims? claims = null, EmulatorIdTokenOptions? options = null) =>
        Mint(GitHubIssuerUrl, GitHubAudience, (claims ?? new EmulatorGitHubClaims()).ToClaims(), options ?? new EmulatorIdTokenOptions());

    /// <summary>Mints a GitLab CI ID token from this issuer (audience = the cluster name unless overridden, as <c>id_tokens: aud:</c> sets it).</summary>
    /// <param name="claims">The pipeline claims; defaults when null.</param>
    /// <param name="options">Times, audience, issuer, forged signature.</param>
    /// <returns>The compact JWT.</returns>
    public string MintGitLabIdToken(EmulatorGitLabClaims? claims = null, EmulatorIdTokenOptions? options = null) =>
        Mint(GitLabIssuerUrl, _runtime.Settings.ClusterName, (claims ?? new EmulatorGitLabClaims()).ToClaims(), options ?? new EmulatorIdTokenOptions());

    /// <summary>
    /// Registers a GitHub Actions job: its runner endpoint answers <c>GET &lt;RequestUrl&gt;&amp;audience=…</c>
    /// with <c>Authorization: Bearer &lt;RequestToken&gt;</c> by <c>{"value": "&lt;jwt&gt;"}</c>, a token with
    /// these claims for the requested audience — what a runner gives a step through
    /// <c>ACTIONS_ID_TOKEN_REQUEST_URL</c> and <c>ACTIONS_ID_TOKEN_REQUEST_TOKEN</c>.
    /// </summary>
    /// <param name="claims">The workflow claims; defaults when null.</param>
    /// <returns>The job (its URL, bearer token and request log).</returns>
    public EmulatorGitHubActionsJob CreateGitHubActionsJob(EmulatorGitHubClaims? claims = null)
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        var job = new EmulatorGitHubActionsJob(
            $"http://{_runtime.ActionsRunnerHost}/_apis/distributedtask/hubs/Actions/plans/{id}/jobs/{id}/idtoken?api-version=2.0",
            Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant(),
            claims ?? new EmulatorGitHubClaims());
        _jobs[id] = job;
        return job;
    }

    internal bool TryGetJob(string id, out EmulatorGitHubActionsJob job) => _jobs.TryGetValue(id, out job!);

    internal string MintForJob(EmulatorGitHubActionsJob job, string? audience) =>
        Mint(GitHubIssuerUrl, audience ?? "https://github.com/" + job.Claims.Repository.Split('/')[0], job.Claims.ToClaims(), new EmulatorIdTokenOptions());

    private string Mint(string issuer, string audience, Dictionary<string, object> claims, EmulatorIdTokenOptions options)
    {
        var issuedAt = options.IssuedAt ?? _runtime.Clock.GetUtcNow();
        claims["jti"] = Guid.NewGuid().ToString("D", CultureInfo.InvariantCulture);
        return _runtime.IdTokenMinter.Mint(
            options.Issuer ?? issuer, options.Audience ?? audience, claims,
            issuedAt, options.NotBefore ?? issuedAt, options.Expires ?? issuedAt + options.Lifetime, options.SignWithUnpublishedKey);
    }
}

/// <summary>A GitHub Actions job whose runner endpoint hands out ID tokens (see <see cref="EmulatorOidcIssuer.CreateGitHubActionsJob"/>).</summary>
public sealed class EmulatorGitHubActionsJob
{
    private readonly ConcurrentQueue<string> _audiences = new();

    internal EmulatorGitHubActionsJob(string requestUrl, string requestToken, EmulatorGitHubClaims claims)
    {
        RequestUrl = requestUrl;
        RequestToken = requestToken;
        Claims = claims;
    }

    /// <summary>The value of <c>ACTIONS_ID_TOKEN_REQUEST_URL</c> (already has a query string: clients append <c>&amp;audience=…</c>).</summary>
    public string RequestUrl { get; }

    /// <summary>The value of <c>ACTIONS_ID_TOKEN_REQUEST_TOKEN</c> (a bearer secret).</summary>
    public string RequestToken { get; }

    /// <summary>The claims of the tokens this job hands out.</summary>
    public EmulatorGitHubClaims Claims { get; }

    /// <summary>The audiences requested so far (one entry per token handed out).</summary>
    public IReadOnlyList<string> RequestedAudiences => _audiences.ToArray();

    internal void Record(string audience) => _audiences.Enqueue(audience);
}
