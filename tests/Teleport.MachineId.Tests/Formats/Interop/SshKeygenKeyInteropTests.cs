using Teleport.MachineId.Crypto;
using Teleport.MachineId.Tests.Formats.Crypto;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Formats.Interop;

/// <summary>Keys cross between us and ssh-keygen in both directions.</summary>
/// <remarks>
/// File formats: <see cref="PrivateKey.ExportPem"/> writes PKCS#1 (RSA) and PKCS#8 (ECDSA, Ed25519),
/// as Teleport stores keys. OpenSSH 9.2 reads the RSA and ECDSA files but not PKCS#8 Ed25519, so
/// files OpenSSH must read use <see cref="PrivateKey.ExportOpenSshPem"/> for Ed25519.
/// </remarks>
[NonParallelizable]
public sealed class SshKeygenKeyInteropTests
{
    private static readonly KeyAlgorithm[] Algorithms = TestKeys.All;

    private SshTestDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new SshTestDirectory("tmid-keys");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [TestCaseSource(nameof(Algorithms))]
    public void Ssh_keygen_derives_our_public_key_from_our_OpenSSH_private_key_file(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm);
        var path = _dir.Write("key", key.ExportOpenSshPem("tmid"), secret: true);
        Assert.That(DerivePublic(path), Is.EqualTo(key.PublicKey.ToAuthorizedKey()));
    }

    [TestCase(KeyAlgorithm.Rsa)]
    [TestCase(KeyAlgorithm.EcdsaP256)]
    [TestCase(KeyAlgorithm.EcdsaP384)]
    [TestCase(KeyAlgorithm.EcdsaP521)]
    public void Ssh_keygen_derives_our_public_key_from_our_PEM_private_key_file(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm);
        var path = _dir.Write("key", key.ExportPem(), secret: true);
        Assert.That(DerivePublic(path), Is.EqualTo(key.PublicKey.ToAuthorizedKey()));
    }

    [Test]
    public void Ed25519_PKCS8_is_read_by_OpenSSH_only_when_it_supports_it()
    {
        // Documents why Ed25519 files meant for OpenSSH use ExportOpenSshPem: OpenSSH 9.2 refuses PKCS#8 Ed25519.
        var key = TestKeys.Get(KeyAlgorithm.Ed25519);
        var path = _dir.Write("key", key.ExportPem(), secret: true);
        var result = SshToolRunner.Run(OpenSshTools.SshKeygen, "-y", "-f", path);
        if (result.ExitCode == 0)
        {
            Assert.That(result.StandardOutput.Trim(), Is.EqualTo(key.PublicKey.ToAuthorizedKey()));
        }
        else
        {
            Assert.That(result.StandardError, Does.Contain("invalid format"));
        }
    }

    private static IEnumerable<TestCaseData> KeygenKeys()
    {
        foreach (var (name, args) in new (string, string[])[]
        {
            ("ed25519", ["-t", "ed25519"]),
            ("ecdsa-256", ["-t", "ecdsa", "-b", "256"]),
            ("ecdsa-384", ["-t", "ecdsa", "-b", "384"]),
            ("ecdsa-521", ["-t", "ecdsa", "-b", "521"]),
            ("rsa-2048", ["-t", "rsa", "-b", "2048"]),
            ("rsa-4096", ["-t", "rsa", "-b", "4096"]),
        })
        {
            foreach (var format in name == "ed25519" ? new[] { "default" } : ["default", "PEM", "PKCS8"])
            {
                yield return new TestCaseData(args, format).SetArgDisplayNames(name, format);
            }
        }
    }

    [TestCaseSource(nameof(KeygenKeys))]
    public void We_import_keys_ssh_keygen_writes_and_agree_on_the_fingerprint(string[] typeArgs, string format)
    {
        var keygen = OpenSshTools.SshKeygen;
        var path = _dir.File("id");
        string[] formatArgs = format == "default" ? [] : ["-m", format];
        Run(keygen, ["-q", .. typeArgs, .. formatArgs, "-N", "", "-C", "made-by-keygen", "-f", path]);

        using var key = PrivateKey.ImportPem(File.ReadAllText(path));
        var publicLine = File.ReadAllText(path + ".pub");
        Assert.That(key.PublicKey, Is.EqualTo(PublicKeyInfo.ParseAuthorizedKey(publicLine)));

        var fingerprint = SshToolRunner.Run(keygen, "-l", "-E", "sha256", "-f", path + ".pub");
        Assert.That(fingerprint.ExitCode, Is.Zero, fingerprint.ToString());
        Assert.That(fingerprint.StandardOutput.Split(' ')[1], Is.EqualTo(key.PublicKey.Sha256Fingerprint));

        // Our re-export reads back in ssh-keygen.
        var exported = _dir.Write("reexported", key.ExportOpenSshPem(), secret: true);
        Assert.That(DerivePublic(exported), Is.EqualTo(key.PublicKey.ToAuthorizedKey()));
    }

    [TestCase(KeyAlgorithm.Rsa, "PEM")]
    [TestCase(KeyAlgorithm.Rsa, "PKCS8")]
    [TestCase(KeyAlgorithm.EcdsaP256, "PKCS8")]
    [TestCase(KeyAlgorithm.EcdsaP521, "PKCS8")]
    public void Public_key_PEM_matches_what_ssh_keygen_exports_and_imports(KeyAlgorithm algorithm, string format)
    {
        var keygen = OpenSshTools.SshKeygen;
        var key = TestKeys.Get(algorithm).PublicKey;
        var pub = _dir.Write("key.pub", key.ToAuthorizedKey("c") + "\n");

        var exported = SshToolRunner.Run(keygen, "-e", "-m", format, "-f", pub);
        Assert.That(exported.ExitCode, Is.Zero, exported.ToString());
        Assert.That(PublicKeyInfo.ImportPem(exported.StandardOutput), Is.EqualTo(key));
        if (format == "PEM" || algorithm != KeyAlgorithm.Rsa)
        {
            // ssh-keygen writes PKCS#1 for -m PEM and PKIX for -m PKCS8: the same bytes as our ExportPem.
            Assert.That(Normalize(exported.StandardOutput), Is.EqualTo(Normalize(key.ExportPem())));
        }

        var ours = _dir.Write("ours.pem", algorithm == KeyAlgorithm.Rsa && format == "PKCS8"
            ? System.Security.Cryptography.PemEncoding.WriteString("PUBLIC KEY", key.ExportSubjectPublicKeyInfo()) + "\n"
            : key.ExportPem());
        var imported = SshToolRunner.Run(keygen, "-i", "-m", format, "-f", ours);
        Assert.That(imported.ExitCode, Is.Zero, imported.ToString());
        Assert.That(PublicKeyInfo.ParseAuthorizedKey(imported.StandardOutput), Is.EqualTo(key));
    }

    private string DerivePublic(string privateKeyPath)
    {
        var result = SshToolRunner.Run(OpenSshTools.SshKeygen, "-y", "-f", privateKeyPath);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        // ssh-keygen -y prints "<type> <base64> [comment]".
        return string.Join(' ', result.StandardOutput.Trim().Split(' ')[..2]);
    }

    private static void Run(string program, string[] arguments)
    {
        var result = SshToolRunner.Run(program, arguments);
        Assert.That(result.ExitCode, Is.Zero, $"{program} {string.Join(' ', arguments)}\n{result}");
    }

    private static string Normalize(string pem) => pem.Replace("\r", "", StringComparison.Ordinal).Trim();
}
