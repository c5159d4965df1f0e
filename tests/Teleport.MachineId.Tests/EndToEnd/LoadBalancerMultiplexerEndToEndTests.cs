using System.Globalization;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// The ssh-multiplexer with the cluster behind a real nginx (TLS terminated with its own CA, no ALPN
/// pass-through): the multiplexer's upstream to the proxy's SSH transport (<c>teleport-proxy-ssh-grpc</c>)
/// and its certificate requests to Auth go through <c>/webapi/connectionupgrade</c> WebSocket tunnels,
/// while OpenSSH talks only to <c>v1.sock</c> and <c>agent.sock</c>.
/// </summary>
[Category("EndToEnd")]
public sealed class LoadBalancerMultiplexerEndToEndTests
{
    [Test]
    public async Task Behind_nginx_ssh_through_the_multiplexer_reaches_the_node_over_WebSocket_tunnels()
    {
        _ = NginxFixture.Nginx;
        var port = NginxFixture.ReservePort();
        var lbAddress = "localhost:" + port.ToString(CultureInfo.InvariantCulture);
        await using var env = await NodeEnvironment.StartAsync(new TeleportEmulatorOptions { PublicProxyAddress = lbAddress });
        await using var nginx = await NginxFixture.StartAsync(env.Cluster.ProxyAddress, env.Cluster.WebCaCertificate, new NginxLoadBalancerOptions { Port = port });
        var options = new MachineIdOptions
        {
            ProxyServer = nginx.Address,
            Token = env.Cluster.CreateJoinToken(NodeEnvironment.BotName).Name,
            StorageType = BotStorageType.Memory,
        };
        options.ProxyCaCertificates.Add(nginx.CaCertificate);
        await using var bot = BotIdentityProvider.Create(options);
        await bot.StartAsync();
        await bot.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await using var signer = new TeleportSshCertificateSigner(bot, options);
        var before = NginxLoadBalancer.CountUpgrades(nginx.AccessLog);

        ToolResult ssh, again;
        string sshConfig;
        await using (var mux = await MultiplexerFixture.StartAsync(env, signer))
        {
            sshConfig = File.ReadAllText(mux.SshConfig);
            ssh = await env.SshAsync(mux.Directory, env.Login, env.NodeHost, "hostname");
            again = await env.SshAsync(mux.Directory, env.Login, env.NodeHost, "echo second session");
        }

        // nginx logs an upgraded request when its tunnel closes: the multiplexer's, now that it is gone.
        var after = NginxLoadBalancer.CountUpgrades(await nginx.AccessLogOnceAsync(log => NginxLoadBalancer.CountUpgrades(log) > before));
        Assert.That(ssh.ExitCode, Is.Zero, $"{ssh}\nsshd log:\n{env.Sshd.Log}\nnginx errors:\n{nginx.ErrorLog}");
        Assert.That(ssh.StandardOutput.Trim(), Is.EqualTo(Environment.MachineName));
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        Assert.That(again.StandardOutput.Trim(), Is.EqualTo("second session"));
        Assert.That(sshConfig, Does.Not.Contain(env.Cluster.ProxyAddress), "ssh itself never dials the proxy");
        Assert.That(after, Is.GreaterThan(before), "the multiplexer's upstream went through nginx's connection upgrade");
        Assert.That(nginx.AccessLog, Does.Not.Contain("\" 404 ").And.Not.Contain("\" 502 "));
    }
}
