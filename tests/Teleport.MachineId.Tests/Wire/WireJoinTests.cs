using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Join;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>Token joins through the wire client: unified first, legacy fallback, chosen by what the emulator serves.</summary>
public sealed class WireJoinTests
{
    [TestCase(EmulatorJoinApis.Legacy, "LegacyHttp")]
    [TestCase(EmulatorJoinApis.LegacyAndUnified, "Unified")]
    public async Task Join_through_the_proxy_uses_the_API_the_cluster_serves(EmulatorJoinApis served, string expected)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = served, TimeProvider = clock });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        var token = cluster.CreateToken();

        var result = await client.JoinWithTokenAsync(token, TimeSpan.FromMinutes(30));

        Assert.That(result.Api.ToString(), Is.EqualTo(expected));
        AssertBotIdentity(result, cluster, clock.GetUtcNow() + TimeSpan.FromMinutes(30));
        Assert.That(cluster.Emulator.JoinTokenExists(token), Is.False, "token joins are single-use");
    }

    [TestCase(EmulatorJoinApis.Legacy, "LegacyGrpc")]
    [TestCase(EmulatorJoinApis.LegacyAndUnified, "Unified")]
    public async Task Join_directly_on_Auth_with_CA_pins(EmulatorJoinApis served, string expected)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = served, TimeProvider = clock });
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()), () => null);

        var result = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(2));

        Assert.That(result.Api.ToString(), Is.EqualTo(expected));
        AssertBotIdentity(result, cluster, clock.GetUtcNow() + TimeSpan.FromHours(2));
    }

    [TestCase("legacy", KeyAlgorithm.Rsa)]
    [TestCase("balanced-v1", KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyAlgorithm.EcdsaP256)]
    public async Task Keys_follow_the_suite_the_cluster_announces(string suiteName, KeyAlgorithm algorithm)
    {
        var suite = SignatureAlgorithmSuite.Parse(suiteName);
        foreach (var served in new[] { EmulatorJoinApis.Legacy, EmulatorJoinApis.LegacyAndUnified })
        {
            await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = served, SignatureAlgorithmSuite = suite });
            await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);

            var result = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));

            Assert.That(result.SignatureAlgorithmSuite, Is.EqualTo(suite), served.ToString());
            Assert.That(result.PrivateKey.Algorithm, Is.EqualTo(algorithm), served.ToString());
        }
    }

    [TestCase(EmulatorJoinApis.Legacy)]
    [TestCase(EmulatorJoinApis.LegacyAndUnified)]
    public async Task A_reused_token_is_refused_as_a_join_failure_without_revealing_the_token(EmulatorJoinApis served)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = served });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        var token = cluster.CreateToken();
        await client.JoinWithTokenAsync(token, TimeSpan.FromHours(1));

        var error = Assert.ThrowsAsync<TeleportJoinException>(() => client.JoinWithTokenAsync(token, TimeSpan.FromHours(1)));

        Assert.That(error!.Message, Does.Not.Contain(token));
        Assert.That(error.ToString(), Does.Not.Contain(token));
        Assert.That(error.Message, Does.Contain("single-use"));
    }

    [TestCase(EmulatorJoinApis.Legacy)]
    [TestCase(EmulatorJoinApis.LegacyAndUnified)]
    public async Task An_unknown_token_on_direct_Auth_is_a_join_failure(EmulatorJoinApis served)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = served });
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()), () => null);
        var secret = "0123456789abcdef0123456789abcdef";

        var error = Assert.ThrowsAsync<TeleportJoinException>(() => client.JoinWithTokenAsync(secret, TimeSpan.FromHours(1)));

        Assert.That(error!.ToString(), Does.Not.Contain(secret));
        Assert.That(error.Message, Does.Contain($"Auth at {cluster.AuthAddress}"));
    }

    private static void AssertBotIdentity(JoinResult result, WireTestCluster cluster, DateTimeOffset expires)
    {
        var certificates = result.Certificates;
        var tls = certificates.TlsIdentity!;
        Assert.That(tls.Username, Is.EqualTo("bot-" + WireTestCluster.BotName));
        Assert.That(tls.ClusterName, Is.EqualTo(cluster.ClusterName));
        Assert.That(tls.IsRenewable, Is.True);
        Assert.That(tls.Generation, Is.EqualTo(1));
        Assert.That(tls.NotAfter, Is.EqualTo(expires));
        Assert.That(certificates.SshCertificate!.PublicKey, Is.EqualTo(result.PrivateKey.PublicKey));
        Assert.That(certificates.SshCertificate.KeyId, Is.EqualTo("bot-" + WireTestCluster.BotName));
        Assert.That(certificates.SshCertificate.ValidBefore, Is.EqualTo(expires));

        // Bot identities carry the user and host CAs (teleport-protocol.md §3.5).
        var host = cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host);
        var user = cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.User);
        Assert.That(certificates.TlsCaCertificates.Select(c => c.Thumbprint), Is.SupersetOf(host.Concat(user).Select(c => c.Thumbprint)));
        var sshCas = cluster.Emulator.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)
            .Concat(cluster.Emulator.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host));
        Assert.That(certificates.SshCaKeys, Is.SupersetOf(sshCas));
        Assert.That(certificates.TlsCertificatePem, Does.StartWith("-----BEGIN CERTIFICATE-----"));
        Assert.That(certificates.SshCertificateLine, Does.EndWith("\n"));

        var identity = result.CreateIdentity();
        Assert.That(identity.ClientCertificate.HasPrivateKey, Is.True);
        Assert.That(identity.ClusterName, Is.EqualTo(cluster.ClusterName));
    }
}
