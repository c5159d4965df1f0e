using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>The local-CA signer: Teleport-shaped certificates without a cluster, accepted by a real sshd, usable by the output service offline.</summary>
public sealed class LocalSshCertificateSignerTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task Certificates_look_like_an_impersonated_bot_identity()
    {
        using var authority = Authority();
        var signer = new LocalSshCertificateSigner(authority, new FakeTimeProvider(Now));
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);

        var signed = await signer.SignAsync(new SshCertificateSigningRequest { PublicKey = key.PublicKey, Roles = ["access"], Ttl = TimeSpan.FromMinutes(30) });

        var ssh = signed.SshCertificate;
        Assert.That(ssh.Type, Is.EqualTo(SshCertificateType.User));
        Assert.That(ssh.KeyId, Is.EqualTo("bot-local"));
        Assert.That(ssh.Principals, Is.EqualTo(new[] { Environment.UserName, "ubuntu", "-teleport-internal-join" }));
        Assert.That(ssh.ValidAfter, Is.EqualTo(Now.AddMinutes(-1)));
        Assert.That(ssh.ValidBefore, Is.EqualTo(Now.AddMinutes(30)));
        Assert.That(ssh.Extensions.Keys, Does.Contain("permit-pty").And.Contain("disallow-reissue").And.Contain("impersonator"));
        ssh.Verify([authority.UserCaSshKey.PublicKey], Now, SshCertificateType.User, "ubuntu");
        Assert.That(signed.TlsIdentity.Roles, Is.EqualTo(new[] { "access" }));
        Assert.That(signed.TlsIdentity.Impersonator, Is.EqualTo("bot-local"));
        Assert.That(signed.TlsIdentity.DisallowReissue, Is.True);
        Assert.That(signed.ClusterName, Is.EqualTo("offline.example"));
        Assert.That(signed.TlsCaCertificates, Does.Contain(authority.UserCaTlsCertificate).And.Contains(authority.HostCaTlsCertificates[0]));
    }

    [Test]
    public async Task Unknown_roles_are_refused_the_ttl_is_capped_and_an_empty_request_gets_every_role()
    {
        using var authority = Authority();
        var signer = new LocalSshCertificateSigner(authority, new FakeTimeProvider(Now));
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);

        Assert.ThrowsAsync<TeleportAccessDeniedException>(() => signer.SignAsync(new SshCertificateSigningRequest { PublicKey = key.PublicKey, Roles = ["admin"] }));
        Assert.ThrowsAsync<ArgumentException>(() => signer.SignAsync(new SshCertificateSigningRequest { PublicKey = key.PublicKey, Ttl = TimeSpan.Zero }));
        var all = await signer.SignAsync(new SshCertificateSigningRequest { PublicKey = key.PublicKey, Ttl = TimeSpan.FromDays(3) });

        Assert.That(all.TlsIdentity.Roles, Is.EquivalentTo(new[] { "access", "ops" }));
        Assert.That(all.NotAfter, Is.EqualTo(Now + authority.MaxTtl));
    }

    [Test]
    public async Task A_real_sshd_trusting_the_local_user_CA_accepts_an_offline_identity_output()
    {
        using var authority = Authority();
        var signer = new LocalSshCertificateSigner(authority);
        using var hostKey = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        var hostCertificate = authority.SignHostCertificate(hostKey.PublicKey, ["127.0.0.1", "localhost"]);
        var sshdOptions = new SshdFixtureOptions { HostKey = hostKey, HostCertificate = hostCertificate };
        sshdOptions.TrustedUserCaKeys.Add(authority.UserCaSshKey.PublicKey);
        await using var sshd = await SshdFixture.StartAsync(sshdOptions);
        var memory = new MemoryDestination();
        await using var output = IdentityOutputService.Create(signer, new IdentityOutputOptions { Destination = memory });
        await output.RenewNowAsync();
        var set = memory.Current!;
        using var key = PrivateKey.ImportPem(System.Text.Encoding.UTF8.GetString(set["key"].Span));
        var (keyPath, certificatePath) = sshd.WriteUserIdentity("offline", key, SshCertificate.ParseAuthorizedKey(System.Text.Encoding.UTF8.GetString(set["key-cert.pub"].Span).Trim()));
        var knownHosts = sshd.WriteKnownHosts("known_hosts", sshd.CertAuthorityLine(authority.HostCaSshKeys[0]));

        var result = await sshd.RunSshAsync(keyPath, certificatePath, knownHosts, "echo offline-ok");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\n{sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo("offline-ok"));
    }

    private static LocalCertificateAuthority Authority()
    {
        var authority = LocalCertificateAuthority.Generate("offline.example", timeProvider: new FakeTimeProvider(Now.AddDays(-1)));
        authority.RoleLogins = new Dictionary<string, IReadOnlyList<string>>
        {
            ["access"] = [Environment.UserName, "ubuntu"],
            ["ops"] = ["ops"],
        };
        return authority;
    }
}
