using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// A private key (RSA, ECDSA P-256/384/521 or Ed25519): generate it, import it from PEM, export
/// it the way Teleport and OpenSSH store it, and sign SSH certificates or attach it to an X.509
/// certificate for TLS client authentication.
/// </summary>
/// <remarks>
/// RSA and ECDSA keys are BCL keys (OpenSSL on Linux); Ed25519 keys use BouncyCastle because the
/// BCL has no Ed25519. Signing is safe from several threads at once; disposing is not, and
/// after <see cref="Dispose"/> every operation throws <see cref="ObjectDisposedException"/>.
/// The key material never appears in <see cref="ToString"/> or exception messages.
/// </remarks>
public sealed class PrivateKey : IDisposable
{
    private RSA? _rsa;
    private ECDsa? _ecdsa;
    private Ed25519PrivateKeyParameters? _ed25519;
    private bool _disposed;

    private PrivateKey(KeyAlgorithm algorithm, RSA? rsa, ECDsa? ecdsa, Ed25519PrivateKeyParameters? ed25519, PublicKeyInfo publicKey)
    {
        Algorithm = algorithm;
        _rsa = rsa;
        _ecdsa = ecdsa;
        _ed25519 = ed25519;
        PublicKey = publicKey;
    }

    /// <summary>The key algorithm (<see cref="KeyAlgorithm.Rsa"/> stands for RSA of any size).</summary>
    public KeyAlgorithm Algorithm { get; }

    /// <summary>The public half.</summary>
    public PublicKeyInfo PublicKey { get; }

