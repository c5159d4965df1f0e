using System.Globalization;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Formats.Crypto;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Formats.Ssh;

namespace Teleport.MachineId.Tests.Formats.Interop;

/// <summary>
/// Certificates cross between us and OpenSSH's ssh-keygen in both directions: ssh-keygen -L
/// (which checks the CA signature while parsing) accepts and prints what we sign, and we parse
/// and verify what ssh-keygen -s signs.
/// </summary>
[NonParallelizable]
public sealed class SshKeygenCertificateInteropTests
{
    private static readonly DateTimeOffset From = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2025, 3, 5, 5, 6, 7, TimeSpan.Zero);

    private SshTestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new SshTestDirectory("tmid-keygen");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static IEnumerable<TestCaseData> OurSigners()
    {
        var subjects = TestKeys.All;
        var i = 0;
        foreach (var (ca, signature) in TestCertificates.Signers)
        {
            foreach (var type in new[] { SshCertificateType.User, SshCertificateType.Host })
            {
                var subject = subjects[i++ % subjects.Length];
                yield return new TestCaseData(ca, signature, type, subject)
                    .SetArgDisplayNames(ca.ToString(), signature, type.ToString(), subject.ToString());
            }
        }
    }

    [TestCaseSource(nameof(OurSigners))]
    public void Ssh_keygen_accepts_and_prints_the_certificates_we_sign(KeyAlgorithm ca, string signature, SshCertificateType type, KeyAlgorithm subject)
    {
        var keygen = OpenSshTools.SshKeygen;
        var caKey = TestKeys.Get(ca, 7);
        var builder = new SshCertificateBuilder
        {
            PublicKey = TestKeys.Get(subject).PublicKey,
            Type = type,
            KeyId = "tmid bot-robot",
            Serial = 123456789,
            Principals = { "root", "-teleport-internal-join" },
            ValidAfter = From,
            ValidBefore = To,
            SignatureAlgorithm = signature,
            Extensions =
            {
                ["teleport-roles"] = TeleportSshCertificateInfo.EncodeRoles(["bot-robot"]),
                ["permit-pty"] = "",
                ["permit-X11-forwarding"] = "",
                ["bot-name@goteleport.com"] = "robot",
            },
        };
        if (type == SshCertificateType.User)
        {
            builder.CriticalOptions["source-address"] = "127.0.0.1/32,::1/128";
            builder.CriticalOptions["force-command"] = "/bin/true";
        }

        var certificate = builder.Sign(caKey);
        var path = _dir.Write("id-cert.pub", certificate.ToAuthorizedKey("comment") + "\n");
        var result = SshToolRunner.Run(keygen, "-L", "-f", path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.StandardOutput.Split('\n').Select(l => l.Trim()).ToList();
        var typeWord = type == SshCertificateType.User ? "user" : "host";
        Assert.Multiple(() =>
        {
            Assert.That(lines, Does.Contain($"Type: {KeyAlgorithmInfo.CertificateType(subject)} {typeWord} certificate"));
            Assert.That(lines, Does.Contain($"Public key: {Label(subject)}-CERT {certificate.PublicKey.Sha256Fingerprint}"));
            Assert.That(lines, Does.Contain($"Signing CA: {Label(ca)} {caKey.PublicKey.Sha256Fingerprint} (using {signature})"));
            Assert.That(lines, Does.Contain("Key ID: \"tmid bot-robot\""));
            Assert.That(lines, Does.Contain("Serial: 123456789"));
            Assert.That(lines, Does.Contain($"Valid: from {From.UtcDateTime:yyyy-MM-ddTHH:mm:ss} to {To.UtcDateTime:yyyy-MM-ddTHH:mm:ss}"));
            Assert.That(Section(result.StandardOutput, "Principals:"), Is.EqualTo(new[] { "root", "-teleport-internal-join" }));
            Assert.That(
                Section(result.StandardOutput, "Extensions:").Select(l => l.Split(' ')[0]),
                Is.EqualTo(new[] { "bot-name@goteleport.com", "permit-X11-forwarding", "permit-pty", "teleport-roles" }));
            if (type == SshCertificateType.User)
            {
                Assert.That(Section(result.StandardOutput, "Critical Options:"), Is.EqualTo(new[] { "force-command /bin/true", "source-address 127.0.0.1/32,::1/128" }));
            }
        });
    }

    [Test]
    public void Ssh_keygen_prints_forever_for_our_default_validity()
    {
        var certificate = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey, Type = SshCertificateType.Host }
            .Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 7));
        var path = _dir.Write("forever-cert.pub", certificate.ToAuthorizedKey() + "\n");
        var result = SshToolRunner.Run(OpenSshTools.SshKeygen, "-L", "-f", path);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StandardOutput, Does.Contain("Valid: forever"));
    }

    [Test]
    public void Ssh_keygen_rejects_our_certificate_when_the_signature_is_tampered()
    {
        var wire = TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256).ToWire();
        wire[^5] ^= 0x10;
        var path = _dir.Write("bad-cert.pub", $"ssh-ed25519-cert-v01@openssh.com {Convert.ToBase64String(wire)}\n");
        var result = SshToolRunner.Run(OpenSshTools.SshKeygen, "-L", "-f", path);
        Assert.That(result.ExitCode, Is.Not.Zero, "ssh-keygen -L checks the CA signature, so our passing tests above mean real signatures");
    }

    private static IEnumerable<TestCaseData> KeygenSigners()
    {
        var cases = new (string Name, string[] KeygenType, string[] SignOption, string Signature)[]
        {
            ("ed25519", ["-t", "ed25519"], [], "ssh-ed25519"),
            ("ecdsa-p256", ["-t", "ecdsa", "-b", "256"], [], "ecdsa-sha2-nistp256"),
            ("ecdsa-p384", ["-t", "ecdsa", "-b", "384"], [], "ecdsa-sha2-nistp384"),
            ("ecdsa-p521", ["-t", "ecdsa", "-b", "521"], [], "ecdsa-sha2-nistp521"),
            ("rsa-default", ["-t", "rsa", "-b", "2048"], [], "rsa-sha2-512"),
            ("rsa-sha2-256", ["-t", "rsa", "-b", "3072"], ["-t", "rsa-sha2-256"], "rsa-sha2-256"),
            ("rsa-sha2-512", ["-t", "rsa", "-b", "2048"], ["-t", "rsa-sha2-512"], "rsa-sha2-512"),
            ("ssh-rsa", ["-t", "rsa", "-b", "2048"], ["-t", "ssh-rsa"], "ssh-rsa"),
        };
        var subjects = new[] { "ed25519", "ecdsa-256", "ecdsa-384", "ecdsa-521", "rsa-2048" };
        var i = 0;
        foreach (var c in cases)
        {
            foreach (var host in new[] { false, true })
            {
                var subject = subjects[i++ % subjects.Length];
                yield return new TestCaseData(c.KeygenType, c.SignOption, c.Signature, host, subject)
                    .SetArgDisplayNames(c.Name, host ? "host" : "user", subject);
            }
        }
    }

    [TestCaseSource(nameof(KeygenSigners))]
    public void We_parse_and_verify_what_ssh_keygen_signs(string[] caType, string[] signOption, string signature, bool host, string subject)
    {
        var keygen = OpenSshTools.SshKeygen;
        var ca = _dir.File("ca");
        Run(keygen, ["-q", .. caType, "-N", "", "-C", "test-ca", "-f", ca]);
        var user = _dir.File("subject");
        var subjectArgs = subject.Split('-') switch
        {
            ["ed25519"] => new[] { "-t", "ed25519" },
            [var t, var bits] => ["-t", t, "-b", bits],
            _ => throw new ArgumentException(subject),
        };
        Run(keygen, ["-q", .. subjectArgs, "-N", "", "-f", user]);
        var options = host
            ? new[] { "-h" }
            : ["-O", "force-command=/usr/bin/id", "-O", "source-address=10.0.0.0/8", "-O", "no-pty", "-O", "extension:bot-name@goteleport.com=robot", "-O", "extension:renewable"];
        Run(keygen, ["-q", "-s", ca, .. signOption, "-I", "keygen id", "-n", "root,node-1.example.com", "-V", "20250304050607:20250305050607", "-z", "77", .. options, user + ".pub"]);

        var certificate = SshCertificate.ParseAuthorizedKey(File.ReadAllText(user + "-cert.pub"));
        var caPublic = PublicKeyInfo.ParseAuthorizedKey(File.ReadAllText(ca + ".pub"));
        var subjectPublic = PublicKeyInfo.ParseAuthorizedKey(File.ReadAllText(user + ".pub"));
        Assert.Multiple(() =>
        {
            Assert.That(certificate.Type, Is.EqualTo(host ? SshCertificateType.Host : SshCertificateType.User));
            Assert.That(certificate.PublicKey, Is.EqualTo(subjectPublic));
            Assert.That(certificate.SignatureKey, Is.EqualTo(caPublic));
            Assert.That(certificate.SignatureAlgorithm, Is.EqualTo(signature));
            Assert.That(certificate.KeyId, Is.EqualTo("keygen id"));
            Assert.That(certificate.Serial, Is.EqualTo(77UL));
            Assert.That(certificate.Principals, Is.EqualTo(new[] { "root", "node-1.example.com" }));
            Assert.That(certificate.ValidAfter, Is.EqualTo(From));
            Assert.That(certificate.ValidBefore, Is.EqualTo(To));
            Assert.That(certificate.Nonce.Length, Is.EqualTo(32));
            Assert.That(certificate.VerifySignature(), Is.True);
            if (host)
            {
                Assert.That(certificate.CriticalOptions, Is.Empty);
                Assert.That(certificate.Extensions, Is.Empty);
            }
            else
            {
                Assert.That(certificate.CriticalOptions, Is.EqualTo(new Dictionary<string, string>
                {
                    ["force-command"] = "/usr/bin/id",
                    ["source-address"] = "10.0.0.0/8",
                }));
                Assert.That(certificate.Extensions.Keys, Is.EqualTo(new[]
                {
                    "bot-name@goteleport.com", "permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding", "permit-user-rc", "renewable",
                }));
                var info = certificate.GetTeleportInfo();
                Assert.That(info.BotName, Is.EqualTo("robot"));
                Assert.That(info.Renewable, Is.True);
                Assert.That(info.PermitPty, Is.False);
            }
        });

        var type = host ? SshCertificateType.Host : SshCertificateType.User;
        certificate.Verify([caPublic], From.AddHours(1), type, "node-1.example.com");
        Assert.That(
            () => certificate.Verify([subjectPublic], From.AddHours(1), type),
            Throws.TypeOf<CertificateValidationException>().With.Property("Failure").EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(
            () => certificate.Verify([caPublic], To, type),
            Throws.TypeOf<CertificateValidationException>().With.Property("Failure").EqualTo(CertificateValidationFailure.Expired));

        // And the subject's private key, written by ssh-keygen, matches the certified key.
        using var privateKey = PrivateKey.ImportPem(File.ReadAllText(user));
        Assert.That(privateKey.PublicKey, Is.EqualTo(certificate.PublicKey));
        // Round trip of the exact bytes.
        Assert.That(certificate.ToAuthorizedKey(), Is.EqualTo(string.Join(' ', File.ReadAllText(user + "-cert.pub").Split(' ')[..2]).Trim()));
    }

    [Test]
    public void Every_truncation_of_an_ssh_keygen_certificate_is_a_format_error()
    {
        var keygen = OpenSshTools.SshKeygen;
        var ca = _dir.File("ca");
        Run(keygen, ["-q", "-t", "ecdsa", "-N", "", "-f", ca]);
        var user = _dir.File("u");
        Run(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", user]);
        Run(keygen, ["-q", "-s", ca, "-I", "id", "-n", "root", "-O", "extension:teleport-roles={\"roles\":[\"a\"]}", user + ".pub"]);
        var wire = SshCertificate.ParseAuthorizedKey(File.ReadAllText(user + "-cert.pub")).ToWire();
        for (var length = 0; length < wire.Length; length++)
        {
            var prefix = wire[..length];
            Assert.That(() => SshCertificate.FromWire(prefix), Throws.TypeOf<TeleportFormatException>(), $"length {length}");
        }
    }

    private static void Run(string program, string[] arguments)
    {
        var result = SshToolRunner.Run(program, arguments);
        Assert.That(result.ExitCode, Is.Zero, $"{program} {string.Join(' ', arguments)}\n{result}");
    }

    private static string Label(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.Ed25519 => "ED25519",
        KeyAlgorithm.Rsa => "RSA",
        _ => "ECDSA",
    };

    /// <summary>The items under a heading of ssh-keygen -L output (headings are indented 8 spaces, items 16).</summary>
    private static List<string> Section(string output, string heading)
    {
        var lines = output.Split('\n');
        var start = Array.FindIndex(lines, l => l.Trim() == heading);
        var result = new List<string>();
        if (start < 0)
        {
            return result;
        }

        for (var i = start + 1; i < lines.Length && lines[i].StartsWith("                ", StringComparison.Ordinal); i++)
        {
            result.Add(lines[i].Trim());
        }

        return result;
    }
}
