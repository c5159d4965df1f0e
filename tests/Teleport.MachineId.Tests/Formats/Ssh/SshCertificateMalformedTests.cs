using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Formats.Crypto;
using static Teleport.MachineId.Tests.Formats.Ssh.SshCertificateTests;

namespace Teleport.MachineId.Tests.Formats.Ssh;

/// <summary>Bad input of every kind gives a typed error, never a runtime exception.</summary>
public sealed class SshCertificateMalformedTests
{
    private static readonly string[] RealCertificates =
    [
        "ed25519-user", "ecdsa-user", "rsa-user", "teleport-fixture",
    ];

    [TestCaseSource(nameof(RealCertificates))]
    public void Every_truncation_is_a_format_error(string which)
    {
        var wire = Load(which);
        for (var length = 0; length < wire.Length; length++)
        {
            var prefix = wire[..length];
            Assert.That(() => SshCertificate.FromWire(prefix), Throws.TypeOf<TeleportFormatException>(), $"truncated to {length} of {wire.Length}");
        }

        Assert.That(() => SshCertificate.FromWire([.. wire, 0]), Throws.TypeOf<TeleportFormatException>(), "trailing byte");
    }

    [Test]
    public void Random_garbage_never_escapes_as_a_runtime_exception()
    {
        var random = new Random(20250101);
        var header = Str("ssh-ed25519-cert-v01@openssh.com");
        for (var i = 0; i < 4000; i++)
        {
            var garbage = new byte[random.Next(0, 700)];
            random.NextBytes(garbage);
            if (i % 2 == 1)
            {
                garbage = Concat(header, garbage);
            }

            ParseAndTouchEverything(garbage);
        }
    }

    [TestCaseSource(nameof(RealCertificates))]
    public void Mutated_certificates_never_escape_as_runtime_exceptions(string which)
    {
        var original = Load(which);
        var random = new Random(which.GetHashCode(StringComparison.Ordinal) ^ 77);
        var parsedCount = 0;
        for (var i = 0; i < 1500; i++)
        {
            var mutated = (byte[])original.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                var at = random.Next(mutated.Length);
                mutated[at] = random.Next(3) switch
                {
                    0 => (byte)(mutated[at] ^ (1 << random.Next(8))),
                    1 => 0xff,
                    _ => 0,
                };
            }

            parsedCount += ParseAndTouchEverything(mutated) ? 1 : 0;
        }

