using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Formats.Crypto;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Formats.Ssh;

namespace Teleport.MachineId.Tests.Formats.Interop;

/// <summary>
/// A real sshd trusts our user CAs and presents a host certificate we signed; a real ssh logs in
/// with our user certificates and checks our host certificate against an @cert-authority line.
/// </summary>
[NonParallelizable]
public sealed class SshdCertificateLoginTests
{
    private const string AllowedPrincipal = "tmid-login";

    private static readonly (KeyAlgorithm Ca, string Signature)[] UserSigners =
        TestCertificates.Signers.Where(s => s.Signature != "ssh-rsa").ToArray();

    private SshdFixture _sshd = null!;
    private SshTestDirectory _dir = null!;
    private string _knownHosts = null!;

    [OneTimeSetUp]
    public async Task StartSshd()
    {
        var options = new SshdFixtureOptions { AllowedPrincipals = { AllowedPrincipal } };
        foreach (var ca in UserSigners.Select(s => s.Ca).Distinct())
        {
            options.TrustedUserCaKeys.Add(TestKeys.Get(ca, 11).PublicKey);
        }

        _sshd = await SshdFixture.StartAsync(options);
        _dir = new SshTestDirectory("tmid-ssh-client");
        _knownHosts = _sshd.WriteKnownHosts("known_hosts", _sshd.CertAuthorityLine(_sshd.HostCa!.PublicKey));
    }

    [OneTimeTearDown]
    public async Task StopSshd()
    {
        if (_sshd is not null)
        {
            await _sshd.DisposeAsync();
        }

        _dir?.Dispose();
    }

    private static IEnumerable<TestCaseData> Logins()
    {
        var subjects = TestKeys.All;
        var i = 0;
        foreach (var (ca, signature) in UserSigners)
        {
            var subject = subjects[i++ % subjects.Length];
            yield return new TestCaseData(ca, signature, subject).SetArgDisplayNames(ca.ToString(), signature, subject.ToString());
        }
    }

    [TestCaseSource(nameof(Logins))]
    public async Task Sshd_accepts_our_user_certificate_and_ssh_accepts_our_host_certificate(KeyAlgorithm ca, string signature, KeyAlgorithm subject)
    {
        var key = TestKeys.Get(subject, 11);
        var certificate = UserCertificate(key, ca, signature, AllowedPrincipal, "tmid-" + signature);
        var (keyPath, certificatePath) = WriteIdentity(key, certificate);

        var result = await _sshd.RunSshAsync(keyPath, certificatePath, _knownHosts, "echo logged-in-as-$(id -un)");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{_sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo($"logged-in-as-{_sshd.LoginUser}"));
        Assert.That(await _sshd.LogOnceItContainsAsync($"Accepted certificate ID \"tmid-{signature}\" (serial 5)"), Does.Contain($"Accepted certificate ID \"tmid-{signature}\" (serial 5)"));
    }

