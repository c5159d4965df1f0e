using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Testing.Cluster.Joins;

/// <summary>
/// JWT/JWS helpers the emulator's join validation shares. Tokens are parsed, signed and verified
/// with Microsoft.IdentityModel; only the EdDSA (Ed25519) signature check is added here, because
/// IdentityModel has no Ed25519 support and Teleport's bound keypair keys are Ed25519 in the
/// balanced suites (go-jose picks the algorithm from the key: RS256, ES256 or EdDSA).
/// </summary>
internal static class JwtKeys
{
    /// <summary>Teleport's <c>jwt.KeyID</c>: unpadded base64url of SHA-256 over the PKIX public key.</summary>
    public static string KeyId(ReadOnlySpan<byte> subjectPublicKeyInfo) => Base64UrlEncoder.Encode(SHA256.HashData(subjectPublicKeyInfo));

    /// <summary>A verification key for an SSH/PKIX public key (RSA, ECDSA P-256/384/521, Ed25519).</summary>
    public static SecurityKey ToSecurityKey(PublicKeyInfo key)
    {
        var spki = key.ExportSubjectPublicKeyInfo();
        switch (key.Algorithm)
        {
            case KeyAlgorithm.Rsa2048:
                var rsa = RSA.Create();
                rsa.ImportSubjectPublicKeyInfo(spki, out _);
                return new RsaSecurityKey(rsa) { KeyId = KeyId(spki) };
            case KeyAlgorithm.Ed25519:
                return new Ed25519SecurityKey(spki.AsSpan(spki.Length - 32).ToArray()) { KeyId = KeyId(spki) };
            default:
                var ecdsa = ECDsa.Create();
                ecdsa.ImportSubjectPublicKeyInfo(spki, out _);
                return new ECDsaSecurityKey(ecdsa) { KeyId = KeyId(spki) };
        }
    }

    /// <summary>The JWS algorithm go-jose uses for a key (<c>jwt.AlgorithmForPublicKey</c>).</summary>
    public static string AlgorithmFor(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa2048 => SecurityAlgorithms.RsaSha256,
        KeyAlgorithm.EcdsaP256 => SecurityAlgorithms.EcdsaSha256,
        KeyAlgorithm.EcdsaP384 => SecurityAlgorithms.EcdsaSha384,
        KeyAlgorithm.EcdsaP521 => SecurityAlgorithms.EcdsaSha512,
        KeyAlgorithm.Ed25519 => "EdDSA",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>
    /// Verifies a compact JWS signed by one of <paramref name="keys"/> and returns it parsed; claims are not
    /// validated (callers check them with Teleport's rules and messages).
    /// </summary>
    /// <exception cref="TraceException">The JWS is malformed or its signature does not verify.</exception>
    public static async Task<JsonWebToken> VerifySignatureAsync(string compact, IEnumerable<SecurityKey> keys, string what)
    {
        var handler = new JsonWebTokenHandler();
        if (!handler.CanReadToken(compact))
        {
            throw TraceException.BadParameter($"{what}: go-jose/go-jose: compact JWS format must have three parts");
        }

        var parameters = new TokenValidationParameters
        {
            IssuerSigningKeys = keys,
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidateLifetime = false,
            RequireExpirationTime = false,
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = false,
            TryAllIssuerSigningKeys = true,
            CryptoProviderFactory = new CryptoProviderFactory { CustomCryptoProvider = Ed25519CryptoProvider.Instance },
        };
        var result = await handler.ValidateTokenAsync(compact, parameters).ConfigureAwait(false);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token)
        {
            throw TraceException.AccessDenied($"{what}: go-jose/go-jose: error in cryptographic primitive");
        }

        return token;
    }

