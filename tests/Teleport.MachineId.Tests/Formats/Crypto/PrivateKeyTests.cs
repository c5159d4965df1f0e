using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Tests.Formats.Crypto;

public sealed class PrivateKeyTests
{
    private static readonly KeyAlgorithm[] Algorithms = TestKeys.All;

    [TestCaseSource(nameof(Algorithms))]
    public void Generates_a_key_of_the_requested_algorithm(KeyAlgorithm algorithm)
    {
        using var key = PrivateKey.Generate(algorithm);
        var expectedBits = algorithm switch
        {
            KeyAlgorithm.Rsa => 2048,
            KeyAlgorithm.EcdsaP384 => 384,
            KeyAlgorithm.EcdsaP521 => 521,
            _ => 256,
        };
        Assert.Multiple(() =>
        {
            Assert.That(key.Algorithm, Is.EqualTo(algorithm));
            Assert.That(key.PublicKey.Algorithm, Is.EqualTo(algorithm));
            Assert.That(key.PublicKey.KeySizeInBits, Is.EqualTo(expectedBits));
        });
    }

    [Test]
    public void An_ec_key_on_a_curve_openssl_does_not_know_is_a_format_error()
    {
        // Fuzzing regression (pem): SEC1 key whose named-curve OID is 1.2.712.10045.3.1.7 (a mutated
        // P-256 OID); OpenSSL's "curve not valid for this platform" escaped as PlatformNotSupportedException.
        const string pem = """
            -----BEGIN EC PRIVATE KEY-----
            MHcCAQEEIO8zywx+ubLmy5rgkLGmd4k+B7ju/+QDx/DiHPIVlMTgoAoGCCqFSM49
            AwEHoUQDQgAE+BWdnnNgtB7Y4oL2ml6HTWp3Gp5vBCjF2Ko/xr50m1slt/6AcSl2
            uUW7VQ6vcXBAHscKo/xr50m1slt/6AcSlg==
            -----END EC PRIVATE KEY-----
            """;

        var error = Assert.Throws<TeleportFormatException>(() => PrivateKey.ImportPem(pem));

        Assert.That(error!.Message, Is.EqualTo("Malformed or unsupported EC private key."));
    }

    [Test]
    public void A_certificate_with_an_undecodable_key_usage_is_a_format_error_when_the_key_is_attached()
    {
        // Fuzzing regression (bot-storage, Crashes/bot-storage/tls-certificate-bad-key-usage.json): the
        // platform decodes the key usage extension of an ECDSA certificate only when a key is attached,
        // so a certificate that loaded fine threw CryptographicException from CopyWithPrivateKey.
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        var ecdsa = (ECDsa)key.GetAsymmetricAlgorithm();
        var request = new CertificateRequest("CN=bot", ecdsa, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509Extension("2.5.29.15", [0x02, 0x01, 0x00], critical: true));
        using var certificate = request.Create(
            new X500DistinguishedName("CN=bot"), X509SignatureGenerator.CreateForECDsa(ecdsa), DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddYears(100), [1]);

        var error = Assert.Throws<TeleportFormatException>(() => key.CopyWithPrivateKey(certificate));

        Assert.That(error!.InnerException, Is.InstanceOf<CryptographicException>());
    }

    [Test]
    public void Two_generated_keys_differ()
    {
        using var a = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var b = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        Assert.That(a.PublicKey, Is.Not.EqualTo(b.PublicKey));
    }

