using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Tests.Formats.Crypto;

public sealed class CaPinsTests
{
    private static readonly DateTimeOffset Now = new(2025, 7, 1, 12, 0, 0, TimeSpan.Zero);

    [Test]
    public void Pin_is_sha256_of_the_certificate_SubjectPublicKeyInfo_as_openssl_computes_it()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = TeleportTlsCertificateBuilder.CreateCertificateAuthority("tele.example.com", key, Now);
        var dir = Directory.CreateTempSubdirectory("capins-");
        try
        {
            var path = Path.Combine(dir.FullName, "ca.pem");
            File.WriteAllText(path, ca.ExportCertificatePem());

            // tctl status's pin, the openssl way: DER public key | sha256.
            var der = Path.Combine(dir.FullName, "spki.der");
            var export = FormatsProcess.Run(FormatsProcess.OpenSsl, ["x509", "-in", path, "-noout", "-pubkey"]);
            Assert.That(export.ExitCode, Is.Zero, export.StandardError);
            File.WriteAllText(Path.Combine(dir.FullName, "pub.pem"), export.StandardOutput);
            var convert = FormatsProcess.Run(FormatsProcess.OpenSsl, ["pkey", "-pubin", "-in", Path.Combine(dir.FullName, "pub.pem"), "-outform", "DER", "-out", der]);
            Assert.That(convert.ExitCode, Is.Zero, convert.StandardError);
            var digest = FormatsProcess.Run(FormatsProcess.OpenSsl, ["dgst", "-sha256", "-r", der]);
            var expected = "sha256:" + digest.StandardOutput.Split(' ')[0];

            Assert.That(CaPins.Compute(ca), Is.EqualTo(expected));
            Assert.That(CaPins.Compute(File.ReadAllBytes(der)), Is.EqualTo(expected));
            Assert.That(CaPins.Compute(ca), Does.Match("^sha256:[0-9a-f]{64}$"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void Pin_of_a_CA_issued_by_Teleport()
    {
        // The TLS CA of Teleport's fixture identity (RSA, issued by Teleport itself).
        var text = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "IdentityFiles", "tls.pem"));
        var lastBlock = text[text.LastIndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)..];
        using var ca = X509Certificate2.CreateFromPem(lastBlock);
        var spki = ca.PublicKey.ExportSubjectPublicKeyInfo();
        Assert.That(CaPins.Compute(ca), Is.EqualTo("sha256:" + Convert.ToHexStringLower(SHA256.HashData(spki))));
    }

    [Test]
    public void Pins_are_validated_and_normalized()
    {
        var pin = "sha256:" + new string('a', 64);
        Assert.Multiple(() =>
        {
            Assert.That(CaPins.IsValid(pin), Is.True);
            Assert.That(CaPins.Normalize("sha256:" + new string('A', 64)), Is.EqualTo(pin));
            Assert.That(CaPins.IsValid("sha256:" + new string('a', 63)), Is.False);
            Assert.That(CaPins.IsValid("sha256:" + new string('a', 65)), Is.False);
            Assert.That(CaPins.IsValid("sha256:" + new string('g', 64)), Is.False);
            Assert.That(CaPins.IsValid("sha512:" + new string('a', 64)), Is.False);
            Assert.That(CaPins.IsValid(new string('a', 64)), Is.False);
            Assert.That(CaPins.IsValid(""), Is.False);
            Assert.That(CaPins.IsValid(null), Is.False);
        });
        var ex = Assert.Throws<TeleportFormatException>(() => CaPins.Normalize("md5:abc"));
        Assert.That(ex!.Message, Does.Contain("md5:abc").And.Contain("tctl status"));
    }

    [Test]
    public void Every_certificate_must_match_a_pin()
    {
        using var keyA = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var keyB = RSA.Create(2048);
        using var caA = TeleportTlsCertificateBuilder.CreateCertificateAuthority("one", keyA, Now.AddDays(-1));
        using var caB = TeleportTlsCertificateBuilder.CreateCertificateAuthority("one", keyB, Now.AddDays(-1));
        var pinA = CaPins.Compute(caA);
        var pinB = CaPins.Compute(caB);

        Assert.DoesNotThrow(() => CaPins.Verify([pinA], [caA], Now));
        Assert.DoesNotThrow(() => CaPins.Verify([pinB.ToUpperInvariant().Replace("SHA256:", "sha256:", StringComparison.Ordinal), pinA], [caA, caB], Now));

        // One CA of the set is not pinned (e.g. a new HSM key was added): the whole set is refused.
        var ex = Assert.Throws<CertificateValidationException>(() => CaPins.Verify([pinA], [caA, caB], Now));
        Assert.That(ex!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(ex.Message, Does.Contain(pinB).And.Contain("tctl status"));
        Assert.That(ex.Message, Does.Not.Contain(Convert.ToBase64String(caB.RawData)[..40]));

        var none = Assert.Throws<CertificateValidationException>(() => CaPins.Verify([pinA], [], Now));
        Assert.That(none!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.Throws<ArgumentException>(() => CaPins.Verify([], [caA], Now));
        Assert.Throws<TeleportFormatException>(() => CaPins.Verify(["sha256:nothex"], [caA], Now));
    }

    [Test]
    public void Pinned_certificates_must_be_within_their_validity()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = TeleportTlsCertificateBuilder.CreateCertificateAuthority("one", key, Now, TimeSpan.FromDays(30));
        var pin = CaPins.Compute(ca);

        var early = Assert.Throws<CertificateValidationException>(() => CaPins.Verify([pin], [ca], Now.AddSeconds(-1)));
        Assert.That(early!.Failure, Is.EqualTo(CertificateValidationFailure.NotYetValid));
        Assert.That(early.Message, Does.Contain(pin).And.Contain("clock"));

        var late = Assert.Throws<CertificateValidationException>(() => CaPins.Verify([pin], [ca], Now.AddDays(30).AddSeconds(1)));
        Assert.That(late!.Failure, Is.EqualTo(CertificateValidationFailure.Expired));
        Assert.That(late.Message, Does.Contain(pin));

        Assert.DoesNotThrow(() => CaPins.Verify([pin], [ca], Now));
        Assert.DoesNotThrow(() => CaPins.Verify([pin], [ca], Now.AddDays(30)));
    }
}