    /// <summary>Reads a compact JWS without verifying it (to find the key id, or claims for messages).</summary>
    /// <exception cref="TraceException">Not a JWS.</exception>
    public static JsonWebToken ReadUnverified(string compact, string what)
    {
        try
        {
            return new JsonWebToken(compact);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException)
        {
            throw TraceException.BadParameter($"{what}: malformed jwt");
        }
    }

    /// <summary>Writes one JWK (public part) for an RSA or ECDSA key.</summary>
    public static void WriteJwk(Utf8JsonWriter writer, AsymmetricAlgorithm key, string keyId)
    {
        writer.WriteStartObject();
        switch (key)
        {
            case RSA rsa:
                var rsaParameters = rsa.ExportParameters(false);
                writer.WriteString("kty", "RSA");
                writer.WriteString("alg", SecurityAlgorithms.RsaSha256);
                writer.WriteString("n", Base64UrlEncoder.Encode(rsaParameters.Modulus));
                writer.WriteString("e", Base64UrlEncoder.Encode(rsaParameters.Exponent));
                break;
            case ECDsa ecdsa:
                var ecParameters = ecdsa.ExportParameters(false);
                writer.WriteString("kty", "EC");
                writer.WriteString("alg", SecurityAlgorithms.EcdsaSha256);
                writer.WriteString("crv", "P-256");
                writer.WriteString("x", Base64UrlEncoder.Encode(ecParameters.Q.X));
                writer.WriteString("y", Base64UrlEncoder.Encode(ecParameters.Q.Y));
                break;
            default:
                throw new ArgumentException("Only RSA and ECDSA keys are published.", nameof(key));
        }

        writer.WriteString("use", "sig");
        writer.WriteString("kid", keyId);
        writer.WriteEndObject();
    }

    /// <summary>A JWKS document (<c>{"keys":[…]}</c>) for the given keys.</summary>
    public static string JwksJson(params (AsymmetricAlgorithm Key, string KeyId)[] keys)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var (key, keyId) in keys)
            {
                WriteJwk(writer, key, keyId);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>An Ed25519 public key for IdentityModel (verification only).</summary>
    internal sealed class Ed25519SecurityKey(byte[] publicKey) : AsymmetricSecurityKey
    {
        public byte[] PublicKey { get; } = publicKey;

        [Obsolete("HasPrivateKey is obsolete in the base class.")]
        public override bool HasPrivateKey => false;

        public override PrivateKeyStatus PrivateKeyStatus => PrivateKeyStatus.DoesNotExist;

        public override int KeySize => 256;
    }

    private sealed class Ed25519CryptoProvider : ICryptoProvider
    {
        public static readonly Ed25519CryptoProvider Instance = new();

        public bool IsSupportedAlgorithm(string algorithm, params object[] args) =>
            algorithm == "EdDSA" && args.Length > 0 && args[0] is Ed25519SecurityKey;

        public object Create(string algorithm, params object[] args) =>
            new Ed25519SignatureProvider((Ed25519SecurityKey)args[0], algorithm);

        public void Release(object cryptoInstance)
        {
            if (cryptoInstance is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }

    private sealed class Ed25519SignatureProvider(Ed25519SecurityKey key, string algorithm) : SignatureProvider(key, algorithm)
    {
        public override byte[] Sign(byte[] input) => throw new NotSupportedException("Verification only.");

        public override bool Verify(byte[] input, byte[] signature)
        {
            if (signature.Length != 64)
            {
                return false;
            }

            var verifier = new Ed25519Signer();
            verifier.Init(false, new Ed25519PublicKeyParameters(key.PublicKey));
            verifier.BlockUpdate(input, 0, input.Length);
            return verifier.VerifySignature(signature);
        }

        public override bool Verify(byte[] input, int inputOffset, int inputLength, byte[] signature, int signatureOffset, int signatureLength) =>
            Verify(input.AsSpan(inputOffset, inputLength).ToArray(), signature.AsSpan(signatureOffset, signatureLength).ToArray());

        protected override void Dispose(bool disposing)
        {
        }
    }
}
