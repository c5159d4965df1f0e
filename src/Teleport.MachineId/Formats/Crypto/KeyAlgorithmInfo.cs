using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Teleport.MachineId.Crypto;

/// <summary>Names, curves and sizes that belong to each <see cref="KeyAlgorithm"/>.</summary>
internal static class KeyAlgorithmInfo
{
    public const string SshRsa = "ssh-rsa";
    public const string SshEcdsaP256 = "ecdsa-sha2-nistp256";
    public const string SshEcdsaP384 = "ecdsa-sha2-nistp384";
    public const string SshEcdsaP521 = "ecdsa-sha2-nistp521";
    public const string SshEd25519 = "ssh-ed25519";

    public const string CertRsa = "ssh-rsa-cert-v01@openssh.com";
    public const string CertEcdsaP256 = "ecdsa-sha2-nistp256-cert-v01@openssh.com";
    public const string CertEcdsaP384 = "ecdsa-sha2-nistp384-cert-v01@openssh.com";
    public const string CertEcdsaP521 = "ecdsa-sha2-nistp521-cert-v01@openssh.com";
    public const string CertEd25519 = "ssh-ed25519-cert-v01@openssh.com";

    public const string OidRsaEncryption = "1.2.840.113549.1.1.1";
    public const string OidEcPublicKey = "1.2.840.10045.2.1";
    public const string OidEd25519 = "1.3.101.112";
    public const string OidP256 = "1.2.840.10045.3.1.7";
    public const string OidP384 = "1.3.132.0.34";
    public const string OidP521 = "1.3.132.0.35";

    /// <summary>Largest RSA modulus accepted from outside (OpenSSH's limit, 16384 bits).</summary>
    public const int MaxRsaModulusBytes = 16384 / 8;

    // One table for both directions and both encodings (the most common names first: they are
    // looked up while parsing keys and certificates).
    private static readonly SshNames[] AllSshNames =
    [
        new(KeyAlgorithm.Ed25519, SshEd25519, CertEd25519),
        new(KeyAlgorithm.EcdsaP256, SshEcdsaP256, CertEcdsaP256),
        new(KeyAlgorithm.Rsa2048, SshRsa, CertRsa),
        new(KeyAlgorithm.EcdsaP384, SshEcdsaP384, CertEcdsaP384),
        new(KeyAlgorithm.EcdsaP521, SshEcdsaP521, CertEcdsaP521),
    ];

    public static bool IsEcdsa(KeyAlgorithm algorithm) =>
        algorithm is KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 or KeyAlgorithm.EcdsaP521;

    /// <summary>The SSH public key type name (<c>ssh-ed25519</c>, …).</summary>
    public static string SshKeyType(KeyAlgorithm algorithm) => SshNamesOf(algorithm).KeyType;

    /// <summary>The OpenSSH certificate type name (<c>ssh-ed25519-cert-v01@openssh.com</c>, …).</summary>
    public static string CertificateType(KeyAlgorithm algorithm) => SshNamesOf(algorithm).CertificateType;

    public static ReadOnlySpan<byte> CurveNameUtf8(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => "nistp256"u8,
        KeyAlgorithm.EcdsaP384 => "nistp384"u8,
        KeyAlgorithm.EcdsaP521 => "nistp521"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };

    /// <summary>Bytes of one coordinate (and of the private scalar) of an ECDSA curve.</summary>
    public static int FieldSize(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => 32,
        KeyAlgorithm.EcdsaP384 => 48,
        KeyAlgorithm.EcdsaP521 => 66,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };

    public static ECCurve Curve(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => ECCurve.NamedCurves.nistP256,
        KeyAlgorithm.EcdsaP384 => ECCurve.NamedCurves.nistP384,
        KeyAlgorithm.EcdsaP521 => ECCurve.NamedCurves.nistP521,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };

    public static string CurveOid(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => OidP256,
        KeyAlgorithm.EcdsaP384 => OidP384,
        KeyAlgorithm.EcdsaP521 => OidP521,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };

    /// <summary>The hash ECDSA uses with this curve in SSH (RFC 5656 §6.2.1).</summary>
    public static HashAlgorithmName EcdsaHash(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.EcdsaP256 => HashAlgorithmName.SHA256,
        KeyAlgorithm.EcdsaP384 => HashAlgorithmName.SHA384,
        KeyAlgorithm.EcdsaP521 => HashAlgorithmName.SHA512,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };

    public static bool TryFromCurveOid(string? oid, out KeyAlgorithm algorithm)
    {
        algorithm = oid switch
        {
            OidP256 => KeyAlgorithm.EcdsaP256,
            OidP384 => KeyAlgorithm.EcdsaP384,
            OidP521 => KeyAlgorithm.EcdsaP521,
            _ => default,
        };
        return algorithm != default;
    }

    /// <summary>Recognises a plain SSH public key type name (as read from the SSH wire).</summary>
    public static bool TryFromSshKeyType(ReadOnlySpan<byte> name, out KeyAlgorithm algorithm) => TryFind(name, certificate: false, out algorithm);

    /// <summary>Recognises an OpenSSH certificate type name (as read from the SSH wire).</summary>
    public static bool TryFromCertificateType(ReadOnlySpan<byte> name, out KeyAlgorithm algorithm) => TryFind(name, certificate: true, out algorithm);

    /// <summary>Recognises a plain SSH public key type name (as written in text).</summary>
    public static bool TryFromSshKeyType(ReadOnlySpan<char> name, out KeyAlgorithm algorithm) => TryFind(name, certificate: false, out algorithm);

    /// <summary>Recognises an OpenSSH certificate type name (as written in text).</summary>
    public static bool TryFromCertificateType(ReadOnlySpan<char> name, out KeyAlgorithm algorithm) => TryFind(name, certificate: true, out algorithm);

    private static SshNames SshNamesOf(KeyAlgorithm algorithm)
    {
        foreach (var names in AllSshNames)
        {
            if (names.Algorithm == algorithm)
            {
                return names;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown key algorithm.");
    }

    private static bool TryFind(ReadOnlySpan<byte> name, bool certificate, out KeyAlgorithm algorithm)
    {
        foreach (var names in AllSshNames)
        {
            if (name.SequenceEqual(certificate ? names.CertificateTypeUtf8 : names.KeyTypeUtf8))
            {
                algorithm = names.Algorithm;
                return true;
            }
        }

        algorithm = default;
        return false;
    }

    private static bool TryFind(ReadOnlySpan<char> name, bool certificate, out KeyAlgorithm algorithm)
    {
        // Every name is short ASCII: compare the text's ASCII bytes with the wire names.
        Span<byte> ascii = stackalloc byte[64];
        if (name.Length <= ascii.Length && Ascii.FromUtf16(name, ascii, out var written) == OperationStatus.Done)
        {
            return TryFind(ascii[..written], certificate, out algorithm);
        }

        algorithm = default;
        return false;
    }

    /// <summary>An algorithm's SSH names, in text and (precomputed) in the wire's bytes.</summary>
    private sealed class SshNames(KeyAlgorithm algorithm, string keyType, string certificateType)
    {
        public KeyAlgorithm Algorithm { get; } = algorithm;

        public string KeyType { get; } = keyType;

        public string CertificateType { get; } = certificateType;

        public byte[] KeyTypeUtf8 { get; } = Encoding.ASCII.GetBytes(keyType);

        public byte[] CertificateTypeUtf8 { get; } = Encoding.ASCII.GetBytes(certificateType);
    }
}
