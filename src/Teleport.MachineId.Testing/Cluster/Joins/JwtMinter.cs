using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Teleport.MachineId.Testing.Cluster.Joins;

/// <summary>
/// Signs test JWTs (RS256) the way an OIDC provider or a Kubernetes API server does: a published
/// key (in its JWKS) and an unpublished one for forged tokens.
/// </summary>
internal sealed class JwtMinter : IDisposable
{
    private readonly RSA _published = RSA.Create(2048);
    private readonly RSA _unpublished = RSA.Create(2048);
    private readonly string _publishedKeyId;
    private readonly string _unpublishedKeyId;

    public JwtMinter()
    {
        _publishedKeyId = JwtKeys.KeyId(_published.ExportSubjectPublicKeyInfo());
        _unpublishedKeyId = JwtKeys.KeyId(_unpublished.ExportSubjectPublicKeyInfo());
        Jwks = JwtKeys.JwksJson((_published, _publishedKeyId));
    }

    /// <summary>The published key as a JWKS document.</summary>
    public string Jwks { get; }

    /// <summary>The published verification key.</summary>
    public SecurityKey PublishedKey => new RsaSecurityKey(_published) { KeyId = _publishedKeyId };

    /// <summary>Signs a token; <paramref name="claims"/> values are strings, numbers, booleans or nested dictionaries.</summary>
    public string Mint(
        string issuer, string? audience, IDictionary<string, object> claims,
        DateTimeOffset? issuedAt, DateTimeOffset? notBefore, DateTimeOffset? expires, bool unpublishedKey)
    {
        var payload = new Dictionary<string, object>(claims, StringComparer.Ordinal) { ["iss"] = issuer };
        if (audience is not null)
        {
            payload["aud"] = audience;
        }

        // Times go in as plain claims so a test can mint expired, not-yet-valid or time-less tokens.
        Put(payload, "iat", issuedAt);
        Put(payload, "nbf", notBefore);
        Put(payload, "exp", expires);
        var key = unpublishedKey
            ? new RsaSecurityKey(_unpublished) { KeyId = _publishedKeyId }
            : new RsaSecurityKey(_published) { KeyId = _publishedKeyId };
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(JsonSerializer.Serialize(ToJsonTree(payload)), new SigningCredentials(key, SecurityAlgorithms.RsaSha256));
    }

    public void Dispose()
    {
        _published.Dispose();
        _unpublished.Dispose();
    }

    private static void Put(Dictionary<string, object> payload, string name, DateTimeOffset? value)
    {
        if (value is { } time)
        {
            payload[name] = time.ToUnixTimeSeconds();
        }
    }

    private static Dictionary<string, JsonElement> ToJsonTree(Dictionary<string, object> payload) =>
        payload.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value, p.Value.GetType()), StringComparer.Ordinal);
}