        // Most single-byte changes land in key material or signatures and still parse; they must then fail verification.
        Assert.That(parsedCount, Is.GreaterThan(0));
    }

    [TestCase("ssh-ed25519-cert-v01@openssh.com")]
    [TestCase("ssh-ed25519-cert-v01@openssh.com !!!!")]
    [TestCase("ssh-ed25519-cert-v01@openssh.com AAAAC3NzaC1lZDI1NTE5")]
    [TestCase("ssh-ed25519-cert-v01@openssh.com AAAAC3Nz=C1lZDI1NTE5")]
    [TestCase("ssh-ed25519-cert-v01@openssh.com AAAA")]
    [TestCase("")]
    [TestCase("garbage")]
    [TestCase("ssh-dss-cert-v01@openssh.com AAAAHHNzaC1kc3MtY2VydC12MDFAb3BlbnNzaC5jb20=")]
    public void Bad_lines_are_format_errors(string line)
    {
        Assert.That(() => SshCertificate.ParseAuthorizedKey(line), Throws.TypeOf<TeleportFormatException>());
    }

    [Test]
    public void A_plain_public_key_is_not_a_certificate()
    {
        var key = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey;
        Assert.That(() => SshCertificate.ParseAuthorizedKey(key.ToAuthorizedKey()), Throws.TypeOf<TeleportFormatException>().With.Message.Contains("plain public key"));
        Assert.That(() => SshCertificate.FromWire(key.ToSshWire()), Throws.TypeOf<TeleportFormatException>().With.Message.Contains("plain public key"));
    }

    [Test]
    public void Header_type_must_match_the_body()
    {
        var ed = TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.Ed25519).ToAuthorizedKey();
        var relabeled = "ecdsa-sha2-nistp256-cert-v01@openssh.com " + ed.Split(' ')[1];
        Assert.That(() => SshCertificate.ParseAuthorizedKey(relabeled), Throws.TypeOf<TeleportFormatException>().With.Message.Contains("does not match"));
    }

    [Test]
    public void Body_key_fields_must_match_the_certificate_type()
    {
        // An ECDSA certificate type whose body holds an Ed25519 key.
        var wire = Raw(type: "ecdsa-sha2-nistp256-cert-v01@openssh.com");
        Assert.That(() => SshCertificate.FromWire(wire), Throws.TypeOf<TeleportFormatException>());
        // An ECDSA P-256 certificate whose curve field says nistp384.
        var point = new byte[65];
        point[0] = 4;
        var mismatched = Raw(type: "ecdsa-sha2-nistp256-cert-v01@openssh.com", keyFields: Concat(Str("nistp384"), Str(point)));
        Assert.That(() => SshCertificate.FromWire(mismatched), Throws.TypeOf<TeleportFormatException>());
    }

    [Test]
    public void Baseline_raw_certificate_parses()
    {
        var certificate = SshCertificate.FromWire(Raw());
        Assert.That(certificate.KeyId, Is.EqualTo("id"));
        Assert.That(certificate.Extensions.Keys, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(certificate.VerifySignature(), Is.False);
    }

    [Test]
    public void Structural_errors_are_format_errors()
    {
        var caCertificate = TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.Ed25519).ToWire();
        var cases = new Dictionary<string, byte[]>
        {
            ["type 0"] = Raw(certType: 0),
            ["type 3"] = Raw(certType: 3),
            ["unsorted extensions"] = Raw(extensions: Concat(Str("b"), Str([]), Str("a"), Str([]))),
            ["duplicate extensions"] = Raw(extensions: Concat(Str("a"), Str([]), Str("a"), Str([]))),
            ["unsorted critical options"] = Raw(critical: Concat(Str("source-address"), Str(Str("1.2.3.4/32")), Str("force-command"), Str(Str("x")))),
            ["option data is not a string"] = Raw(extensions: Concat(Str("a"), Str([1, 2, 3]))),
            ["option data has trailing bytes"] = Raw(extensions: Concat(Str("a"), Str(Concat(Str("x"), [0])))),
            ["option without data"] = Raw(extensions: Str("a")),
            ["principal list truncated"] = Raw(principals: Concat(Str("root"), [0, 0, 0, 9, 1])),
            ["CA key is a certificate"] = Raw(signatureKey: caCertificate),
            ["CA key of unknown type"] = Raw(signatureKey: Concat(Str("ssh-dss"), Str([1]))),
            ["CA key with trailing data"] = Raw(signatureKey: Concat(TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey.ToSshWire(), [0])),
            ["signature with trailing data"] = Raw(signature: Concat(Str("ssh-ed25519"), Str(new byte[64]), [0])),
            ["signature without blob"] = Raw(signature: Str("ssh-ed25519")),
            ["trailing data"] = Concat(Raw(), [0]),
            ["Ed25519 key of 31 bytes"] = Raw(keyFields: Str(new byte[31])),
        };
        foreach (var (name, wire) in cases)
        {
            Assert.That(() => SshCertificate.FromWire(wire), Throws.TypeOf<TeleportFormatException>(), name);
        }
    }

    [Test]
    public void Unknown_signature_algorithm_parses_but_never_verifies()
    {
        var certificate = SshCertificate.FromWire(Raw(signature: Concat(Str("sk-ssh-ed25519@openssh.com"), Str(new byte[64]))));
        Assert.That(certificate.SignatureAlgorithm, Is.EqualTo("sk-ssh-ed25519@openssh.com"));
        Assert.That(certificate.VerifySignature(), Is.False);
    }

    /// <summary>Builds a certificate from raw parts (Ed25519 by default) to produce malformed variants.</summary>
    internal static byte[] Raw(
        string type = "ssh-ed25519-cert-v01@openssh.com",
        byte[]? keyFields = null,
        uint certType = 1,
        byte[]? principals = null,
        byte[]? critical = null,
        byte[]? extensions = null,
        byte[]? signatureKey = null,
        byte[]? signature = null)
    {
        var certTypeBytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(certTypeBytes, certType);
        return Concat(
            Str(type),
            Str(new byte[32]),
            keyFields ?? Str(TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey.Ed25519Key.ToArray()),
            new byte[8],
            certTypeBytes,
            Str("id"),
            Str(principals ?? Str("root")),
            new byte[8],
            Enumerable.Repeat((byte)0xff, 8).ToArray(),
            Str(critical ?? []),
            Str(extensions ?? Concat(Str("a"), Str([]), Str("b"), Str(Str("value")))),
            Str([]),
            Str(signatureKey ?? TestKeys.Get(KeyAlgorithm.Ed25519, 1).PublicKey.ToSshWire()),
            Str(signature ?? Concat(Str("ssh-ed25519"), Str(new byte[64]))));
    }

    /// <summary>Parses and reads everything; true when it parsed. Only typed errors are allowed.</summary>
    private static bool ParseAndTouchEverything(byte[] wire)
    {
        SshCertificate certificate;
        try
        {
            certificate = SshCertificate.FromWire(wire);
        }
        catch (TeleportFormatException)
        {
            return false;
        }

        _ = certificate.CertificateTypeName;
        _ = certificate.Nonce;
        _ = certificate.PublicKey.Sha256Fingerprint;
        _ = certificate.Serial;
        _ = certificate.Type;
        _ = certificate.KeyId;
        _ = certificate.Principals.Count;
        _ = certificate.ValidAfter;
        _ = certificate.ValidBefore;
        _ = certificate.CriticalOptions.Count;
        _ = certificate.Extensions.Count;
        _ = certificate.Reserved;
        _ = certificate.SignatureKey.ExportSubjectPublicKeyInfo();
        _ = certificate.SignatureAlgorithm;
        _ = certificate.ToString();
        _ = certificate.ToAuthorizedKey();
        _ = certificate.VerifySignature();
        try
        {
            _ = certificate.GetTeleportInfo();
        }
        catch (TeleportFormatException)
        {
        }

        try
        {
            certificate.Verify([certificate.SignatureKey], DateTimeOffset.UtcNow, SshCertificateType.User, "root");
        }
        catch (CertificateValidationException)
        {
        }

        return true;
    }

    private static byte[] Load(string which) => which switch
    {
        "ed25519-user" => TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.Ed25519).ToWire(),
        "ecdsa-user" => TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP256).ToWire(),
        "rsa-user" => TestCertificates.Sign(KeyAlgorithm.Rsa, KeyAlgorithm.Rsa).ToWire(),
        _ => SshCertificate.ParseAuthorizedKey(File.ReadAllText(TestKeys.DataPath("Ssh", "teleport-key-cert.pub"))).ToWire(),
    };
}