    [TestCase(KeyAlgorithm.Rsa, "RSA PRIVATE KEY")]
    [TestCase(KeyAlgorithm.EcdsaP256, "PRIVATE KEY")]
    [TestCase(KeyAlgorithm.EcdsaP384, "PRIVATE KEY")]
    [TestCase(KeyAlgorithm.EcdsaP521, "PRIVATE KEY")]
    [TestCase(KeyAlgorithm.Ed25519, "PRIVATE KEY")]
    public void ExportPem_uses_Teleports_encoding_and_round_trips(KeyAlgorithm algorithm, string label)
    {
        var key = TestKeys.Get(algorithm);
        var pem = key.ExportPem();
        Assert.That(pem, Does.StartWith($"-----BEGIN {label}-----\n"));
        Assert.That(pem, Does.EndWith($"-----END {label}-----\n"));
        using var imported = PrivateKey.ImportPem(pem);
        Assert.That(imported.Algorithm, Is.EqualTo(algorithm));
        Assert.That(imported.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(imported.ExportPem(), Is.EqualTo(pem));
    }

    [TestCaseSource(nameof(Algorithms))]
    public void ExportOpenSshPem_round_trips(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm);
        var pem = key.ExportOpenSshPem("a comment");
        Assert.That(pem, Does.StartWith("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        using var imported = PrivateKey.ImportPem(pem);
        Assert.That(imported.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(imported.ExportPem(), Is.EqualTo(key.ExportPem()), "same private key");
    }

    [Test]
    public void Ed25519_PKCS8_matches_RFC_8410_layout()
    {
        var key = TestKeys.Get(KeyAlgorithm.Ed25519);
        var der = Convert.FromBase64String(string.Concat(key.ExportPem().Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal))));
        // SEQUENCE(46) { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING(32) } }
        Assert.That(der.Length, Is.EqualTo(48));
        Assert.That(der[..16], Is.EqualTo(Convert.FromHexString("302e020100300506032b657004220420")));
    }

    // ssh-keygen and openssl made these files (TestData/Crypto/keys/generate.sh).
    [TestCase("rsa2048.openssh.key", "rsa2048.pub")]
    [TestCase("rsa2048.pem.key", "rsa2048.pub")]
    [TestCase("rsa2048.pkcs8.key", "rsa2048.pub")]
    [TestCase("rsa3072.openssh.key", "rsa3072.pub")]
    [TestCase("rsa3072.pem.key", "rsa3072.pub")]
    [TestCase("rsa3072.pkcs8.key", "rsa3072.pub")]
    [TestCase("ecdsa256.openssh.key", "ecdsa256.pub")]
    [TestCase("ecdsa256.pem.key", "ecdsa256.pub")]
    [TestCase("ecdsa256.pkcs8.key", "ecdsa256.pub")]
    [TestCase("ecdsa384.openssh.key", "ecdsa384.pub")]
    [TestCase("ecdsa384.pem.key", "ecdsa384.pub")]
    [TestCase("ecdsa384.pkcs8.key", "ecdsa384.pub")]
    [TestCase("ecdsa521.openssh.key", "ecdsa521.pub")]
    [TestCase("ecdsa521.pem.key", "ecdsa521.pub")]
    [TestCase("ecdsa521.pkcs8.key", "ecdsa521.pub")]
    [TestCase("ed25519.openssh.key", "ed25519.pub")]
    [TestCase("openssl-ecdsa384.sec1-with-params.key", "openssl-ecdsa384.pub")]
    [TestCase("openssl-rsa2048.pkcs1.key", "openssl-rsa2048.pub")]
    [TestCase("openssl-rsa2048.pkcs8.key", "openssl-rsa2048.pub")]
    public void Imports_keys_written_by_ssh_keygen_and_openssl(string keyFile, string publicFile)
    {
        using var key = PrivateKey.ImportPem(TestKeys.ReadKeyFile(keyFile));
        var expected = PublicKeyInfo.ParseAuthorizedKey(TestKeys.ReadKeyFile(publicFile));
        Assert.That(key.PublicKey, Is.EqualTo(expected));
        Assert.That(key.PublicKey.ToAuthorizedKey(), Is.EqualTo(string.Join(' ', TestKeys.ReadKeyFile(publicFile).Split(' ')[..2]).Trim()));
    }

    [TestCase("openssl-ed25519.pkcs8.key", "openssl-ed25519.spki.pem")]
    [TestCase("openssl-ecdsa384.sec1-with-params.key", "openssl-ecdsa384.spki.pem")]
    [TestCase("openssl-rsa2048.pkcs8.key", "openssl-rsa2048.spki.pem")]
    [TestCase("openssl-rsa2048.pkcs8.key", "openssl-rsa2048.pkcs1-public.pem")]
    public void Imported_openssl_keys_match_their_openssl_public_keys(string keyFile, string publicFile)
    {
        using var key = PrivateKey.ImportPem(TestKeys.ReadKeyFile(keyFile));
        Assert.That(key.PublicKey, Is.EqualTo(PublicKeyInfo.ImportPem(TestKeys.ReadKeyFile(publicFile))));
    }

    [Test]
    public void Imported_RSA_key_keeps_its_size()
    {
        using var key = PrivateKey.ImportPem(TestKeys.ReadKeyFile("rsa3072.openssh.key"));
        Assert.That(key.Algorithm, Is.EqualTo(KeyAlgorithm.Rsa));
        Assert.That(key.PublicKey.KeySizeInBits, Is.EqualTo(3072));
        // The key imported from the OpenSSH format (which lacks the CRT exponents) signs correctly.
        var signature = SshSignature.Create(key, SshSignature.RsaSha512, "data"u8);
        Assert.That(SshSignature.Verify(key.PublicKey, "data"u8, signature), Is.True);
    }

    [Test]
    public void Import_skips_blocks_that_are_not_private_keys()
    {
        var key = TestKeys.Get(KeyAlgorithm.EcdsaP256);
        var pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + key.ExportPem();
        using var imported = PrivateKey.ImportPem(pem);
        Assert.That(imported.PublicKey, Is.EqualTo(key.PublicKey));
    }

    [TestCase("")]
    [TestCase("not a key")]
    [TestCase("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")]
    [TestCase("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")]
    [TestCase("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n")]
    [TestCase("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n")]
    [TestCase("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----\n")]
    [TestCase("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n")]
    [TestCase("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")]
    public void Rejects_bad_input_with_a_format_error(string pem)
    {
        Assert.That(() => PrivateKey.ImportPem(pem), Throws.TypeOf<TeleportFormatException>());
    }

    [Test]
    public void Rejects_an_encrypted_openssh_key_with_a_hint()
    {
        using var dir = new Infrastructure.SshTestDirectory();
        var keygen = Infrastructure.OpenSshTools.SshKeygen;
        var path = dir.File("enc");
        var result = Infrastructure.SshToolRunner.Run(keygen, "-q", "-t", "ed25519", "-N", "secret-pass", "-f", path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var ex = Assert.Throws<TeleportFormatException>(() => PrivateKey.ImportPem(File.ReadAllText(path)));
        Assert.That(ex!.Message, Does.Contain("Encrypted"));
    }

    [TestCaseSource(nameof(Algorithms))]
    public void Truncated_or_corrupted_key_files_give_format_errors(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm);
        foreach (var pem in new[] { key.ExportPem(), key.ExportOpenSshPem() })
        {
            var lines = pem.Split('\n');
            var header = lines[0];
            var footer = lines[^2];
            var der = Convert.FromBase64String(string.Concat(lines[1..^2]));
            for (var length = 0; length < der.Length; length += Math.Max(1, der.Length / 97))
            {
                var truncated = $"{header}\n{Convert.ToBase64String(der, 0, length)}\n{footer}\n";
                Assert.That(() => PrivateKey.ImportPem(truncated), Throws.TypeOf<TeleportFormatException>(), $"{header} truncated to {length}");
            }
        }
    }

    [Test]
    public void OpenSsh_key_with_mismatched_public_key_is_rejected()
    {
        var a = TestKeys.Get(KeyAlgorithm.Ed25519, 0).ExportOpenSshPem();
        var b = TestKeys.Get(KeyAlgorithm.Ed25519, 1).ExportOpenSshPem();
        var blobA = Convert.FromBase64String(string.Concat(a.Split('\n')[1..^2]));
        var blobB = Convert.FromBase64String(string.Concat(b.Split('\n')[1..^2]));
        // Header (magic, none, none, empty, count) then the public key string: take A's public part, B's private part.
        var publicEnd = 15 + (4 + 4) + (4 + 4) + 4 + 4 + 4 + 51;
        var mixed = blobA[..publicEnd].Concat(blobB[publicEnd..]).ToArray();
        var pem = $"-----BEGIN OPENSSH PRIVATE KEY-----\n{Convert.ToBase64String(mixed)}\n-----END OPENSSH PRIVATE KEY-----\n";
        Assert.That(() => PrivateKey.ImportPem(pem), Throws.TypeOf<TeleportFormatException>().With.Message.Contains("does not match"));
    }

    [Test]
    public void Rejects_an_RSA_key_whose_modulus_does_not_match_its_primes()
    {
        var parameters = ((RSA)TestKeys.Get(KeyAlgorithm.Rsa).GetAsymmetricAlgorithm()).ExportParameters(true);
        var modulus = (byte[])parameters.Modulus!.Clone();
        modulus[^1] ^= 0x02;
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(0);
            foreach (var value in new[] { modulus, parameters.Exponent, parameters.D, parameters.P, parameters.Q, parameters.DP, parameters.DQ, parameters.InverseQ })
            {
                // RSAParameters pads D, DP, DQ and InverseQ to fixed lengths; DER wants minimal integers.
                writer.WriteInteger(new System.Numerics.BigInteger(value, isUnsigned: true, isBigEndian: true));
            }
        }

        var pem = PemEncoding.WriteString("RSA PRIVATE KEY", writer.Encode());
        Assert.That(() => PrivateKey.ImportPem(pem), Throws.TypeOf<TeleportFormatException>());
    }

