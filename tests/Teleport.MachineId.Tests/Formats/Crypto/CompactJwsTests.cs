using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Tests.Formats.Crypto;

/// <summary>The hand-written compact JWS signer against an independent verifier (Microsoft.IdentityModel; Ed25519 through the emulator's check).</summary>
public sealed class CompactJwsTests
{
    [TestCase(KeyAlgorithm.Rsa2048, "RS256")]
    [TestCase(KeyAlgorithm.EcdsaP256, "ES256")]
    [TestCase(KeyAlgorithm.EcdsaP384, "ES384")]
    public async Task Signature_verifies_with_IdentityModel(KeyAlgorithm algorithm, string alg)
    {
        using var key = PrivateKey.Generate(algorithm);
        var payload = "{\"iss\":\"example.teleport.test\",\"nonce\":\"abc\"}";

        var jws = CompactJws.Sign(key, Encoding.UTF8.GetBytes(payload));

        var token = new JsonWebToken(jws);
        Assert.That(token.Alg, Is.EqualTo(alg));
        Assert.That(token.Typ, Is.EqualTo("JWT"));
        Assert.That(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(token.EncodedPayload)), Is.EqualTo(payload), "the payload is the challenge's bytes as given");
        var spki = key.PublicKey.ExportSubjectPublicKeyInfo();
        SecurityKey verifier = algorithm == KeyAlgorithm.Rsa2048
            ? new RsaSecurityKey(Import(System.Security.Cryptography.RSA.Create(), spki))
            : new ECDsaSecurityKey(Import(System.Security.Cryptography.ECDsa.Create(), spki));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(jws, new TokenValidationParameters
        {
            IssuerSigningKey = verifier,
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidateLifetime = false,
            RequireExpirationTime = false,
        });
        Assert.That(result.IsValid, Is.True, result.Exception?.Message);
    }

    [Test]
    public void Ed25519_uses_EdDSA_with_a_64_byte_signature()
    {
        using var key = PrivateKey.Generate(KeyAlgorithm.Ed25519);

        var jws = CompactJws.Sign(key, "{\"nonce\":\"x\"}"u8);

        var parts = jws.Split('.');
        Assert.That(new JsonWebToken(jws).Alg, Is.EqualTo("EdDSA"));
        Assert.That(Base64UrlEncoder.DecodeBytes(parts[2]), Has.Length.EqualTo(64));
    }

    private static T Import<T>(T algorithm, byte[] spki)
        where T : System.Security.Cryptography.AsymmetricAlgorithm
    {
        algorithm.ImportSubjectPublicKeyInfo(spki, out _);
        return algorithm;
    }
}
