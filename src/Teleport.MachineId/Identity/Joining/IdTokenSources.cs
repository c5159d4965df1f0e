using System.Net.Http.Headers;
using System.Text.Json;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>Where a delegated join method finds the ID token it presents (read afresh for every join).</summary>
internal interface IIdTokenSource
{
    /// <summary>Describes the source (an environment variable's or a file's name; never the token).</summary>
    string Description { get; }

    /// <summary>Gets a current ID token.</summary>
    /// <exception cref="TeleportJoinException">The token is not available (the message says what to set up).</exception>
    Task<string> GetIdTokenAsync(CancellationToken cancellationToken);
}

/// <summary>
/// GitHub Actions (<c>lib/githubactions/token_source.go</c>): <c>GET $ACTIONS_ID_TOKEN_REQUEST_URL&amp;audience=teleport.cluster.local</c>
/// with <c>Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN</c> and <c>Accept: application/json; api-version=2.0</c>;
/// the runner answers <c>{"value": "&lt;jwt&gt;"}</c>.
/// </summary>
internal sealed class GitHubActionsIdTokenSource(Func<string, string?> environment, HttpMessageHandler? handler = null) : IIdTokenSource
{
    public const string RequestUrlVariable = "ACTIONS_ID_TOKEN_REQUEST_URL";
    public const string RequestTokenVariable = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
    public const string Audience = "teleport.cluster.local";
    private const int MaxResponseBytes = 64 * 1024;

    public string Description => "the GitHub Actions runner (" + RequestUrlVariable + ")";

    public async Task<string> GetIdTokenAsync(CancellationToken cancellationToken)
    {
        var url = environment(RequestUrlVariable);
        var bearer = environment(RequestTokenVariable);
        if (string.IsNullOrEmpty(url))
        {
            throw new TeleportJoinException(
                $"The github join method needs the {RequestUrlVariable} environment variable, which GitHub Actions sets only for jobs with 'permissions: id-token: write'.");
        }

        if (string.IsNullOrEmpty(bearer))
        {
            throw new TeleportJoinException(
                $"The github join method needs the {RequestTokenVariable} environment variable, which GitHub Actions sets only for jobs with 'permissions: id-token: write'.");
        }

        // As tbot: the variable already carries a query string (?api-version=2.0).
        var requestUri = url + "&audience=" + Uri.EscapeDataString(Audience);
        using var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        client.Timeout = TimeSpan.FromSeconds(30);
        using var request = new HttpRequestMessage(HttpMethod.Get, requestUri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        request.Headers.Accept.ParseAdd("application/json; api-version=2.0");
        var where = DescribeUrl(url);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var body = await ReadBoundedAsync(response.Content, MaxResponseBytes, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new TeleportJoinException($"The GitHub Actions runner at {where} refused the ID token request (HTTP {(int)response.StatusCode}); check the job's 'permissions: id-token: write'.");
            }

            if (!System.Text.Unicode.Utf8.IsValid(body))
            {
                // JsonDocument would only notice when the string is read, with an InvalidOperationException.
                throw new TeleportJoinException($"The GitHub Actions runner at {where} answered with something other than JSON.");
            }

            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.String
                && value.GetString() is { Length: > 0 } token)
            {
                return token;
            }

            throw new TeleportJoinException($"The GitHub Actions runner at {where} answered without an ID token (response did not include ID token).");
        }
        catch (JsonException ex)
        {
            throw new TeleportJoinException($"The GitHub Actions runner at {where} answered with something other than JSON.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new TeleportConnectionException($"The GitHub Actions runner at {where} could not be reached ({ex.Message}); the join can be retried.", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TeleportConnectionException($"The GitHub Actions runner at {where} did not answer within 30 s; the join can be retried.", ex);
        }
    }

    internal static async Task<byte[]> ReadBoundedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using var disposeStream = stream.ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new TeleportJoinException($"The ID token response is larger than {limit / 1024} KiB.");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>The URL's scheme, host and path only: the query may carry run identifiers.</summary>
    private static string DescribeUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path) : "(unparsable " + RequestUrlVariable + ")";
}

/// <summary>GitLab CI (<c>lib/gitlab</c>): the ID token a job declares under <c>id_tokens:</c>, in an environment variable (default <c>TBOT_GITLAB_JWT</c>).</summary>
internal sealed class GitLabIdTokenSource(Func<string, string?> environment, string? variableName) : IIdTokenSource
{
    public const string DefaultVariable = "TBOT_GITLAB_JWT";

    private readonly string _variable = string.IsNullOrWhiteSpace(variableName) ? DefaultVariable : variableName.Trim();

    public string Description => "the environment variable " + _variable;

    public Task<string> GetIdTokenAsync(CancellationToken cancellationToken)
    {
        var token = environment(_variable)?.Trim();
        return string.IsNullOrEmpty(token)
            ? throw new TeleportJoinException(
                $"The gitlab join method needs an ID token in the environment variable {_variable}; declare it in the job: id_tokens: {_variable}: aud: <cluster name>.")
            : Task.FromResult(token);
    }
}

/// <summary>
/// Kubernetes (<c>lib/kube/token</c>): the pod's projected service account token, from
/// <c>onboarding.kubernetes.token_path</c>, else <c>$KUBERNETES_TOKEN_PATH</c>, else
/// <c>/var/run/secrets/kubernetes.io/serviceaccount/token</c>; read for every join (the kubelet rotates it), trimmed.
/// </summary>
internal sealed class KubernetesTokenSource(Func<string, string?> environment, string? configuredPath) : IIdTokenSource
{
    public const string PathVariable = "KUBERNETES_TOKEN_PATH";
    public const string DefaultPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    private const int MaxTokenBytes = 64 * 1024;

    public string Path =>
        !string.IsNullOrWhiteSpace(configuredPath) ? configuredPath
        : environment(PathVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
        : DefaultPath;

    public string Description => "the service account token file " + Path;

    public async Task<string> GetIdTokenAsync(CancellationToken cancellationToken)
    {
        var path = Path;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > MaxTokenBytes)
            {
                throw new TeleportJoinException($"The service account token file '{path}' is larger than {MaxTokenBytes / 1024} KiB; it is not a Kubernetes token.");
            }

            var token = (await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).Trim();
            return token.Length > 0
                ? token
                : throw new TeleportJoinException($"The service account token file '{path}' is empty.");
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TeleportJoinException(
                $"The kubernetes join method needs the pod's service account token at '{path}' (set onboarding.kubernetes.token_path or {PathVariable}, or mount a projected token).", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TeleportJoinException($"Cannot read the service account token file '{path}': {ex.GetType().Name}.", ex);
        }
    }
}