    /// <summary>The BCL RSA key; only for <see cref="KeyAlgorithm.Rsa"/>.</summary>
    internal RSA Rsa
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _rsa ?? throw new InvalidOperationException("Not an RSA key.");
        }
    }

    /// <summary>The BCL ECDsa key; only for ECDSA algorithms.</summary>
    internal ECDsa Ecdsa
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _ecdsa ?? throw new InvalidOperationException("Not an ECDSA key.");
        }
    }

    /// <summary>The BouncyCastle Ed25519 key; only for <see cref="KeyAlgorithm.Ed25519"/>.</summary>
    internal Ed25519PrivateKeyParameters Ed25519Parameters
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _ed25519 ?? throw new InvalidOperationException("Not an Ed25519 key.");
        }
    }

    /// <summary>Generates a new key.</summary>
    /// <param name="algorithm">The algorithm; RSA keys are 2048 bits.</param>
    /// <returns>The key; the caller disposes it.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="algorithm"/> is not defined.</exception>
    public static PrivateKey Generate(KeyAlgorithm algorithm)
    {
        switch (algorithm)
        {
            case KeyAlgorithm.Rsa:
                return FromRsa(RSA.Create(2048));
            case KeyAlgorithm.EcdsaP256:
            case KeyAlgorithm.EcdsaP384:
            case KeyAlgorithm.EcdsaP521:
                return FromEcdsa(ECDsa.Create(KeyAlgorithmInfo.Curve(algorithm)));
            case KeyAlgorithm.Ed25519:
                return FromEd25519(new Ed25519PrivateKeyParameters(new SecureRandom()));
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown key algorithm.");
        }
    }

    /// <summary>Generates a key of the algorithm <paramref name="suite"/> prescribes for <paramref name="purpose"/>.</summary>
    /// <param name="suite">The cluster's signature algorithm suite.</param>
    /// <param name="purpose">What the key is for.</param>
    /// <returns>The key; the caller disposes it.</returns>
    /// <exception cref="NotSupportedException">The suite is unknown to this library.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="purpose"/> is not defined.</exception>
    public static PrivateKey Generate(SignatureAlgorithmSuite suite, KeyPurpose purpose) =>
        Generate(suite.GetKeyAlgorithm(purpose));

    /// <summary>
    /// Reads the first private key PEM block: PKCS#1 <c>RSA PRIVATE KEY</c>, PKCS#8
    /// <c>PRIVATE KEY</c> (RSA, EC or Ed25519), SEC1 <c>EC PRIVATE KEY</c>, or an unencrypted
    /// <c>OPENSSH PRIVATE KEY</c> (what <c>ssh-keygen</c> writes). Other blocks (certificates,
    /// <c>EC PARAMETERS</c>) are skipped.
    /// </summary>
    /// <param name="pem">PEM text.</param>
    /// <returns>The key; the caller disposes it.</returns>
    /// <exception cref="TeleportFormatException">No private key block is found, the key is encrypted, malformed, or of an unsupported type.</exception>
    public static PrivateKey ImportPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var blocks = PemBlocks.Read(pem);
        try
        {
            foreach (var (label, der) in blocks)
            {
                switch (label)
                {
                    case "RSA PRIVATE KEY":
                        return ImportRsa(rsa => { rsa.ImportRSAPrivateKey(der, out var read); EnsureWhole(read, der); });
                    case "EC PRIVATE KEY":
                        return ImportEcdsa(ecdsa => { ecdsa.ImportECPrivateKey(der, out var read); EnsureWhole(read, der); });
                    case "PRIVATE KEY":
                        return ImportPkcs8(der);
                    case "OPENSSH PRIVATE KEY":
                        return OpenSshPrivateKeyFormat.Decode(der);
                    case "ENCRYPTED PRIVATE KEY":
                        throw new TeleportFormatException(
                            "Encrypted PKCS#8 private keys are not supported; decrypt the key first.");
                    default:
                        continue;
                }
            }
        }
        finally
        {
            foreach (var (_, der) in blocks)
            {
                CryptographicOperations.ZeroMemory(der);
            }
        }

        throw new TeleportFormatException(
            "No private key PEM block was found (expected RSA PRIVATE KEY, PRIVATE KEY, EC PRIVATE KEY or OPENSSH PRIVATE KEY).");
    }

    /// <summary>
    /// PEM as Teleport stores private keys: PKCS#1 <c>RSA PRIVATE KEY</c> for RSA, PKCS#8
    /// <c>PRIVATE KEY</c> for ECDSA and Ed25519; ends with a newline. OpenSSH reads the RSA and
    /// ECDSA forms; for Ed25519 use <see cref="ExportOpenSshPem"/> when OpenSSH must read the file.
    /// </summary>
    /// <returns>The PEM text (secret: write it to a 0600 file, never log it).</returns>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public string ExportPem()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        switch (Algorithm)
        {
            case KeyAlgorithm.Rsa:
                return _rsa!.ExportRSAPrivateKeyPem() + "\n";
            case KeyAlgorithm.Ed25519:
            {
                Span<byte> seed = stackalloc byte[32];
                _ed25519!.Encode(seed);
                var der = Asn1KeyEncoding.EncodeEd25519Pkcs8(seed);
                CryptographicOperations.ZeroMemory(seed);
                try
                {
                    return PemBlocks.Write("PRIVATE KEY", der);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(der);
                }
            }

            default:
                return _ecdsa!.ExportPkcs8PrivateKeyPem() + "\n";
        }
    }

    /// <summary>
    /// The unencrypted <c>openssh-key-v1</c> format (<c>OPENSSH PRIVATE KEY</c>), which
    /// <c>ssh-keygen</c> writes by default and every OpenSSH version reads, for any key type.
    /// </summary>
    /// <param name="comment">Comment stored inside the key (shown by <c>ssh-keygen -l</c>).</param>
    /// <returns>The PEM text (secret: write it to a 0600 file, never log it).</returns>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public string ExportOpenSshPem(string? comment = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var blob = OpenSshPrivateKeyFormat.Encode(this, comment ?? string.Empty);
        try
        {
            return PemBlocks.Write("OPENSSH PRIVATE KEY", blob);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(blob);
        }
    }

    /// <summary>
    /// Combines <paramref name="certificate"/> with this key so it can authenticate a TLS client
    /// (<see cref="System.Net.Security.SslStream"/>, <c>SocketsHttpHandler</c>). RSA and ECDSA only.
    /// </summary>
    /// <param name="certificate">A certificate for this key's public key.</param>
    /// <returns>A new certificate with the private key attached; the caller disposes it.</returns>
    /// <exception cref="NotSupportedException">The key is Ed25519, which .NET TLS cannot use.</exception>
    /// <exception cref="ArgumentException">The certificate is for a different public key.</exception>
    /// <exception cref="TeleportFormatException">The certificate's key usage extension cannot be decoded.</exception>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public X509Certificate2 CopyWithPrivateKey(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Algorithm == KeyAlgorithm.Ed25519)
        {
            throw new NotSupportedException("Ed25519 keys cannot be used for TLS client authentication in .NET.");
        }

        PublicKeyInfo certificateKey;
        try
        {
            certificateKey = PublicKeyInfo.ImportSubjectPublicKeyInfo(certificate.PublicKey.ExportSubjectPublicKeyInfo());
        }
        catch (TeleportFormatException ex)
        {
            throw new ArgumentException("The certificate's public key is of an unsupported type.", nameof(certificate), ex);
        }

        if (certificateKey != PublicKey)
        {
            throw new ArgumentException("The certificate is for a different public key than this private key.", nameof(certificate));
        }

        try
        {
            return _rsa is not null ? certificate.CopyWithPrivateKey(_rsa) : certificate.CopyWithPrivateKey(_ecdsa!);
        }
        catch (CryptographicException ex)
        {
            // The platform decodes the key usage extension only here (found by fuzzing bot storage):
            // an undecodable one is the certificate's problem, not a crypto failure.
            throw new TeleportFormatException("The certificate has an extension that cannot be decoded (its key usage).", ex);
        }
    }

    /// <summary>
    /// The BCL key (<see cref="RSA"/> or <see cref="ECDsa"/>) for X.509 signing, e.g. as the issuer key of
    /// <c>TeleportTlsCertificateBuilder.Issue</c>. It is owned by this object: do not dispose it,
    /// and do not use it after this key is disposed.
    /// </summary>
    /// <returns>The BCL key.</returns>
    /// <exception cref="NotSupportedException">The key is Ed25519 (no BCL implementation).</exception>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public AsymmetricAlgorithm GetAsymmetricAlgorithm()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return (AsymmetricAlgorithm?)_rsa ?? _ecdsa ?? throw new NotSupportedException("Ed25519 keys have no BCL implementation.");
    }

    /// <summary>The algorithm and public key fingerprint; never the key itself.</summary>
    /// <returns>A short description.</returns>
    public override string ToString() => $"{Algorithm} private key ({PublicKey.Sha256Fingerprint})";

    /// <summary>Releases the key.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _rsa?.Dispose();
        _ecdsa?.Dispose();
        _rsa = null;
        _ecdsa = null;
        _ed25519 = null;
    }

    internal static PrivateKey FromRsa(RSA rsa)
    {
        try
        {
            var parameters = rsa.ExportParameters(false);
            var publicKey = PublicKeyInfo.CreateRsa(parameters.Modulus, parameters.Exponent);
            return new PrivateKey(KeyAlgorithm.Rsa, rsa, null, null, publicKey);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    internal static PrivateKey FromEcdsa(ECDsa ecdsa)
    {
        try
        {
            var parameters = ecdsa.ExportParameters(false);
            if (!TryGetCurve(parameters.Curve, out var algorithm))
            {
                throw new TeleportFormatException("Unsupported EC private key: only named curves P-256, P-384 and P-521 are supported.");
            }

            var publicKey = PublicKeyInfo.CreateEcdsa(algorithm, parameters.Q);
            return new PrivateKey(algorithm, null, ecdsa, null, publicKey);
        }
        catch
        {
            ecdsa.Dispose();
            throw;
        }
    }

    internal static PrivateKey FromEd25519(Ed25519PrivateKeyParameters key)
    {
        Span<byte> publicKey = stackalloc byte[32];
        key.GeneratePublicKey().Encode(publicKey);
        return new PrivateKey(KeyAlgorithm.Ed25519, null, null, key, PublicKeyInfo.CreateEd25519(publicKey));
    }

    private static bool TryGetCurve(ECCurve curve, out KeyAlgorithm algorithm)
    {
        if (curve.IsNamed && KeyAlgorithmInfo.TryFromCurveOid(curve.Oid.Value, out algorithm))
        {
            return true;
        }

        algorithm = curve.Oid?.FriendlyName switch
        {
            "nistP256" or "ECDSA_P256" or "secp256r1" or "prime256v1" => KeyAlgorithm.EcdsaP256,
            "nistP384" or "ECDSA_P384" or "secp384r1" => KeyAlgorithm.EcdsaP384,
            "nistP521" or "ECDSA_P521" or "secp521r1" => KeyAlgorithm.EcdsaP521,
            _ => default,
        };
        return algorithm != default;
    }

    private static PrivateKey ImportPkcs8(byte[] der)
    {
        var oid = Asn1KeyEncoding.ReadPkcs8AlgorithmOid(der);
        switch (oid)
        {
            case KeyAlgorithmInfo.OidRsaEncryption:
                return ImportRsa(rsa => { rsa.ImportPkcs8PrivateKey(der, out var read); EnsureWhole(read, der); });
            case KeyAlgorithmInfo.OidEcPublicKey:
                return ImportEcdsa(ecdsa => { ecdsa.ImportPkcs8PrivateKey(der, out var read); EnsureWhole(read, der); });
            case KeyAlgorithmInfo.OidEd25519:
            {
                var seed = Asn1KeyEncoding.DecodeEd25519Pkcs8(der);
                try
                {
                    return FromEd25519(new Ed25519PrivateKeyParameters(seed));
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(seed);
                }
            }

            default:
                throw new TeleportFormatException("Unsupported PKCS#8 private key algorithm; expected RSA, EC or Ed25519.");
        }
    }

    private static void EnsureWhole(int bytesRead, byte[] der)
    {
        if (bytesRead != der.Length)
        {
            throw new TeleportFormatException("Malformed private key: unexpected data after the key.");
        }
    }

    /// <summary>Rejects an RSA key whose modulus is not the product of its primes (a corrupt file).</summary>
    /// <exception cref="TeleportFormatException">The key is inconsistent.</exception>
    internal static void EnsureConsistentRsa(RSA rsa)
    {
        var parameters = rsa.ExportParameters(true);
        try
        {
            var n = new System.Numerics.BigInteger(parameters.Modulus, isUnsigned: true, isBigEndian: true);
            var p = new System.Numerics.BigInteger(parameters.P, isUnsigned: true, isBigEndian: true);
            var q = new System.Numerics.BigInteger(parameters.Q, isUnsigned: true, isBigEndian: true);
            if (n != p * q)
            {
                throw new TeleportFormatException("Malformed RSA private key: the modulus is not the product of its primes.");
            }
        }
        finally
        {
            foreach (var secret in new[] { parameters.D, parameters.P, parameters.Q, parameters.DP, parameters.DQ, parameters.InverseQ })
            {
                if (secret is not null)
                {
                    CryptographicOperations.ZeroMemory(secret);
                }
            }
        }
    }

    private static PrivateKey ImportRsa(Action<RSA> import)
    {
        var rsa = RSA.Create();
        try
        {
            import(rsa);
            EnsureConsistentRsa(rsa);
            return FromRsa(rsa);
        }
        catch (CryptographicException ex)
        {
            rsa.Dispose();
            throw new TeleportFormatException("Malformed or unsupported RSA private key.", ex);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    private static PrivateKey ImportEcdsa(Action<ECDsa> import)
    {
        var ecdsa = ECDsa.Create();
        try
        {
            import(ecdsa);
            return FromEcdsa(ecdsa);
        }
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException)
        {
            // OpenSSL reports a curve it does not know (an unknown named-curve OID in the key) as
            // PlatformNotSupportedException: for a key file that is still just an unsupported key.
            ecdsa.Dispose();
            throw new TeleportFormatException("Malformed or unsupported EC private key.", ex);
        }
        catch
        {
            ecdsa.Dispose();
            throw;
        }
    }
}