    [TestCase(KeyAlgorithm.Rsa)]
    [TestCase(KeyAlgorithm.EcdsaP256)]
    [TestCase(KeyAlgorithm.EcdsaP384)]
    public void CopyWithPrivateKey_attaches_the_key_for_TLS(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm);
        using var certificate = SelfSigned(key);
        using var withKey = key.CopyWithPrivateKey(certificate);
        Assert.That(withKey.HasPrivateKey, Is.True);
        var data = "hello"u8.ToArray();
        if (algorithm == KeyAlgorithm.Rsa)
        {
            using var rsa = withKey.GetRSAPrivateKey()!;
            var signature = rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            Assert.That(key.PublicKey.CreateRsa().VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), Is.True);
        }
        else
        {
            using var ecdsa = withKey.GetECDsaPrivateKey()!;
            var signature = ecdsa.SignData(data, HashAlgorithmName.SHA256);
            Assert.That(key.PublicKey.CreateEcdsa().VerifyData(data, signature, HashAlgorithmName.SHA256), Is.True);
        }
    }

    [Test]
    public void CopyWithPrivateKey_refuses_a_certificate_for_another_key()
    {
        using var certificate = SelfSigned(TestKeys.Get(KeyAlgorithm.EcdsaP256, 0));
        Assert.That(() => TestKeys.Get(KeyAlgorithm.EcdsaP256, 1).CopyWithPrivateKey(certificate), Throws.ArgumentException);
    }

    [Test]
    public void CopyWithPrivateKey_is_not_supported_for_Ed25519()
    {
        using var certificate = SelfSigned(TestKeys.Get(KeyAlgorithm.EcdsaP256));
        Assert.That(() => TestKeys.Get(KeyAlgorithm.Ed25519).CopyWithPrivateKey(certificate), Throws.TypeOf<NotSupportedException>());
        Assert.That(() => TestKeys.Get(KeyAlgorithm.Ed25519).GetAsymmetricAlgorithm(), Throws.TypeOf<NotSupportedException>());
    }

    [Test]
    public void Disposed_key_refuses_to_work()
    {
        var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        key.Dispose();
        key.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(() => key.ExportPem(), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => key.ExportOpenSshPem(), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => SshSignature.Create(key, SshSignature.EcdsaP256, "x"u8), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(key.PublicKey, Is.Not.Null, "the public half stays readable");
        });
    }

    [TestCaseSource(nameof(Algorithms))]
    public void ToString_does_not_reveal_the_key(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm);
        var text = key.ToString();
        var pemBody = key.ExportPem().Split('\n')[1];
        Assert.That(text, Does.Contain(key.PublicKey.Sha256Fingerprint));
        Assert.That(text, Does.Not.Contain(pemBody));
    }

    internal static X509Certificate2 SelfSigned(PrivateKey key)
    {
        var algorithm = key.GetAsymmetricAlgorithm();
        var request = algorithm is RSA rsa
            ? new CertificateRequest("CN=test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=test", (ECDsa)algorithm, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        using var withKey = request.CreateSelfSigned(now.AddMinutes(-1), now.AddHours(1));
        return X509CertificateLoader.LoadCertificate(withKey.RawData);
    }
}
