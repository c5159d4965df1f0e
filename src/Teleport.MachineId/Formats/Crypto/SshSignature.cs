using System.Buffers;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// SSH signature blobs (<c>string algorithm, string signature</c>; RFC 4253 §6.6, RFC 5656 §3.1.2,
/// RFC 8332, RFC 8709): create with a <see cref="PrivateKey"/>, verify with a <see cref="PublicKeyInfo"/>.
/// </summary>
internal static class SshSignature
{
    public const string Ed25519 = "ssh-ed25519";
    public const string EcdsaP256 = "ecdsa-sha2-nistp256";
    public const string EcdsaP384 = "ecdsa-sha2-nistp384";
    public const string EcdsaP521 = "ecdsa-sha2-nistp521";
    public const string RsaSha256 = "rsa-sha2-256";
    public const string RsaSha512 = "rsa-sha2-512";
    public const string RsaSha1 = "ssh-rsa";

    /// <summary>Smallest RSA modulus accepted for verification (OpenSSH's limit).</summary>
    private const int MinRsaBits = 1024;

    /// <summary>The algorithm used when none is chosen: the key type, and <c>rsa-sha2-512</c> for RSA (as Teleport does).</summary>
    public static string DefaultAlgorithm(KeyAlgorithm key) =>
        key == KeyAlgorithm.Rsa ? RsaSha512 : KeyAlgorithmInfo.SshKeyType(key);

    /// <summary>Whether a key of <paramref name="key"/> can make or check signatures named <paramref name="algorithm"/>.</summary>
    public static bool IsCompatible(KeyAlgorithm key, string algorithm) => key switch
    {
        KeyAlgorithm.Rsa => algorithm is RsaSha512 or RsaSha256 or RsaSha1,
        _ => algorithm == KeyAlgorithmInfo.SshKeyType(key),
    };

    /// <summary>Maps an algorithm name read from the wire to its interned constant (or a new string for unknown names).</summary>
    public static string InternName(ReadOnlySpan<byte> name)
    {
        if (name.SequenceEqual("ssh-ed25519"u8))
        {
            return Ed25519;
        }

        if (name.SequenceEqual("ecdsa-sha2-nistp256"u8))
        {
            return EcdsaP256;
        }

        if (name.SequenceEqual("rsa-sha2-512"u8))
        {
            return RsaSha512;
        }

        if (name.SequenceEqual("rsa-sha2-256"u8))
        {
            return RsaSha256;
        }

        if (name.SequenceEqual("ecdsa-sha2-nistp384"u8))
        {
            return EcdsaP384;
        }

        if (name.SequenceEqual("ecdsa-sha2-nistp521"u8))
        {
            return EcdsaP521;
        }

        if (name.SequenceEqual("ssh-rsa"u8))
        {
            return RsaSha1;
        }

        return System.Text.Encoding.UTF8.GetString(name);
    }

