using System.Security.Cryptography;

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

    public static bool IsEcdsa(KeyAlgorithm algorithm) =>
        algorithm is KeyAlgorithm.EcdsaP256 or KeyAlgorithm.EcdsaP384 or KeyAlgorithm.EcdsaP521;

    public static string SshKeyType(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa2048 => SshRsa,
        KeyAlgorithm.EcdsaP256 => SshEcdsaP256,
        KeyAlgorithm.EcdsaP384 => SshEcdsaP384,
        KeyAlgorithm.EcdsaP521 => SshEcdsaP521,
        KeyAlgorithm.Ed25519 => SshEd25519,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown key algorithm."),
    };

    public static string CertificateType(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Rsa2048 => CertRsa,
        KeyAlgorithm.EcdsaP256 => CertEcdsaP256,
        KeyAlgorithm.EcdsaP384 => CertEcdsaP384,
        KeyAlgorithm.EcdsaP521 => CertEcdsaP521,
        KeyAlgorithm.Ed25519 => CertEd25519,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown key algorithm."),
    };

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

    /// <summary>Recognises a plain SSH public key type name.</summary>
    public static bool TryFromSshKeyType(ReadOnlySpan<byte> name, out KeyAlgorithm algorithm)
    {
        if (name.SequenceEqual("ssh-ed25519"u8))
        {
            algorithm = KeyAlgorithm.Ed25519;
        }
        else if (name.SequenceEqual("ecdsa-sha2-nistp256"u8))
        {
            algorithm = KeyAlgorithm.EcdsaP256;
        }
        else if (name.SequenceEqual("ssh-rsa"u8))
        {
            algorithm = KeyAlgorithm.Rsa2048;
        }
        else if (name.SequenceEqual("ecdsa-sha2-nistp384"u8))
        {
            algorithm = KeyAlgorithm.EcdsaP384;
        }
        else if (name.SequenceEqual("ecdsa-sha2-nistp521"u8))
        {
            algorithm = KeyAlgorithm.EcdsaP521;
        }
        else
        {
            algorithm = default;
            return false;
        }

        return true;
    }

    /// <summary>Recognises an OpenSSH certificate type name.</summary>
    public static bool TryFromCertificateType(ReadOnlySpan<byte> name, out KeyAlgorithm algorithm)
    {
        if (name.SequenceEqual("ssh-ed25519-cert-v01@openssh.com"u8))
        {
            algorithm = KeyAlgorithm.Ed25519;
        }
        else if (name.SequenceEqual("ecdsa-sha2-nistp256-cert-v01@openssh.com"u8))
        {
            algorithm = KeyAlgorithm.EcdsaP256;
        }
        else if (name.SequenceEqual("ssh-rsa-cert-v01@openssh.com"u8))
        {
            algorithm = KeyAlgorithm.Rsa2048;
        }
        else if (name.SequenceEqual("ecdsa-sha2-nistp384-cert-v01@openssh.com"u8))
        {
            algorithm = KeyAlgorithm.EcdsaP384;
        }
        else if (name.SequenceEqual("ecdsa-sha2-nistp521-cert-v01@openssh.com"u8))
        {
            algorithm = KeyAlgorithm.EcdsaP521;
        }
        else
        {
            algorithm = default;
            return false;
        }

        return true;
    }

    public static bool TryFromSshKeyType(ReadOnlySpan<char> name, out KeyAlgorithm algorithm)
    {
        algorithm = name switch
        {
            SshEd25519 => KeyAlgorithm.Ed25519,
            SshEcdsaP256 => KeyAlgorithm.EcdsaP256,
            SshRsa => KeyAlgorithm.Rsa2048,
            SshEcdsaP384 => KeyAlgorithm.EcdsaP384,
            SshEcdsaP521 => KeyAlgorithm.EcdsaP521,
            _ => default,
        };
        return algorithm != default;
    }

    public static bool TryFromCertificateType(ReadOnlySpan<char> name, out KeyAlgorithm algorithm)
    {
        algorithm = name switch
        {
            CertEd25519 => KeyAlgorithm.Ed25519,
            CertEcdsaP256 => KeyAlgorithm.EcdsaP256,
            CertRsa => KeyAlgorithm.Rsa2048,
            CertEcdsaP384 => KeyAlgorithm.EcdsaP384,
            CertEcdsaP521 => KeyAlgorithm.EcdsaP521,
            _ => default,
        };
        return algorithm != default;
    }
}