    [Test]
    public async Task Sshd_rejects_a_certificate_for_a_principal_it_does_not_allow()
    {
        var key = TestKeys.Get(KeyAlgorithm.Ed25519, 11);
        var certificate = UserCertificate(key, KeyAlgorithm.Ed25519, "ssh-ed25519", "someone-else", "tmid-wrong-principal");
        var (keyPath, certificatePath) = WriteIdentity(key, certificate);

        var result = await _sshd.RunSshAsync(keyPath, certificatePath, _knownHosts, "true");

        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.StandardError, Does.Contain("Permission denied"));
    }

    [Test]
    public async Task Sshd_rejects_an_expired_certificate()
    {
        var key = TestKeys.Get(KeyAlgorithm.EcdsaP256, 11);
        var now = DateTimeOffset.UtcNow;
        var certificate = new SshCertificateBuilder
        {
            PublicKey = key.PublicKey,
            KeyId = "tmid-expired",
            Principals = { AllowedPrincipal },
            ValidAfter = now.AddHours(-2),
            ValidBefore = now.AddHours(-1),
        }.Sign(TestKeys.Get(KeyAlgorithm.EcdsaP256, 11));
        var (keyPath, certificatePath) = WriteIdentity(key, certificate);

        var result = await _sshd.RunSshAsync(keyPath, certificatePath, _knownHosts, "true");

        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.StandardError, Does.Contain("Permission denied"));
    }

    [Test]
    public async Task Sshd_rejects_a_certificate_from_a_CA_it_does_not_trust()
    {
        var key = TestKeys.Get(KeyAlgorithm.Ed25519, 11);
        var certificate = new SshCertificateBuilder
        {
            PublicKey = key.PublicKey,
            KeyId = "tmid-untrusted",
            Principals = { AllowedPrincipal },
        }.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 12));
        var (keyPath, certificatePath) = WriteIdentity(key, certificate);

        var result = await _sshd.RunSshAsync(keyPath, certificatePath, _knownHosts, "true");

        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.StandardError, Does.Contain("Permission denied"));
    }

    [Test]
    public async Task Ssh_rejects_the_host_certificate_when_known_hosts_names_another_CA()
    {
        var key = TestKeys.Get(KeyAlgorithm.Ed25519, 11);
        var certificate = UserCertificate(key, KeyAlgorithm.Ed25519, "ssh-ed25519", AllowedPrincipal, "tmid-wrong-host-ca");
        var (keyPath, certificatePath) = WriteIdentity(key, certificate);
        var wrongKnownHosts = _sshd.WriteKnownHosts("known_hosts_wrong", _sshd.CertAuthorityLine(TestKeys.Get(KeyAlgorithm.Ed25519, 13).PublicKey));

        var result = await _sshd.RunSshAsync(keyPath, certificatePath, wrongKnownHosts, "true");

        Assert.That(result.ExitCode, Is.EqualTo(255), result.ToString());
        Assert.That(result.StandardError, Does.Contain("Host key verification failed"));
    }

    [Test]
    public async Task Ssh_login_works_with_our_PEM_key_files()
    {
        // RSA (PKCS#1) and ECDSA (PKCS#8) in Teleport's PEM encodings, as tbot writes the identity's "key" file.
        foreach (var algorithm in new[] { KeyAlgorithm.Rsa, KeyAlgorithm.EcdsaP384 })
        {
            var key = TestKeys.Get(algorithm, 11);
            var certificate = UserCertificate(key, KeyAlgorithm.EcdsaP256, "ecdsa-sha2-nistp256", AllowedPrincipal, "tmid-pem-" + algorithm);
            var keyPath = _dir.Write("pem-" + algorithm, key.ExportPem(), secret: true);
            var certificatePath = _dir.Write("pem-" + algorithm + "-cert.pub", certificate.ToAuthorizedKey() + "\n");

            var result = await _sshd.RunSshAsync(keyPath, certificatePath, _knownHosts, "true");

            Assert.That(result.ExitCode, Is.Zero, $"{algorithm}: {result}");
        }
    }

    [Test]
    public void The_host_certificate_verifies_with_our_own_checks_too()
    {
        _sshd.HostCertificate.Verify([_sshd.HostCa!.PublicKey], DateTimeOffset.UtcNow, SshCertificateType.Host, "127.0.0.1");
        Assert.That(_sshd.HostCertificate.PublicKey, Is.EqualTo(_sshd.HostKey.PublicKey));
    }

    private static SshCertificate UserCertificate(PrivateKey key, KeyAlgorithm ca, string signature, string principal, string keyId)
    {
        var now = DateTimeOffset.UtcNow;
        return new SshCertificateBuilder
        {
            PublicKey = key.PublicKey,
            KeyId = keyId,
            Serial = 5,
            Principals = { principal, "-teleport-internal-join" },
            ValidAfter = now.AddMinutes(-1),
            ValidBefore = now.AddHours(1),
            SignatureAlgorithm = signature,
            Extensions =
            {
                ["permit-pty"] = "",
                ["teleport-roles"] = TeleportSshCertificateInfo.EncodeRoles(["bot-robot"]),
            },
        }.Sign(TestKeys.Get(ca, 11));
    }

    private (string KeyPath, string CertificatePath) WriteIdentity(PrivateKey key, SshCertificate certificate)
    {
        var name = "id-" + Guid.NewGuid().ToString("N")[..8];
        var keyPath = _dir.Write(name, key.ExportOpenSshPem(), secret: true);
        var certificatePath = _dir.Write(name + "-cert.pub", certificate.ToAuthorizedKey() + "\n");
        return (keyPath, certificatePath);
    }
}

