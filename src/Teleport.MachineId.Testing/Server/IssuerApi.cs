using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Teleport.MachineId.Testing.Cluster;

namespace Teleport.MachineId.Testing.Server;

/// <summary>
/// The test OIDC issuer's HTTP surface (on its own HTTPS listener): OIDC discovery and JWKS for a
/// GitHub Enterprise Server (<c>/_services/token</c>) and a self-hosted GitLab (root), and the GitHub
/// Actions runner's ID token endpoint (on a plain-HTTP loopback listener).
/// </summary>
internal static class IssuerApi
{
    private const string GitHubPrefix = "/_services/token";

    public static void Map(WebApplication app, EmulatorRuntime runtime)
    {
        app.MapGet(GitHubPrefix + "/.well-known/openid-configuration", context =>
            OnIssuer(context, runtime, () => Discovery($"https://{runtime.IssuerHost}{GitHubPrefix}", $"https://{runtime.IssuerHost}{GitHubPrefix}/.well-known/jwks")));
        app.MapGet(GitHubPrefix + "/.well-known/jwks", context => OnIssuer(context, runtime, () => runtime.IdTokenMinter.Jwks));
        app.MapGet("/.well-known/openid-configuration", context =>
            OnIssuer(context, runtime, () => Discovery($"https://{runtime.IssuerHost}", $"https://{runtime.IssuerHost}/oauth/discovery/keys")));
        app.MapGet("/oauth/discovery/keys", context => OnIssuer(context, runtime, () => runtime.IdTokenMinter.Jwks));
        app.MapGet("/_apis/distributedtask/hubs/Actions/plans/{plan}/jobs/{job}/idtoken", context => ActionsIdTokenAsync(context, runtime));
    }

    private static async Task OnIssuer(HttpContext context, EmulatorRuntime runtime, Func<string> body)
    {
        if (RequestContext.Endpoint(context, runtime) != EndpointKind.Issuer)
        {
            await WebApi.WriteErrorAsync(context, TraceException.NotFound("not found")).ConfigureAwait(false);
            return;
        }

        await WriteAsync(context, StatusCodes.Status200OK, body()).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>GET …/idtoken?api-version=2.0&amp;audience=…</c> with the job's bearer token: <c>{"value": "&lt;jwt&gt;"}</c>,
    /// as a runner answers <c>ACTIONS_ID_TOKEN_REQUEST_URL</c>. Anything else is 401 or 404.
    /// </summary>
    private static async Task ActionsIdTokenAsync(HttpContext context, EmulatorRuntime runtime)
    {
        var job = context.Request.RouteValues["job"] as string ?? string.Empty;
        if (RequestContext.Endpoint(context, runtime) != EndpointKind.ActionsRunner
            || runtime.OidcIssuer is not { } issuer || !issuer.TryGetJob(job, out var registered))
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, "{\"message\":\"job not found\"}").ConfigureAwait(false);
            return;
        }

        var authorization = context.Request.Headers.Authorization.ToString();
        var expected = "Bearer " + registered.RequestToken;
        if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(authorization), Encoding.UTF8.GetBytes(expected)))
        {
            await WriteAsync(context, StatusCodes.Status401Unauthorized, "{\"message\":\"Unauthorized\"}").ConfigureAwait(false);
            return;
        }

        var audience = context.Request.Query["audience"].ToString();
        var token = issuer.MintForJob(registered, string.IsNullOrEmpty(audience) ? null : audience);
        registered.Record(audience);
        await WriteAsync(context, StatusCodes.Status200OK, JsonSerializer.Serialize(new Dictionary<string, object> { ["count"] = 1, ["value"] = token }))
            .ConfigureAwait(false);
    }

    private static string Discovery(string issuer, string jwksUri) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["issuer"] = issuer,
        ["jwks_uri"] = jwksUri,
        ["subject_types_supported"] = new[] { "public", "pairwise" },
        ["response_types_supported"] = new[] { "id_token" },
        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        ["claims_supported"] = new[] { "sub", "aud", "exp", "iat", "iss", "jti", "nbf" },
    });

    private static async Task WriteAsync(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
    }
}
