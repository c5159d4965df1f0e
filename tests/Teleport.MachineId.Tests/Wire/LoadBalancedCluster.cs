using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// The emulator behind a real nginx that terminates TLS (an L7 load balancer, like an AWS ALB): the
/// cluster advertises the load balancer as its public proxy address, clients dial the load balancer
/// and trust its test CA.
/// </summary>
internal sealed class LoadBalancedCluster : IAsyncDisposable
{
    private LoadBalancedCluster(WireTestCluster cluster, NginxLoadBalancer nginx)
    {
        Cluster = cluster;
        Nginx = nginx;
    }

    public WireTestCluster Cluster { get; }

    public TeleportEmulator Emulator => Cluster.Emulator;

    public NginxLoadBalancer Nginx { get; }

    /// <summary>The load balancer's address: the proxy address clients are given.</summary>
    public HostPort Address => HostPort.Parse(Nginx.Address);

    /// <summary>Starts the emulator (advertising the load balancer), then nginx in front of it.</summary>
    public static async Task<LoadBalancedCluster> StartAsync(TeleportEmulatorOptions? options = null, NginxLoadBalancerOptions? loadBalancer = null)
    {
        _ = NginxFixture.Nginx;
        loadBalancer ??= new NginxLoadBalancerOptions();
        loadBalancer.Port = loadBalancer.Port == 0 ? NginxFixture.ReservePort() : loadBalancer.Port;
        options ??= new TeleportEmulatorOptions();
        options.PublicProxyAddress = "localhost:" + loadBalancer.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var cluster = await WireTestCluster.StartAsync(options);
        try
        {
            var nginx = await NginxFixture.StartAsync(cluster.Emulator.ProxyAddress, cluster.Emulator.WebCaCertificate, loadBalancer);
            return new LoadBalancedCluster(cluster, nginx);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Options for the load balancer's address, trusting its CA (not the emulator's web CA: that certificate never reaches the client).</summary>
    public WireClientOptions Options(Func<string, string?>? environment = null) => new()
    {
        ProxyServer = Address,
        ProxyCaCertificates = new X509Certificate2Collection(Nginx.CaCertificate),
        TimeProvider = Emulator.TimeProvider,
        GetEnvironmentVariable = environment ?? (_ => null),
    };

    public async ValueTask DisposeAsync()
    {
        await Nginx.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}
