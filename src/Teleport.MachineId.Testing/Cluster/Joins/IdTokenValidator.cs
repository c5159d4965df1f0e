using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Teleport.MachineId.Testing.Cluster.Joins;

/// <summary>What a validated ID token proved: the method, the subject and the claims (for join attributes and audit).</summary>
internal sealed record IdTokenIdentity(string JoinMethod, string Subject, IReadOnlyDictionary<string, string> Claims);

/// <summary>
/// Auth's checks of the OIDC-style join methods, in Teleport's order and with its messages:
/// <c>github</c> and <c>gitlab</c> (OIDC discovery on the issuer the token resource names, then
/// issuer, audience, expiry and signature as go-oidc checks them; GitHub's not-before with 2 min
/// leeway; the allow rules) and <c>kubernetes</c> (<c>static_jwks</c> as go-jose checks it with
/// 10 s leeway, pod binding and a ≤ 30 min lifetime; <c>in_cluster</c> through a TokenReview the
/// emulator answers from its Kubernetes stand-in; then the service account rules).
/// </summary>
internal sealed partial class IdTokenValidator
{
    private const string GitHubCloudIssuer = "https://token.actions.githubusercontent.com";
    private const string GitHubAudience = "teleport.cluster.local";
    private const string ServiceAccountPrefix = "system:serviceaccount:";
    private const int MaxDocumentBytes = 1024 * 1024;

    private readonly string _clusterName;
    private readonly TimeProvider _clock;
    private readonly HttpClient _http;
    private readonly Func<SecurityKey> _inClusterKey;

    public IdTokenValidator(string clusterName, TimeProvider clock, HttpClient http, Func<SecurityKey> inClusterKey)
    {
        _clusterName = clusterName;
        _clock = clock;
        _http = http;
        _inClusterKey = inClusterKey;
    }

