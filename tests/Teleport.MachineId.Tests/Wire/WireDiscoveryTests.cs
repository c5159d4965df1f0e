using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary><c>GET /webapi/find</c> against the emulator over real sockets: model, address rules, proxy certificate trust.</summary>
public sealed class WireDiscoveryTests
{
    [TestCase(true)]
    [TestCase(false)]
    public async Task Find_reports_the_cluster_and_derives_the_SSH_proxy_address(bool tlsRouting)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = tlsRouting, SignatureAlgorithmSuite = SignatureAlgorithmSuite.FipsV1 });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);

        var discovery = await client.DiscoverAsync();

        Assert.That(discovery.ClusterName, Is.EqualTo(cluster.ClusterName));
        Assert.That(discovery.ServerVersion, Is.EqualTo("18.0.0"));
        Assert.That(discovery.MinClientVersion, Is.EqualTo("17.0.0-aa"));
        Assert.That(discovery.TlsRoutingEnabled, Is.EqualTo(tlsRouting));
        Assert.That(discovery.SignatureAlgorithmSuite, Is.EqualTo(SignatureAlgorithmSuite.FipsV1));
        Assert.That(discovery.ProxyAddress, Is.EqualTo(cluster.ProxyAddress));
        Assert.That(discovery.SshProxyAddress, Is.EqualTo(HostPort.Parse(cluster.Emulator.SshProxyAddress)));
        if (tlsRouting)
        {
            Assert.That(discovery.SshProxyAddress, Is.EqualTo(cluster.ProxyAddress), "TLS routing: everything on the web port");
        }
        else
        {
            Assert.That(discovery.SshProxyAddress.Port, Is.Not.EqualTo(cluster.ProxyAddress.Port));
        }
    }

    [Test]
    public async Task Proxy_certificate_not_in_the_OS_trust_store_is_refused_with_a_clear_error()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(trustWebCa: false), () => null);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.DiscoverAsync());

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(error.Message, Does.Contain($"proxy {cluster.ProxyAddress} (web)"));
        Assert.That(error.Message, Does.Contain("operating system's trust store"));
    }

    [Test]
    public async Task Insecure_is_an_explicit_opt_in_that_skips_proxy_verification()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(trustWebCa: false, insecure: true), () => null);

        var discovery = await client.DiscoverAsync();

        Assert.That(discovery.ClusterName, Is.EqualTo(cluster.ClusterName));
    }

    [Test]
    public async Task A_CA_bundle_of_another_authority_is_refused()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var other = await WireTestCluster.StartAsync();
        var options = new WireClientOptions
        {
            ProxyServer = cluster.ProxyAddress,
            ProxyCaCertificates = [other.Emulator.WebCaCertificate],
        };
        await using var client = TeleportWireClient.Create(options, () => null);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.DiscoverAsync());

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(error.Message, Does.Contain("configured proxy CA certificates"));
    }

    [Test]
    public async Task Discovery_failure_is_retried_by_the_next_call()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        using var cts = new CancellationTokenSource();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        await cts.CancelAsync();
        Assert.CatchAsync<OperationCanceledException>(() => client.DiscoverAsync(cts.Token));

        var discovery = await client.DiscoverAsync();

        Assert.That(discovery.ClusterName, Is.EqualTo(cluster.ClusterName));
        Assert.That(await client.DiscoverAsync(), Is.SameAs(discovery), "cached after the first success");
    }

    [Test]
    public async Task Unreachable_proxy_is_a_transient_connection_error()
    {
        var port = FreePort();
        var options = new WireClientOptions { ProxyServer = new HostPort("127.0.0.1", port) };
        await using var client = TeleportWireClient.Create(options, () => null);

        var error = Assert.ThrowsAsync<TeleportConnectionException>(() => client.DiscoverAsync());

        Assert.That(error!.IsTransient, Is.True);
        Assert.That(error.Message, Does.Contain($"127.0.0.1:{port}"));
    }

    internal static int FreePort() => Infrastructure.LoopbackPorts.Reserve();
}
