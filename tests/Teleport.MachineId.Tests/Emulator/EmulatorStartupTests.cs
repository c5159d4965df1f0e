using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;

namespace Teleport.MachineId.Tests.Emulator;

public sealed class EmulatorStartupTests
{
    private static IEnumerable<TestCaseData> Suites() =>
    [
        // Suite table (teleport-protocol.md §3.1): user/host CA SSH, user/host CA TLS.
        new TestCaseData(SignatureAlgorithmSuite.Legacy, KeyAlgorithm.Rsa, "1.2.840.113549.1.1.1").SetArgDisplayNames("legacy"),
        new TestCaseData(SignatureAlgorithmSuite.BalancedV1, KeyAlgorithm.Ed25519, "1.2.840.10045.2.1").SetArgDisplayNames("balanced-v1"),
        new TestCaseData(SignatureAlgorithmSuite.FipsV1, KeyAlgorithm.EcdsaP256, "1.2.840.10045.2.1").SetArgDisplayNames("fips-v1"),
        new TestCaseData(SignatureAlgorithmSuite.HsmV1, KeyAlgorithm.EcdsaP256, "1.2.840.10045.2.1").SetArgDisplayNames("hsm-v1"),
    ];

    [TestCaseSource(nameof(Suites))]
    public async Task CAs_follow_the_signature_algorithm_suite(SignatureAlgorithmSuite suite, KeyAlgorithm sshCa, string tlsCaKeyOid)
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { SignatureAlgorithmSuite = suite });

        foreach (var type in new[] { CertificateAuthorityType.User, CertificateAuthorityType.Host })
        {
            var sshKeys = cluster.GetCertificateAuthoritySshKeys(type);
            Assert.That(sshKeys, Has.Count.EqualTo(1));
            Assert.That(sshKeys[0].Algorithm, Is.EqualTo(sshCa), $"{type} CA SSH key");
            var tls = cluster.GetCertificateAuthorityCertificates(type).Single();
            Assert.That(tls.PublicKey.Oid.Value, Is.EqualTo(tlsCaKeyOid), $"{type} CA TLS key");
            // Teleport CA certificates: subject O=<cluster>, CN=<cluster>, a CA, self-signed.
            Assert.That(tls.GetNameInfo(X509NameType.SimpleName, forIssuer: false), Is.EqualTo(cluster.ClusterName));
            Assert.That(tls.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority, Is.True);
            Assert.That(tls.SubjectName.RawData, Is.EqualTo(tls.IssuerName.RawData));
        }

        // The database CA is RSA in every suite and has no SSH key (as in Teleport).
        Assert.That(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Database), Is.Empty);
        Assert.That(cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.Database).Single().PublicKey.Oid.Value,
            Is.EqualTo("1.2.840.113549.1.1.1"));
    }

    [Test]
    public async Task Exposes_addresses_and_the_web_CA()
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { ClusterName = "start.teleport.test" });

        Assert.That(cluster.ClusterName, Is.EqualTo("start.teleport.test"));
        Assert.That(cluster.ServerVersion, Is.EqualTo("18.0.0"));
        Assert.That(cluster.ProxyAddress, Does.Match(@"^localhost:\d+$"));
        Assert.That(cluster.SshProxyAddress, Is.EqualTo(cluster.ProxyAddress), "TLS routing: one port");
        Assert.That(cluster.AuthAddress, Does.Match(@"^127\.0\.0\.1:\d+$"));
        Assert.That(cluster.JoinApis, Is.EqualTo(EmulatorJoinApis.Legacy), "18.0 serves the legacy join APIs only");
        Assert.That(cluster.WebCaCertificatePem, Does.StartWith("-----BEGIN CERTIFICATE-----"));
        Assert.That(cluster.GetCaPins().Single(), Does.Match("^sha256:[0-9a-f]{64}$"));
    }

    [Test]
    public async Task Separate_ports_when_TLS_routing_is_off()
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = false });

        Assert.That(cluster.SshProxyAddress, Is.Not.EqualTo(cluster.ProxyAddress));
        Assert.That(cluster.TlsRoutingEnabled, Is.False);
    }

    [TestCase("18.2.0", EmulatorJoinApis.LegacyAndUnified)]
    [TestCase("19.0.0", EmulatorJoinApis.LegacyAndUnified)]
    [TestCase("18.1.4", EmulatorJoinApis.Legacy)]
    public async Task Join_APIs_default_from_the_version(string version, EmulatorJoinApis expected)
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { ServerVersion = version });

        Assert.That(cluster.JoinApis, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("v18.0.0")]
    [TestCase("18.0")]
    public void Invalid_server_version_is_refused(string version)
    {
        Assert.That(async () => await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { ServerVersion = version }),
            Throws.ArgumentException.With.Message.Contains("semantic version"));
    }

    [Test]
    public void Invalid_cluster_name_is_refused()
    {
        Assert.That(async () => await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { ClusterName = "has space" }),
            Throws.ArgumentException);
    }
}
