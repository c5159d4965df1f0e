using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>Each way to reach Auth: TLS routing, ProxyCluster (routing off), direct with CA pins / ca_path / insecure.</summary>
public sealed class WireConnectionModeTests
{
    [TestCase(true)]
    [TestCase(false)]
    public async Task Auth_through_the_proxy_answers_Ping_and_GetClusterCACert(bool tlsRouting)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = tlsRouting });
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using (client)
        {
            var ping = await client.PingAsync();
            var cas = await client.GetClusterCaCertificatesAsync();

            Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName));
            Assert.That(ping.ServerVersion, Is.EqualTo("18.0.0"));
            Assert.That(ping.SignatureAlgorithmSuite, Is.EqualTo(cluster.Emulator.SignatureAlgorithmSuite));
            Assert.That(cas.Select(c => c.Thumbprint),
                Is.EquivalentTo(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host).Select(c => c.Thumbprint)));
        }
    }

    [Test]
    public async Task Direct_Auth_with_wrong_CA_pins_is_refused_before_anything_is_sent()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var other = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: other.Emulator.GetCaPins()), () => null);
        var token = cluster.CreateToken();

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.JoinWithTokenAsync(token, TimeSpan.FromHours(1)));

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(error.Message, Does.Contain("do not match the configured CA pins"));
        Assert.That(error.Message, Does.Contain(cluster.AuthAddress.ToString()));
        Assert.That(cluster.Emulator.JoinTokenExists(token), Is.True, "the token was not sent to an unverified server");
    }

    [Test]
    public async Task Direct_Auth_with_ca_path_joins_and_a_foreign_ca_path_is_refused()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var other = await WireTestCluster.StartAsync();
        var directory = Directory.CreateTempSubdirectory("wire-ca-path-");
        try
        {
            var good = Path.Combine(directory.FullName, "ca.pem");
            var bad = Path.Combine(directory.FullName, "other.pem");
            await File.WriteAllTextAsync(good, cluster.Emulator.GetCertificateAuthorityPem(CertificateAuthorityType.Host));
            await File.WriteAllTextAsync(bad, other.Emulator.GetCertificateAuthorityPem(CertificateAuthorityType.Host));

            await using (var client = TeleportWireClient.Create(cluster.AuthOptions(caPath: good), () => null))
            {
                var result = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));
                Assert.That(result.Certificates.TlsIdentity!.Username, Is.EqualTo("bot-robot"));
                var ping = await client.PingAsync();
                Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName), "unauthenticated Ping before an identity is held");
            }

            await using (var client = TeleportWireClient.Create(cluster.AuthOptions(caPath: bad), () => null))
            {
                var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1)));
                Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
                Assert.That(error.Message, Does.Contain("ca_path"));
            }

            await using (var client = TeleportWireClient.Create(cluster.AuthOptions(caPath: Path.Combine(directory.FullName, "missing.pem")), () => null))
            {
                var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.PingAsync());
                Assert.That(error!.Message, Does.Contain("missing.pem"));
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Test]
    public async Task Direct_Auth_without_pins_path_or_insecure_is_refused_and_insecure_is_never_implied()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(), () => null);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.PingAsync());

        Assert.That(error!.Message, Does.Contain("ca_pins"));
        Assert.That(error.Message, Does.Contain("insecure"));
    }

    [Test]
    public async Task Direct_Auth_with_explicit_insecure_joins()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(insecure: true), () => null);

        var result = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));

        Assert.That(result.Certificates.TlsIdentity!.Generation, Is.EqualTo(1));
    }

    [Test]
    public async Task Direct_Auth_with_an_identity_verifies_Auth_against_the_identity_CAs()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var holder = new IdentityHolder();
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()), holder.Provider);
        holder.Current = (await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1))).CreateIdentity();

        var ping = await client.PingAsync();

        Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName));
    }

    [Test]
    public async Task Calls_that_need_an_identity_say_so_before_the_first_join()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);

        var error = Assert.ThrowsAsync<InvalidOperationException>(() => client.PingAsync());

        Assert.That(error!.Message, Does.Contain("join the cluster first"));
    }
}
