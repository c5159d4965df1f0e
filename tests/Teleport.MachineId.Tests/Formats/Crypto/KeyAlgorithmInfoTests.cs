using System.Text;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Tests.Formats.Crypto;

/// <summary>The one table of SSH names: each algorithm's key and certificate type, in text and wire bytes, both ways.</summary>
public sealed class KeyAlgorithmInfoTests
{
    private static readonly (KeyAlgorithm Algorithm, string KeyType, string CertificateType)[] OpenSshNames =
    [
        (KeyAlgorithm.Rsa2048, "ssh-rsa", "ssh-rsa-cert-v01@openssh.com"),
        (KeyAlgorithm.EcdsaP256, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com"),
        (KeyAlgorithm.EcdsaP384, "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com"),
        (KeyAlgorithm.EcdsaP521, "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com"),
        (KeyAlgorithm.Ed25519, "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com"),
    ];

    [Test]
    public void Every_algorithm_has_OpenSSHs_names_and_each_name_reads_back_in_text_and_wire_bytes()
    {
        Assert.That(OpenSshNames.Select(n => n.Algorithm), Is.EquivalentTo(Enum.GetValues<KeyAlgorithm>()));
        Assert.Multiple(() =>
        {
            foreach (var (algorithm, keyType, certificateType) in OpenSshNames)
            {
                Assert.That(KeyAlgorithmInfo.SshKeyType(algorithm), Is.EqualTo(keyType));
                Assert.That(KeyAlgorithmInfo.CertificateType(algorithm), Is.EqualTo(certificateType));
                Assert.That(KeyAlgorithmInfo.TryFromSshKeyType(keyType, out var fromText) && fromText == algorithm, keyType);
                Assert.That(KeyAlgorithmInfo.TryFromSshKeyType(Encoding.ASCII.GetBytes(keyType), out var fromBytes) && fromBytes == algorithm, keyType);
                Assert.That(KeyAlgorithmInfo.TryFromCertificateType(certificateType, out var certFromText) && certFromText == algorithm, certificateType);
                Assert.That(KeyAlgorithmInfo.TryFromCertificateType(Encoding.ASCII.GetBytes(certificateType), out var certFromBytes) && certFromBytes == algorithm, certificateType);

                // A key type is not a certificate type, nor the other way round.
                Assert.That(KeyAlgorithmInfo.TryFromCertificateType(keyType, out _), Is.False, keyType);
                Assert.That(KeyAlgorithmInfo.TryFromSshKeyType(Encoding.ASCII.GetBytes(certificateType), out _), Is.False, certificateType);
            }
        });
    }

    [TestCase("")]
    [TestCase("ssh-dss")]
    [TestCase("SSH-RSA")]
    [TestCase("ssh-rsa ")]
    [TestCase("ssh-ed25519\u00e9")]
    [TestCase("sk-ssh-ed25519-cert-v01@openssh.com")]
    public void Unknown_names_are_not_recognised(string name)
    {
        Assert.Multiple(() =>
        {
            Assert.That(KeyAlgorithmInfo.TryFromSshKeyType(name, out var algorithm), Is.False);
            Assert.That(algorithm, Is.EqualTo(default(KeyAlgorithm)));
            Assert.That(KeyAlgorithmInfo.TryFromCertificateType(name, out _), Is.False);
            Assert.That(KeyAlgorithmInfo.TryFromSshKeyType(Encoding.UTF8.GetBytes(name), out _), Is.False);
        });
    }

    [Test]
    public void A_name_longer_than_any_known_one_is_refused_without_error()
    {
        var name = "ssh-rsa" + new string('x', 10_000);
        Assert.That(KeyAlgorithmInfo.TryFromSshKeyType(name, out _), Is.False);
    }
}
