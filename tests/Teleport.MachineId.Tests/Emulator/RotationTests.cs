using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Teleport.MachineId.Testing;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>Manual CA rotation through its phases, as Teleport runs it.</summary>
public sealed class RotationTests
{
    [Test]
    public async Task User_CA_rotation_keeps_old_identities_trusted_until_standby()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var old = await EmulatorScenario.JoinAsync(cluster);
        var oldUserSsh = cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User).Single();

        Assert.That(await cluster.AdvanceRotationAsync(CertificateAuthorityType.User), Is.EqualTo(CertificateAuthorityRotationPhase.Init));
        Assert.That(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User), Has.Count.EqualTo(2));
        Assert.That(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)[0], Is.EqualTo(oldUserSsh), "init: old keys still sign");
        using var duringInit = await EmulatorScenario.RenewAsync(cluster, old);
        Assert.That(duringInit.SshCertificate!.SignatureKey, Is.EqualTo(oldUserSsh));

        Assert.That(await cluster.AdvanceRotationAsync(CertificateAuthorityType.User), Is.EqualTo(CertificateAuthorityRotationPhase.UpdateClients));
        var newUserSsh = cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)[0];
        Assert.That(newUserSsh, Is.Not.EqualTo(oldUserSsh));
        using var renewed = await EmulatorScenario.RenewAsync(cluster, duringInit);
        Assert.That(renewed.SshCertificate!.SignatureKey, Is.EqualTo(newUserSsh), "update_clients: new keys sign");
        Assert.That(renewed.TlsCaPems, Has.Count.EqualTo(3), "both user CA certificates and the host CA");

        Assert.That(await cluster.AdvanceRotationAsync(CertificateAuthorityType.User), Is.EqualTo(CertificateAuthorityRotationPhase.UpdateServers));
        using var stillOld = await EmulatorScenario.ImpersonateAsync(cluster, renewed, [EmulatorScenario.AccessRole]);

        Assert.That(await cluster.AdvanceRotationAsync(CertificateAuthorityType.User), Is.EqualTo(CertificateAuthorityRotationPhase.Standby));
        Assert.That(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User), Is.EqualTo(new[] { newUserSsh }));
        using var afterRotation = await EmulatorScenario.RenewAsync(cluster, renewed);
        Assert.That(afterRotation.Tls.Generation, Is.EqualTo(4));

        // An identity from the old CA is no longer trusted.
        var stale = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, duringInit, [EmulatorScenario.AccessRole]));
        Assert.That(stale!.StatusCode, Is.Not.EqualTo(StatusCode.OK));
        Assert.That(cluster.AuditEvents.Count(e => e.Type == "cert_authority.rotation"), Is.EqualTo(4));
    }

    [Test]
    public async Task Host_CA_rotation_reissues_the_Auth_certificate_at_update_servers()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        var original = cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host).Single();

        await cluster.AdvanceRotationAsync(CertificateAuthorityType.Host);
        Assert.That((await AuthCertificateAsync(cluster)).Issuer, Is.EqualTo(original.Subject));
        Assert.That(cluster.GetCaPins(), Has.Count.EqualTo(2), "CA pins cover active and additional keys");
        await cluster.AdvanceRotationAsync(CertificateAuthorityType.Host);
        Assert.That((await AuthCertificateAsync(cluster)).Issuer, Is.EqualTo(original.Subject), "update_clients: servers keep their certificates");
        await cluster.AdvanceRotationAsync(CertificateAuthorityType.Host);

        var incoming = cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host)[0];
        Assert.That((await AuthCertificateAsync(cluster)).Issuer, Is.EqualTo(incoming.Subject), "update_servers: Auth serves a certificate from the new CA");
        await cluster.AdvanceRotationAsync(CertificateAuthorityType.Host);
        Assert.That(cluster.GetRotationPhase(CertificateAuthorityType.Host), Is.EqualTo(CertificateAuthorityRotationPhase.Standby));
        Assert.That(cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host).Single().Thumbprint, Is.EqualTo(incoming.Thumbprint));
    }

    private static async Task<X509Certificate2> AuthCertificateAsync(TeleportEmulator cluster)
    {
        await using var tls = await EmulatorClient.ConnectTlsAsync(cluster.AuthAddress, EmulatorClient.ApiServerName(cluster.ClusterName), ["h2"], null,
            EmulatorClient.HostCaPolicy(cluster));
        return new X509Certificate2(tls.RemoteCertificate!);
    }
}