    /// <summary>Signs <paramref name="data"/> and writes the signature blob (without an outer length).</summary>
    /// <remarks>
    /// <paramref name="data"/> may be the writer's own content: the signature is computed before
    /// anything is written, so a buffer growth cannot invalidate it mid-use.
    /// </remarks>
    /// <param name="key">The signing key.</param>
    /// <param name="algorithm">A name compatible with the key (see <see cref="IsCompatible"/>).</param>
    /// <param name="data">What to sign.</param>
    /// <param name="writer">Where the blob goes.</param>
    /// <exception cref="ArgumentException">The algorithm does not fit the key.</exception>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public static void Write(PrivateKey key, string algorithm, ReadOnlySpan<byte> data, ref SshWireWriter writer)
    {
        if (!IsCompatible(key.Algorithm, algorithm))
        {
            throw new ArgumentException($"Signature algorithm '{algorithm}' cannot be used with a {key.Algorithm} key.", nameof(algorithm));
        }

        switch (key.Algorithm)
        {
            case KeyAlgorithm.Ed25519:
            {
                Span<byte> signature = stackalloc byte[64];
                key.Ed25519Parameters.Sign(Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Algorithm.Ed25519, null, data, signature);
                writer.WriteString(algorithm);
                writer.WriteString(signature);
                break;
            }

            case KeyAlgorithm.Rsa:
            {
                var rsa = key.Rsa;
                var hash = algorithm switch
                {
                    RsaSha512 => HashAlgorithmName.SHA512,
                    RsaSha256 => HashAlgorithmName.SHA256,
                    _ => HashAlgorithmName.SHA1,
                };
                var size = (rsa.KeySize + 7) / 8;
                var rented = ArrayPool<byte>.Shared.Rent(size);
                try
                {
                    if (!rsa.TrySignData(data, rented, hash, RSASignaturePadding.Pkcs1, out var written))
                    {
                        throw new CryptographicException("RSA signature did not fit the modulus size.");
                    }

                    writer.WriteString(algorithm);
                    writer.WriteString(rented.AsSpan(0, written));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }

                break;
            }

            default:
            {
                var ecdsa = key.Ecdsa;
                var fieldSize = KeyAlgorithmInfo.FieldSize(key.Algorithm);
                Span<byte> signature = stackalloc byte[2 * 66];
                if (!ecdsa.TrySignData(data, signature, KeyAlgorithmInfo.EcdsaHash(key.Algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out var written)
                    || written != 2 * fieldSize)
                {
                    throw new CryptographicException("ECDSA signature has an unexpected size.");
                }

                writer.WriteString(algorithm);
                var token = writer.BeginNested();
                writer.WriteMPInt(signature[..fieldSize]);
                writer.WriteMPInt(signature.Slice(fieldSize, fieldSize));
                writer.EndNested(token);
                break;
            }
        }
    }

    /// <summary>Signs <paramref name="data"/> and returns the signature blob (without an outer length).</summary>
    public static byte[] Create(PrivateKey key, string algorithm, ReadOnlySpan<byte> data)
    {
        var writer = new SshWireWriter(600);
        try
        {
            Write(key, algorithm, data, ref writer);
            return writer.ToArray();
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>
    /// Checks a signature blob over <paramref name="data"/>. Returns <see langword="false"/> for a
    /// wrong signature, an algorithm that does not fit the key, a malformed blob, or a key the
    /// platform rejects; never throws for bad input.
    /// </summary>
    public static bool Verify(PublicKeyInfo key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signatureBlob)
    {
        try
        {
            var reader = new SshWireReader(signatureBlob, "SSH signature");
            var name = InternName(reader.ReadString());
            var signature = reader.ReadString();
            if (!reader.IsAtEnd || !IsCompatible(key.Algorithm, name))
            {
                return false;
            }

            return key.Algorithm switch
            {
                KeyAlgorithm.Ed25519 => VerifyEd25519(key, data, signature),
                KeyAlgorithm.Rsa => VerifyRsa(key, name, data, signature),
                _ => VerifyEcdsa(key, data, signature),
            };
        }
        catch (TeleportFormatException)
        {
            return false;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static bool VerifyEd25519(PublicKeyInfo key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != 64)
        {
            return false;
        }

        Ed25519PublicKeyParameters publicKey;
        try
        {
            publicKey = new Ed25519PublicKeyParameters(key.Ed25519Key);
        }
        catch (ArgumentException)
        {
            return false;
        }

        return publicKey.Verify(Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Algorithm.Ed25519, null, data, signature);
    }

    private static bool VerifyRsa(PublicKeyInfo key, string name, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (key.KeySizeInBits < MinRsaBits)
        {
            return false;
        }

        var size = (key.KeySizeInBits + 7) / 8;
        if (signature.Length > size || signature.Length == 0)
        {
            return false;
        }

        // OpenSSH accepts signatures shorter than the modulus (leading zeros dropped); the BCL wants full length.
        if (signature.Length < size)
        {
            var padded = new byte[size];
            signature.CopyTo(padded.AsSpan(size - signature.Length));
            signature = padded;
        }

        var hash = name switch
        {
            RsaSha512 => HashAlgorithmName.SHA512,
            RsaSha256 => HashAlgorithmName.SHA256,
            _ => HashAlgorithmName.SHA1,
        };
        using var rsa = key.CreateRsa();
        return rsa.VerifyData(data, signature, hash, RSASignaturePadding.Pkcs1);
    }

    private static bool VerifyEcdsa(PublicKeyInfo key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        var fieldSize = KeyAlgorithmInfo.FieldSize(key.Algorithm);
        var reader = new SshWireReader(signature, "ECDSA signature");
        var r = reader.ReadPositiveMPInt();
        var s = reader.ReadPositiveMPInt();
        if (!reader.IsAtEnd || r.Length > fieldSize || s.Length > fieldSize || r.IsEmpty || s.IsEmpty)
        {
            return false;
        }

        Span<byte> p1363 = stackalloc byte[2 * 66];
        p1363 = p1363[..(2 * fieldSize)];
        p1363.Clear();
        r.CopyTo(p1363[(fieldSize - r.Length)..fieldSize]);
        s.CopyTo(p1363[((2 * fieldSize) - s.Length)..]);
        using var ecdsa = key.CreateEcdsa();
        return ecdsa.VerifyData(data, p1363, KeyAlgorithmInfo.EcdsaHash(key.Algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }
}
