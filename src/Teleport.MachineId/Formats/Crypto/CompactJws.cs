using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// Signs a payload as a compact JWS (RFC 7515) with header <c>{"alg":…,"typ":"JWT"}</c>, the form in
/// which a <c>bound_keypair</c> bot answers the cluster's challenge (go-jose with the algorithm that
/// fits the key: RS256, ES256/384/512 or EdDSA).
/// </summary>
/// <remarks>
/// Hand-written on purpose: the payload is the challenge's bytes as given (no claims to build), the
/// keys are the SDK's own <see cref="PrivateKey"/> (Ed25519 through BouncyCastle), and the JWT
/// libraries on NuGet either lack EdDSA (Microsoft.IdentityModel) or would add a dependency and
/// reflection-based JSON to the AOT-compatible core for three base64url segments.
/// </remarks>
internal static class CompactJws
{
    /// <summary>The JWS algorithm for a key (go-jose's <c>AlgorithmForPublicKey</c>).</summary>
    public static string AlgorithmFor(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa2048 => "RS256",
        KeyAlgorithm.EcdsaP256 => "ES256",
        KeyAlgorithm.EcdsaP384 => "ES384",
        KeyAlgorithm.EcdsaP521 => "ES512",
        KeyAlgorithm.Ed25519 => "EdDSA",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown key algorithm."),
    };

    /// <summary>Signs <paramref name="payload"/>: <c>base64url(header).base64url(payload).base64url(signature)</c>.</summary>
    /// <param name="key">The signing key.</param>
    /// <param name="payload">The bytes to sign (not re-encoded).</param>
    /// <returns>The compact serialization.</returns>
    public static string Sign(PrivateKey key, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(key);
        var header = Encoding.ASCII.GetBytes("{\"alg\":\"" + AlgorithmFor(key.Algorithm) + "\",\"typ\":\"JWT\"}");
        var signingInput = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(payload);
        var signature = SignRaw(key, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>A JWS signature: PKCS#1 v1.5 for RSA, r‖s (IEEE P1363) for ECDSA, RFC 8032 for Ed25519.</summary>
    private static byte[] SignRaw(PrivateKey key, byte[] data)
    {
        switch (key.Algorithm)
        {
            case KeyAlgorithm.Ed25519:
                var signature = new byte[64];
                key.Ed25519Parameters.Sign(Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Algorithm.Ed25519, null, data, signature);
                return signature;
            case KeyAlgorithm.Rsa2048:
                return key.Rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            default:
                return key.Ecdsa.SignData(data, KeyAlgorithmInfo.EcdsaHash(key.Algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
    }
}
