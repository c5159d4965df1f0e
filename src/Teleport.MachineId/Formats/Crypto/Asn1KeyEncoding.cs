using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// DER encodings of public keys (PKIX SubjectPublicKeyInfo, PKCS#1 RSAPublicKey) and of the
/// Ed25519 PKCS#8 private key (RFC 8410), which the BCL cannot produce for Ed25519.
/// </summary>
internal static class Asn1KeyEncoding
{
    public static byte[] EncodeSubjectPublicKeyInfo(PublicKeyInfo key)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                switch (key.Algorithm)
                {
                    case KeyAlgorithm.Rsa:
                        writer.WriteObjectIdentifier(KeyAlgorithmInfo.OidRsaEncryption);
                        writer.WriteNull();
                        break;
                    case KeyAlgorithm.Ed25519:
                        writer.WriteObjectIdentifier(KeyAlgorithmInfo.OidEd25519);
                        break;
                    default:
                        writer.WriteObjectIdentifier(KeyAlgorithmInfo.OidEcPublicKey);
                        writer.WriteObjectIdentifier(KeyAlgorithmInfo.CurveOid(key.Algorithm));
                        break;
                }
            }

            if (key.Algorithm == KeyAlgorithm.Rsa)
            {
                writer.WriteBitString(EncodeRsaPublicKey(key.RsaModulus, key.RsaExponent));
            }
            else
            {
                writer.WriteBitString(key.Algorithm == KeyAlgorithm.Ed25519 ? key.Ed25519Key : key.EcPoint);
            }
        }

        return writer.Encode();
    }

    public static byte[] EncodeRsaPublicKey(ReadOnlySpan<byte> modulus, ReadOnlySpan<byte> exponent)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(modulus);
            writer.WriteIntegerUnsigned(exponent);
        }

        return writer.Encode();
    }

    /// <summary>Decodes either a PKIX SubjectPublicKeyInfo or a PKCS#1 RSAPublicKey.</summary>
    /// <exception cref="TeleportFormatException">The DER is neither, or names an unsupported algorithm.</exception>
    public static PublicKeyInfo DecodePublicKey(ReadOnlySpan<byte> der)
    {
        try
        {
            var reader = new AsnReader(der.ToArray(), AsnEncodingRules.DER);
            var outer = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            var firstTag = outer.PeekTag();
            return firstTag.HasSameClassAndValue(Asn1Tag.Integer)
                ? DecodeRsaPublicKeyBody(outer)
                : DecodeSubjectPublicKeyInfoBody(outer);
        }
        catch (AsnContentException ex)
        {
            throw new TeleportFormatException("Malformed public key: invalid DER.", ex);
        }
    }

    /// <summary>Decodes a PKIX SubjectPublicKeyInfo.</summary>
    /// <exception cref="TeleportFormatException">The DER is invalid or names an unsupported algorithm.</exception>
    public static PublicKeyInfo DecodeSubjectPublicKeyInfo(ReadOnlySpan<byte> der)
    {
        try
        {
            var reader = new AsnReader(der.ToArray(), AsnEncodingRules.DER);
            var outer = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            return DecodeSubjectPublicKeyInfoBody(outer);
        }
        catch (AsnContentException ex)
        {
            throw new TeleportFormatException("Malformed SubjectPublicKeyInfo: invalid DER.", ex);
        }
    }

    /// <summary>Encodes an Ed25519 private key as PKCS#8 (RFC 8410, version 0, no public key).</summary>
    public static byte[] EncodeEd25519Pkcs8(ReadOnlySpan<byte> seed)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(0);
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(KeyAlgorithmInfo.OidEd25519);
            }

            Span<byte> inner = stackalloc byte[34];
            inner[0] = 0x04;
            inner[1] = 32;
            seed.CopyTo(inner[2..]);
            writer.WriteOctetString(inner);
            CryptographicOperations.ZeroMemory(inner);
        }

        return writer.Encode();
    }

    /// <summary>Reads the algorithm OID of a PKCS#8 PrivateKeyInfo.</summary>
    /// <exception cref="TeleportFormatException">The DER is not a PrivateKeyInfo.</exception>
    public static string ReadPkcs8AlgorithmOid(byte[] der)
    {
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.BER);
            var info = reader.ReadSequence();
            _ = info.ReadInteger();
            var algorithm = info.ReadSequence();
            return algorithm.ReadObjectIdentifier();
        }
        catch (AsnContentException ex)
        {
            throw new TeleportFormatException("Malformed PKCS#8 private key: invalid DER.", ex);
        }
    }

    /// <summary>Reads the 32-byte seed of an Ed25519 PKCS#8 PrivateKeyInfo (v1 or v2 / OneAsymmetricKey).</summary>
    /// <exception cref="TeleportFormatException">The DER is invalid or not an Ed25519 key.</exception>
    public static byte[] DecodeEd25519Pkcs8(byte[] der)
    {
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.BER);
            var info = reader.ReadSequence();
            var version = info.ReadInteger();
            if (version < 0 || version > 1)
            {
                throw new TeleportFormatException("Malformed PKCS#8 private key: unsupported version.");
            }

            var algorithm = info.ReadSequence();
            if (algorithm.ReadObjectIdentifier() != KeyAlgorithmInfo.OidEd25519 || algorithm.HasData)
            {
                throw new TeleportFormatException("Malformed PKCS#8 private key: not an Ed25519 key.");
            }

            var privateKey = info.ReadOctetString();
            try
            {
                var inner = new AsnReader(privateKey, AsnEncodingRules.BER);
                var seed = inner.ReadOctetString();
                inner.ThrowIfNotEmpty();
                if (seed.Length != 32)
                {
                    CryptographicOperations.ZeroMemory(seed);
                    throw new TeleportFormatException("Malformed PKCS#8 private key: an Ed25519 private key is 32 bytes.");
                }

                return seed;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(privateKey);
            }
        }
        catch (AsnContentException ex)
        {
            throw new TeleportFormatException("Malformed PKCS#8 private key: invalid DER.", ex);
        }
    }

    private static PublicKeyInfo DecodeRsaPublicKeyBody(AsnReader sequence)
    {
        var modulus = sequence.ReadIntegerBytes();
        var exponent = sequence.ReadIntegerBytes();
        sequence.ThrowIfNotEmpty();
        return PublicKeyInfo.CreateRsa(Unsigned(modulus.Span), Unsigned(exponent.Span));
    }

    private static PublicKeyInfo DecodeSubjectPublicKeyInfoBody(AsnReader spki)
    {
        var algorithm = spki.ReadSequence();
        var oid = algorithm.ReadObjectIdentifier();
        var keyBits = spki.ReadBitString(out var unusedBits);
        spki.ThrowIfNotEmpty();
        if (unusedBits != 0)
        {
            throw new TeleportFormatException("Malformed SubjectPublicKeyInfo: the key bit string is not whole bytes.");
        }

        switch (oid)
        {
            case KeyAlgorithmInfo.OidRsaEncryption:
            {
                if (algorithm.HasData)
                {
                    algorithm.ReadNull();
                }

                algorithm.ThrowIfNotEmpty();
                var inner = new AsnReader(keyBits, AsnEncodingRules.DER);
                var sequence = inner.ReadSequence();
                inner.ThrowIfNotEmpty();
                return DecodeRsaPublicKeyBody(sequence);
            }

            case KeyAlgorithmInfo.OidEcPublicKey:
            {
                if (!algorithm.HasData || !algorithm.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
                {
                    throw new TeleportFormatException("Unsupported EC public key: only named curves P-256, P-384 and P-521 are supported.");
                }

                var curveOid = algorithm.ReadObjectIdentifier();
                algorithm.ThrowIfNotEmpty();
                if (!KeyAlgorithmInfo.TryFromCurveOid(curveOid, out var keyAlgorithm))
                {
                    throw new TeleportFormatException("Unsupported EC public key: only named curves P-256, P-384 and P-521 are supported.");
                }

                if (keyBits.Length != 1 + (2 * KeyAlgorithmInfo.FieldSize(keyAlgorithm)) || keyBits[0] != 0x04)
                {
                    throw new TeleportFormatException("Unsupported EC public key: only uncompressed points are supported.");
                }

                return PublicKeyInfo.CreateEcdsa(keyAlgorithm, keyBits);
            }

            case KeyAlgorithmInfo.OidEd25519:
                algorithm.ThrowIfNotEmpty();
                if (keyBits.Length != 32)
                {
                    throw new TeleportFormatException("Malformed Ed25519 public key: the key is not 32 bytes.");
                }

                return PublicKeyInfo.CreateEd25519(keyBits);

            default:
                throw new TeleportFormatException("Unsupported public key algorithm; expected RSA, ECDSA (P-256/384/521) or Ed25519.");
        }
    }

    private static ReadOnlySpan<byte> Unsigned(ReadOnlySpan<byte> integer)
    {
        if (integer.Length > 0 && (integer[0] & 0x80) != 0)
        {
            throw new TeleportFormatException("Malformed RSA public key: negative integer.");
        }

        return integer.TrimStart((byte)0);
    }
}