/// <summary>Host certificates signed by each kind of host CA, and host keys of each kind, are accepted by ssh.</summary>
[NonParallelizable]
[TestFixture(KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP256)]
[TestFixture(KeyAlgorithm.Rsa, KeyAlgorithm.Rsa)]
[TestFixture(KeyAlgorithm.EcdsaP521, KeyAlgorithm.Ed25519)]
public sealed class SshdHostCertificateTests(KeyAlgorithm hostCa, KeyAlgorithm hostKey)
{
    [Test]
    public async Task Ssh_accepts_the_host_certificate_we_signed()
    {
        var hostCaKey = TestKeys.Get(hostCa, 21);
        var options = new SshdFixtureOptions { HostCa = hostCaKey, HostKeyAlgorithm = hostKey };
        await using var sshd = await SshdFixture.StartAsync(options);
        var userKey = TestKeys.Get(KeyAlgorithm.Ed25519, 21);
        var certificate = new SshCertificateBuilder
        {
            PublicKey = userKey.PublicKey,
            KeyId = "tmid-host-check",
            Principals = { sshd.LoginUser },
        }.Sign(sshd.UserCa!);
        var (keyPath, certificatePath) = sshd.WriteUserIdentity("id", userKey, certificate);
        var knownHosts = sshd.WriteKnownHosts("known_hosts", sshd.CertAuthorityLine(hostCaKey.PublicKey));

        var result = await sshd.RunSshAsync(keyPath, certificatePath, knownHosts, "true");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{sshd.Log}");
        Assert.That(sshd.HostCertificate.SignatureKey, Is.EqualTo(hostCaKey.PublicKey));
    }
}

/// <summary>The fixture serves a host key and certificate issued elsewhere (as end-to-end tests do with a cluster's host CA).</summary>
[NonParallelizable]
public sealed class SshdFixtureReadyMadeHostCertificateTests
{
    [Test]
    public async Task Serves_a_ready_made_host_certificate()
    {
        var hostCa = TestKeys.Get(KeyAlgorithm.EcdsaP384, 31);
        var hostKey = TestKeys.Get(KeyAlgorithm.EcdsaP256, 31);
        var hostCertificate = new SshCertificateBuilder
        {
            PublicKey = hostKey.PublicKey,
            Type = SshCertificateType.Host,
            KeyId = "node-uuid.example.com",
            Principals = { "node-uuid.example.com", "127.0.0.1" },
            Extensions = { ["x-teleport-role"] = "Node", ["x-teleport-authority"] = "example.com" },
        }.Sign(hostCa);
        await using var sshd = await SshdFixture.StartAsync(new SshdFixtureOptions { HostKey = hostKey, HostCertificate = hostCertificate });
        Assert.That(sshd.HostCa, Is.Null);
        var userKey = TestKeys.Get(KeyAlgorithm.Ed25519, 31);
        var userCertificate = new SshCertificateBuilder { PublicKey = userKey.PublicKey, Principals = { sshd.LoginUser } }.Sign(sshd.UserCa!);
        var (keyPath, certificatePath) = sshd.WriteUserIdentity("id", userKey, userCertificate);
        var knownHosts = sshd.WriteKnownHosts("known_hosts", sshd.CertAuthorityLine(hostCa.PublicKey));

        var result = await sshd.RunSshAsync(keyPath, certificatePath, knownHosts, "true");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{sshd.Log}");
    }
}