    /// <exception cref="TraceException">The token is refused (Teleport's message).</exception>
    public async Task<IdTokenIdentity> ValidateAsync(EmulatorJoinToken token, string idToken, CancellationToken cancellationToken)
    {
        switch (token.JoinMethod)
        {
            case EmulatorJoinMethods.GitHub:
                {
                    if (string.IsNullOrEmpty(idToken))
                    {
                        throw TraceException.BadParameter("IDToken not provided for Github join request");
                    }

                    var spec = token.GitHub ?? throw TraceException.BadParameter("spec.github: field is required");
                    var issuer = string.IsNullOrEmpty(spec.EnterpriseServerHost) ? GitHubCloudIssuer : $"https://{spec.EnterpriseServerHost}/_services/token";
                    var claims = await VerifyOidcAsync(issuer, GitHubAudience, idToken, notBeforeLeeway: TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
                    if (!spec.Allow.Any(rule => MatchesGitHub(rule, claims)))
                    {
                        throw TraceException.AccessDenied("id token claims did not match any allow rules");
                    }

                    return new IdTokenIdentity(token.JoinMethod, Claim(claims, "sub"), claims);
                }

            case EmulatorJoinMethods.GitLab:
                {
                    if (string.IsNullOrEmpty(idToken))
                    {
                        throw TraceException.BadParameter("IDToken not provided for gitlab join request");
                    }

                    var spec = token.GitLab ?? throw TraceException.BadParameter("spec.gitlab: field is required");
                    var issuer = "https://" + (string.IsNullOrEmpty(spec.Domain) ? "gitlab.com" : spec.Domain);
                    var claims = await VerifyOidcAsync(issuer, _clusterName, idToken, notBeforeLeeway: null, cancellationToken).ConfigureAwait(false);
                    if (!spec.Allow.Any(rule => MatchesGitLab(rule, claims)))
                    {
                        throw TraceException.AccessDenied("id token claims did not match any allow rules");
                    }

                    return new IdTokenIdentity(token.JoinMethod, Claim(claims, "sub"), claims);
                }

            case EmulatorJoinMethods.Kubernetes:
                {
                    if (string.IsNullOrEmpty(idToken))
                    {
                        throw TraceException.BadParameter("IDToken not provided for kubernetes join request");
                    }

                    var spec = token.Kubernetes ?? throw TraceException.BadParameter("spec.kubernetes: field is required");
                    var (username, claims) = spec.Type switch
                    {
                        EmulatorKubernetesJoinSpec.StaticJwksType => await ValidateStaticJwksAsync(spec, idToken).ConfigureAwait(false),
                        EmulatorKubernetesJoinSpec.InCluster => await TokenReviewAsync(idToken).ConfigureAwait(false),
                        _ => throw TraceException.BadParameter($"unsupported kubernetes join type \"{spec.Type}\""),
                    };
                    if (!spec.AllowServiceAccounts.Any(account => string.Equals(ServiceAccountPrefix + account, username, StringComparison.Ordinal)))
                    {
                        throw TraceException.AccessDenied("kubernetes token did not match any allow rules");
                    }

                    return new IdTokenIdentity(token.JoinMethod, username, claims);
                }

            default:
                throw TraceException.BadParameter($"join method \"{token.JoinMethod}\" does not use ID tokens");
        }
    }

    private static bool MatchesGitHub(EmulatorGitHubRule rule, IReadOnlyDictionary<string, string> claims) =>
        Exact(rule.Sub, claims, "sub") && Exact(rule.Repository, claims, "repository") && Exact(rule.RepositoryOwner, claims, "repository_owner")
        && Exact(rule.Workflow, claims, "workflow") && Exact(rule.Environment, claims, "environment") && Exact(rule.Actor, claims, "actor")
        && Exact(rule.Ref, claims, "ref") && Exact(rule.RefType, claims, "ref_type");

    private static bool MatchesGitLab(EmulatorGitLabRule rule, IReadOnlyDictionary<string, string> claims) =>
        Glob(rule.Sub, claims, "sub") && Glob(rule.Ref, claims, "ref") && Exact(rule.RefType, claims, "ref_type")
        && Glob(rule.NamespacePath, claims, "namespace_path") && Glob(rule.ProjectPath, claims, "project_path")
        && Exact(rule.PipelineSource, claims, "pipeline_source") && Exact(rule.Environment, claims, "environment")
        && Exact(rule.UserLogin, claims, "user_login") && Exact(rule.UserId, claims, "user_id") && Exact(rule.UserEmail, claims, "user_email")
        && Bool(rule.RefProtected, claims, "ref_protected") && Bool(rule.EnvironmentProtected, claims, "environment_protected")
        && Exact(rule.CiConfigSha, claims, "ci_config_sha") && Exact(rule.CiConfigRefUri, claims, "ci_config_ref_uri")
        && Exact(rule.DeploymentTier, claims, "deployment_tier") && Exact(rule.ProjectVisibility, claims, "project_visibility");

    private static bool Exact(string? want, IReadOnlyDictionary<string, string> claims, string name) =>
        string.IsNullOrEmpty(want) || string.Equals(Claim(claims, name), want, StringComparison.Ordinal);

    /// <summary>Teleport's <c>joinRuleGlobMatch</c>: <c>*</c> any run, <c>?</c> one character, anchored.</summary>
    private static bool Glob(string? want, IReadOnlyDictionary<string, string> claims, string name)
    {
        if (string.IsNullOrEmpty(want))
        {
            return true;
        }

        var pattern = "^" + Regex.Escape(want).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$";
        return Regex.IsMatch(Claim(claims, name), pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    private static bool Bool(bool? want, IReadOnlyDictionary<string, string> claims, string name) =>
        want is not { } value || Claim(claims, name) == (value ? "true" : "false");

    private static string Claim(IReadOnlyDictionary<string, string> claims, string name) => claims.GetValueOrDefault(name) ?? string.Empty;

    /// <summary>go-oidc's provider discovery and <c>Verify</c>, then Teleport's not-before check.</summary>
    private async Task<IReadOnlyDictionary<string, string>> VerifyOidcAsync(
        string issuer, string audience, string idToken, TimeSpan? notBeforeLeeway, CancellationToken cancellationToken)
    {
        var discovery = await GetJsonAsync(issuer.TrimEnd('/') + "/.well-known/openid-configuration", cancellationToken).ConfigureAwait(false);
        var advertised = discovery.TryGetProperty("issuer", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
        if (!string.Equals(advertised, issuer, StringComparison.Ordinal))
        {
            throw TraceException.BadParameter($"oidc: issuer did not match the issuer returned by provider, expected \"{issuer}\" got \"{advertised}\"");
        }

        var jwksUri = discovery.TryGetProperty("jwks_uri", out var j) && j.ValueKind == JsonValueKind.String ? j.GetString() : null;
        if (string.IsNullOrEmpty(jwksUri))
        {
            throw TraceException.BadParameter("oidc: provider discovery document has no jwks_uri");
        }

        var token = JwtKeys.ReadUnverified(idToken, "oidc");
        if (!string.Equals(token.Issuer, issuer, StringComparison.Ordinal))
        {
            throw TraceException.AccessDenied($"oidc: id token issued by a different provider, expected \"{issuer}\" got \"{token.Issuer}\"");
        }

        if (!token.Audiences.Contains(audience, StringComparer.Ordinal))
        {
            throw TraceException.AccessDenied($"oidc: expected audience \"{audience}\" got [{string.Join(' ', token.Audiences.Select(a => "\"" + a + "\""))}]");
        }

        var now = _clock.GetUtcNow();
        if (!token.TryGetPayloadValue<long>("exp", out var exp) || DateTimeOffset.FromUnixTimeSeconds(exp) < now)
        {
            throw TraceException.AccessDenied($"oidc: token is expired (Token Expiry: {Format(token.TryGetPayloadValue<long>("exp", out var e) ? DateTimeOffset.FromUnixTimeSeconds(e) : DateTimeOffset.UnixEpoch)})");
        }

        var keys = new JsonWebKeySet((await GetJsonAsync(jwksUri, cancellationToken).ConfigureAwait(false)).GetRawText()).GetSigningKeys();
        try
        {
            await JwtKeys.VerifySignatureAsync(idToken, keys, "oidc").ConfigureAwait(false);
        }
        catch (TraceException)
        {
            throw TraceException.AccessDenied("failed to verify signature: failed to verify id token signature");
        }

        if (notBeforeLeeway is { } leeway && token.TryGetPayloadValue<long>("nbf", out var nbf) && now + leeway < DateTimeOffset.FromUnixTimeSeconds(nbf))
        {
            throw TraceException.AccessDenied($"token not before in future (nbf {Format(DateTimeOffset.FromUnixTimeSeconds(nbf))})");
        }

        return Flatten(token);
    }

    /// <summary>Teleport's <c>ValidateTokenWithJWKS</c>.</summary>
    private async Task<(string Username, IReadOnlyDictionary<string, string> Claims)> ValidateStaticJwksAsync(EmulatorKubernetesJoinSpec spec, string idToken)
    {
        var parsed = JwtKeys.ReadUnverified(idToken, "parsing jwt");
        JsonWebKeySet jwks;
        try
        {
            jwks = new JsonWebKeySet(spec.StaticJwks ?? "{}");
        }
        catch (ArgumentException ex)
        {
            throw TraceException.BadParameter("parsing provided jwks: " + ex.Message);
        }

        await JwtKeys.VerifySignatureAsync(idToken, jwks.GetSigningKeys(), "validating jwt signature").ConfigureAwait(false);
        CheckServiceAccountClaims(parsed, TimeSpan.FromSeconds(10), _clusterName, "validating jwt claims");
        var podName = PodName(parsed);
        if (string.IsNullOrEmpty(podName))
        {
            throw TraceException.BadParameter("static_jwks joining requires the use of projected pod bound service account token");
        }

        if (!parsed.TryGetPayloadValue<long>("exp", out var exp))
        {
            throw TraceException.BadParameter("static_jwks joining requires the use of a service account token with `exp`");
        }

        if (!parsed.TryGetPayloadValue<long>("iat", out var iat))
        {
            throw TraceException.BadParameter("static_jwks joining requires the use of a service account token with `iat`");
        }

        if (exp - iat > 30 * 60)
        {
            throw TraceException.BadParameter("static_jwks joining requires the use of a service account token with a TTL of less than 30m0s");
        }

        return (parsed.Subject, Flatten(parsed));
    }

    /// <summary>
    /// The TokenReview Auth runs for <c>in_cluster</c> tokens, answered by the emulator's Kubernetes
    /// stand-in: its signature, validity and audiences (the cluster name or the API server's default).
    /// </summary>
    private async Task<(string Username, IReadOnlyDictionary<string, string> Claims)> TokenReviewAsync(string idToken)
    {
        JsonWebToken parsed;
        try
        {
            parsed = await JwtKeys.VerifySignatureAsync(idToken, [_inClusterKey()], "token review").ConfigureAwait(false);
            CheckServiceAccountClaims(parsed, TimeSpan.Zero, null, "token review");
            if (!parsed.Audiences.Any(a => a == _clusterName || a == EmulatorKubernetesCluster.DefaultAudience))
            {
                throw TraceException.AccessDenied("token audiences do not match the cluster's");
            }
        }
        catch (TraceException)
        {
            throw TraceException.AccessDenied("kubernetes failed to validate token: [invalid bearer token, token lookup failed]");
        }

        var username = parsed.Subject;
        if (!username.StartsWith(ServiceAccountPrefix, StringComparison.Ordinal))
        {
            throw TraceException.BadParameter($"token user is not a service account: {username}");
        }

        if (username[ServiceAccountPrefix.Length..].Split(':').Length != 2)
        {
            throw TraceException.BadParameter($"token user has malformed service account name: {username}");
        }

        if (string.IsNullOrEmpty(PodName(parsed)))
        {
            throw TraceException.BadParameter("legacy SA tokens are not accepted as kubernetes version v1.31.0 supports bound tokens");
        }

        return (username, Flatten(parsed));
    }

    /// <summary>go-jose's <c>ValidateWithLeeway</c>: audience, expiry, not-before, issued-at.</summary>
    private void CheckServiceAccountClaims(JsonWebToken token, TimeSpan leeway, string? audience, string what)
    {
        var now = _clock.GetUtcNow();
        if (audience is not null && !token.Audiences.Contains(audience, StringComparer.Ordinal))
        {
            throw TraceException.AccessDenied($"{what}: go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)");
        }

        if (token.TryGetPayloadValue<long>("exp", out var exp) && now - leeway > DateTimeOffset.FromUnixTimeSeconds(exp))
        {
            throw TraceException.AccessDenied($"{what}: go-jose/go-jose/jwt: validation failed, token is expired (exp)");
        }

        if (token.TryGetPayloadValue<long>("nbf", out var nbf) && now + leeway < DateTimeOffset.FromUnixTimeSeconds(nbf))
        {
            throw TraceException.AccessDenied($"{what}: go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)");
        }

        if (token.TryGetPayloadValue<long>("iat", out var iat) && now + leeway < DateTimeOffset.FromUnixTimeSeconds(iat))
        {
            throw TraceException.AccessDenied($"{what}: go-jose/go-jose/jwt: validation failed, token issued in the future (iat)");
        }
    }

    private static string? PodName(JsonWebToken token)
    {
        if (!token.TryGetPayloadValue<JsonElement>("kubernetes.io", out var kubernetes) || kubernetes.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        return kubernetes.TryGetProperty("pod", out var pod) && pod.ValueKind == JsonValueKind.Object
            && pod.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()
            : null;
    }

    /// <summary>Top-level claims as strings (nested objects as their JSON), for rules, join attributes and audit.</summary>
    private static Dictionary<string, string> Flatten(JsonWebToken token)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(Base64UrlEncoder.Decode(token.EncodedPayload));
        foreach (var property in document.RootElement.EnumerateObject())
        {
            result[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString() ?? string.Empty,
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => property.Value.GetRawText(),
            };
        }

        return result;
    }

    private async Task<JsonElement> GetJsonAsync(string url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var body = await ReadBoundedAsync(response.Content, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw TraceException.BadParameter($"oidc: get {url}: {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            using var document = JsonDocument.Parse(body);
            return document.RootElement.Clone();
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            throw TraceException.ConnectionProblem($"oidc: get {url}: {ex.Message}");
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using var disposeStream = stream.ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxDocumentBytes)
            {
                throw new HttpRequestException("the document is larger than 1 MiB");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
