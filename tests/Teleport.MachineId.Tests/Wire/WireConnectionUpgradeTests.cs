using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Identity;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// The ALPN connection upgrade through a real nginx that terminates TLS (an L7 load balancer): Teleport's
/// detection, the WebSocket upgrade (and the legacy one) for joins, Auth and ProxySSH, the environment
/// override both ways, and clear errors when the load balancer or server does not serve the upgrade.
/// </summary>
public sealed class WireConnectionUpgradeTests
{
    [TestCase(EmulatorJoinApis.LegacyAndUnified)]
    [TestCase(EmulatorJoinApis.Legacy)]
    public async Task Through_nginx_a_bot_joins_renews_and_reaches_a_node_over_WebSocket_tunnels(EmulatorJoinApis joinApis)
    {
        await using var lb = await LoadBalancedCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = joinApis });
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        lb.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var options = WithLogging(lb.Options(), loggerFactory);

        var echoed = await JoinRenewAndEchoAsync(lb.Cluster, options, "through the load balancer"u8.ToArray());

        Assert.That(echoed, Is.EqualTo("through the load balancer"u8.ToArray()));
        var upgraded = logs.Entries.Where(e => e.EventId.Id == MachineIdEventIds.WireConnectionUpgraded).Select(e => e.Text).ToList();
        Assert.That(upgraded, Has.Some.Contain("WebSocket, alpn-ping"), "Auth and transport tunnels ask for pings (long-lived)");
        if (joinApis == EmulatorJoinApis.LegacyAndUnified)
        {
            Assert.That(upgraded, Has.Some.Contain("WebSocket, alpn)"), "the join gRPC tunnel is short-lived");
        }

        Assert.That(await lb.Nginx.AccessLogOnceAsync(log => log.Contains(NginxLoadBalancer.UpgradedRequest, StringComparison.Ordinal)), Does.Contain(NginxLoadBalancer.UpgradedRequest), "nginx forwarded the upgrade");
        Assert.That(logs.Entries.Where(e => e.EventId.Id == MachineIdEventIds.WireConnectionUpgradeDecided).Select(e => e.Text),
            Has.Some.Contain("required for " + lb.Address + ": True").And.Some.Contain("no_application_protocol"),
            "nginx answers a Teleport ALPN with the no_application_protocol alert");
    }

    [Test]
    public async Task Detection_says_no_upgrade_directly_to_the_proxy_and_upgrade_through_nginx()
    {
        await using var lb = await LoadBalancedCluster.StartAsync();
        await using var plain = await WireTestCluster.StartAsync();
        await using var direct = TeleportWireClient.Create(plain.ProxyOptions() with { GetEnvironmentVariable = _ => null }, () => null);
        await using var balanced = TeleportWireClient.Create(lb.Options(), () => null);

        Assert.That(await direct.IsConnectionUpgradeRequiredAsync(), Is.False);
        Assert.That(await balanced.IsConnectionUpgradeRequiredAsync(), Is.True);
    }

    [Test]
    public async Task The_test_dial_answer_is_cached_per_proxy_address()
    {
        await using var lb = await LoadBalancedCluster.StartAsync();
        await using var plain = await WireTestCluster.StartAsync();
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        await using var first = TeleportWireClient.Create(WithLogging(lb.Options(), loggerFactory), () => null);
        await using var second = TeleportWireClient.Create(WithLogging(lb.Options(), loggerFactory), () => null);
        await using var other = TeleportWireClient.Create(WithLogging(plain.ProxyOptions() with { GetEnvironmentVariable = _ => null }, loggerFactory), () => null);

        Assert.That(await first.IsConnectionUpgradeRequiredAsync(), Is.True);
        Assert.That(await second.IsConnectionUpgradeRequiredAsync(), Is.True, "another client for the same address reuses the answer");
        Assert.That(await other.IsConnectionUpgradeRequiredAsync(), Is.False, "another address is tested on its own");
        var decided = logs.Entries.Where(e => e.EventId.Id == MachineIdEventIds.WireConnectionUpgradeDecided).Select(e => e.Text).ToList();
        Assert.That(decided.Count(text => text.Contains("required for " + lb.Address + ":", StringComparison.Ordinal)), Is.EqualTo(1), "one test dial for the load balancer");
        Assert.That(decided.Count(text => text.Contains("required for " + plain.ProxyAddress + ":", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    public async Task The_environment_override_forces_the_upgrade_on_and_off()
    {
        await using var lb = await LoadBalancedCluster.StartAsync();
        await using var plain = await WireTestCluster.StartAsync();
        var direct = plain.ProxyAddress.ToString();

        // On: directly to an emulator's proxy (no load balancer), whose web endpoint serves the upgrade itself.
        var forcedOn = plain.ProxyOptions() with { GetEnvironmentVariable = Env(WireProtocol.ConnectionUpgradeEnvironmentVariable, $"0,{direct}=yes") };
        await using (var probe = TeleportWireClient.Create(forcedOn, () => null))
        {
            Assert.That(await probe.IsConnectionUpgradeRequiredAsync(), Is.True);
        }

        var echoed = await JoinRenewAndEchoAsync(plain, forcedOn, "forced"u8.ToArray(), addEcho: true);
        Assert.That(echoed, Is.EqualTo("forced"u8.ToArray()));
        Assert.That(plain.Emulator.AuditEvents.Count(e => e.Type == "bot.join"), Is.EqualTo(1));

        // Off: through nginx, ALPN routing cannot work; the error says why.
        await using var forcedOff = TeleportWireClient.Create(lb.Options(Env(WireProtocol.ConnectionUpgradeEnvironmentVariable, "false")), () => null);
        Assert.That(await forcedOff.IsConnectionUpgradeRequiredAsync(), Is.False);
        var error = Assert.ThrowsAsync<TeleportConnectionException>(() => forcedOff.JoinWithTokenAsync(lb.Cluster.CreateToken(), TimeSpan.FromHours(1)));
        Assert.That(error!.Message, Does.Contain("load balancer"));
    }

    [Test]
    public async Task The_legacy_upgrade_carries_joins_Auth_and_ProxySSH_with_ping_packets_between_the_data()
    {
        await using var lb = await LoadBalancedCluster.StartAsync(new TeleportEmulatorOptions { ConnectionUpgradePingInterval = TimeSpan.FromMilliseconds(20) });
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var options = WithLogging(lb.Options(Env(WireProtocol.ConnectionUpgradeModeEnvironmentVariable, "legacy")), loggerFactory);
        var payload = new byte[256 * 1024];
        new Random(5).NextBytes(payload);

        var echoed = await JoinRenewAndEchoAsync(lb.Cluster, options, payload, addEcho: true, pauseBetweenWrites: TimeSpan.FromMilliseconds(100));

        Assert.That(echoed, Is.EqualTo(payload));
        Assert.That(logs.Entries.Where(e => e.EventId.Id == MachineIdEventIds.WireConnectionUpgraded).Select(e => e.Text), Has.Some.Contain("legacy, alpn-ping"));
        Assert.That(await lb.Nginx.AccessLogOnceAsync(log => log.Contains(NginxLoadBalancer.UpgradedRequest, StringComparison.Ordinal)), Does.Contain(NginxLoadBalancer.UpgradedRequest));
    }

    [Test]
    public async Task WebSocket_tunnels_answer_the_proxys_pings_so_an_idle_session_survives()
    {
        // The emulator drops a tunnel whose client answers no WebSocket ping for ten intervals.
        await using var lb = await LoadBalancedCluster.StartAsync(new TeleportEmulatorOptions { ConnectionUpgradePingInterval = TimeSpan.FromMilliseconds(50) });
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        lb.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var (client, _) = await lb.Cluster.ImpersonatedProxyClientAsync(options: lb.Options());
        await using var _1 = client;
        await using var stream = await client.OpenSshAsync("echo:22");

        await Task.Delay(TimeSpan.FromSeconds(2));
        await stream.WriteAsync("still here"u8.ToArray());
        await stream.ShutdownWriteAsync();
        var echoed = new byte[10];
        await stream.ReadExactlyAsync(echoed).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(echoed, Is.EqualTo("still here"u8.ToArray()));
    }

    [Test]
    public async Task A_load_balancer_that_answers_404_to_the_upgrade_gives_a_clear_error()
    {
        await using var lb = await LoadBalancedCluster.StartAsync(loadBalancer: new NginxLoadBalancerOptions { ConnectionUpgradeNotFound = true });
        await using var client = TeleportWireClient.Create(lb.Options(), () => null);
        var token = lb.Cluster.CreateToken();

        var error = Assert.ThrowsAsync<TeleportProtocolException>(() => client.JoinWithTokenAsync(token, TimeSpan.FromHours(1)));

        Assert.That(error!.Message, Does.Contain("HTTP 404").And.Contain("/webapi/connectionupgrade").And.Contain("too old"));
        Assert.That(lb.Emulator.JoinTokenExists(token), Is.True, "nothing reached the cluster");
    }

    [Test]
    public async Task A_proxy_that_does_not_serve_the_upgrade_gives_the_same_clear_error()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        cluster.Emulator.Faults.FailNextCalls(10, StatusCode.NotFound, WireProtocol.ConnectionUpgradePath);
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions() with { ConnectionUpgrade = AlpnUpgradePolicy.Always }, () => null);

        var error = Assert.ThrowsAsync<TeleportProtocolException>(() => client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1)));

        Assert.That(error!.Message, Does.Contain("HTTP 404").And.Contain("too old"));
    }

    [TestCase("true", "p.example.com:443", true)]
    [TestCase("yes", "p.example.com:443", true)]
    [TestCase("false", "p.example.com:443", false)]
    [TestCase("", "p.example.com:443", false)]
    [TestCase("garbage", "p.example.com:443", false)]
    [TestCase("p.example.com:443=yes", "p.example.com:443", true)]
    [TestCase("p.example.com:443=yes", "q.example.com:443", false)]
    [TestCase("1;p.example.com:443=no", "p.example.com:443", false)]
    [TestCase("1;p.example.com:443=no", "q.example.com:443", true)]
    [TestCase("0,q.example.com:443=1,p.example.com:443=on", "p.example.com:443", true)]
    [TestCase("p.example.com:443=maybe,1", "p.example.com:443", false)]
    [TestCase("on,off", "p.example.com:443", false)]
    public void The_environment_value_is_read_as_Teleport_reads_it(string value, string address, bool expected) =>
        Assert.That(AlpnUpgradeRequirement.IsRequiredByEnvironment(address, value), Is.EqualTo(expected));

    private static WireClientOptions WithLogging(WireClientOptions options, ILoggerFactory loggerFactory) => options with { LoggerFactory = loggerFactory };

    private static Func<string, string?> Env(string name, string value) => n => n == name ? value : null;

    /// <summary>Joins, renews, takes an impersonated identity and echoes <paramref name="payload"/> through ProxySSH, all with <paramref name="options"/>.</summary>
    private static async Task<byte[]> JoinRenewAndEchoAsync(
        WireTestCluster cluster, WireClientOptions options, byte[] payload, bool addEcho = false, TimeSpan? pauseBetweenWrites = null)
    {
        TcpTestTarget? echo = null;
        if (addEcho)
        {
            echo = new TcpTestTarget(TcpTargetBehavior.Echo);
            cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        }

        try
        {
            var holder = new IdentityHolder();
            await using var client = TeleportWireClient.Create(options, holder.Provider);
            var joined = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));
            holder.Current = joined.CreateIdentity();
            using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);
            var renewed = await client.GenerateUserCertsAsync(UserCertificateRequest.ForBotRenewal(joined.Certificates.TlsIdentity!.Username, key.PublicKey,
                cluster.Emulator.TimeProvider.GetUtcNow().AddHours(1)));
            Assert.That(renewed.TlsIdentity!.Generation, Is.EqualTo(2));
            holder.Current = WireIdentity.Create(key, renewed);

            using var outputKey = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
            var output = await client.GenerateUserCertsAsync(UserCertificateRequest.ForImpersonation(renewed.TlsIdentity.Username, outputKey.PublicKey,
                cluster.Emulator.TimeProvider.GetUtcNow().AddHours(1), [WireTestCluster.AccessRole], cluster.ClusterName));
            var outputHolder = new IdentityHolder
            {
                Current = WireIdentity.Create(outputKey, output.TlsCertificate!, holder.Current.TrustedCertificateAuthorities.Cast<X509Certificate2>()),
            };
            await using var nodeClient = TeleportWireClient.Create(options, outputHolder.Provider);
            await using var stream = await nodeClient.OpenSshAsync("echo:22");
            var reader = Task.Run(async () =>
            {
                var received = new MemoryStream();
                await stream.CopyToAsync(received);
                return received.ToArray();
            });
            foreach (var chunk in payload.Chunk(64 * 1024))
            {
                await stream.WriteAsync(chunk);
                if (pauseBetweenWrites is { } pause)
                {
                    await Task.Delay(pause);
                }
            }

            await stream.ShutdownWriteAsync();
            return await reader.WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (echo is not null)
            {
                await echo.DisposeAsync();
            }
        }
    }
}
