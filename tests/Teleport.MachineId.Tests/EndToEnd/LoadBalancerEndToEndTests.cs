using System.Globalization;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// A cluster behind a real L7 load balancer (nginx terminating TLS with its own certificate, no ALPN
/// pass-through, HTTP/1.1 to the proxy with the upgrade headers forwarded), used as a user would:
/// the bot joins and renews through it, its identity output's ssh_config carries
/// <c>--connection-upgrade</c>, and OpenSSH (<c>ssh -F</c>, <c>scp</c>) and Ansible reach a real sshd
/// through <c>tbot-dotnet ssh-proxy-command</c> over WebSocket tunnels, as does <c>tbot-dotnet ssh</c>
/// (SSH.NET), which detects the load balancer itself. The load balancer's CA is
/// trusted the way the OS trust store is extended for a process (<c>SSL_CERT_FILE</c>), or with the
/// bot's CA bundle.
/// </summary>
[Category("EndToEnd")]
public sealed class LoadBalancerEndToEndTests
{
    [Test]
    public async Task Behind_nginx_the_bot_joins_renews_and_ssh_scp_and_ansible_reach_the_node()
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
        var trustLoadBalancer = new Dictionary<string, string?> { ["SSL_CERT_FILE"] = nginx.CaFile };

        await using var bot = BotIdentityProvider.Create(options);
        await bot.StartAsync();
        var joined = await bot.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var renewed = await bot.RenewNowAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await using var signer = new TeleportSshCertificateSigner(bot, options);
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.RenewNowAsync();
        var sshConfig = File.ReadAllText(Path.Combine(env.OutputDirectory, "ssh_config"));

        var ssh = await env.SshAsync(env.OutputDirectory, env.Login, env.NodeHost, "hostname", trustLoadBalancer);
        using var work = new SshTestDirectory("tmid-lb");
        var payload = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i} through the load balancer\n"));
        var local = work.Write("payload.txt", payload);
        var remote = Path.Combine(work.Path, "remote-copy.txt");
        var scp = await SshToolRunner.RunAsync(OpenSshTools.Scp,
            ["-F", Path.Combine(env.OutputDirectory, "ssh_config"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
             local, $"{env.Login}@{env.NodeHost}:{remote}"], environment: trustLoadBalancer);
        var sshNet = await SshToolRunner.RunAsync(NodeEnvironment.TbotDotnetPath,
            ["ssh", "-i", Path.Combine(env.OutputDirectory, "identity"), "--proxy", lbAddress, $"{env.Login}@{NodeEnvironment.NodeName}", "hostname"],
            timeout: TimeSpan.FromSeconds(90), environment: trustLoadBalancer);
        var inventory = work.Write("hosts", $"[nodes]\n{env.NodeHost} ansible_user={env.Login}\n");
        var ansible = await AnsibleRunner.RunAsync(OpenSshTools.Ansible, work.Path, ["all", "-i", inventory, "-m", "ping"],
            $"-F {Path.Combine(env.OutputDirectory, "ssh_config")} -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null", environment: trustLoadBalancer);

        Assert.That(renewed.Generation, Is.EqualTo(joined.Generation + 1), "renewed through the load balancer");
        Assert.That(sshConfig, Does.Contain($"--proxy-server='{lbAddress}'").And.Contain(" --connection-upgrade "), "tbot's flag from the ALPN test");
        Assert.That(ssh.ExitCode, Is.Zero, $"{ssh}\nnginx:\n{nginx.ErrorLog}");
        Assert.That(ssh.StandardOutput.Trim(), Is.EqualTo(Environment.MachineName));
        Assert.That(scp.ExitCode, Is.Zero, scp.ToString());
        Assert.That(File.ReadAllText(remote), Is.EqualTo(payload));
        Assert.That(sshNet.ExitCode, Is.Zero, $"tbot-dotnet ssh (SSH.NET) detects the load balancer too: {sshNet}");
        Assert.That(sshNet.StandardOutput.Trim(), Is.EqualTo(Environment.MachineName));
        Assert.That(ansible.ExitCode, Is.Zero, ansible.ToString());
        Assert.That(ansible.StandardOutput, Does.Contain("\"ping\": \"pong\""));
        Assert.That(NginxLoadBalancer.CountUpgrades(await nginx.AccessLogOnceAsync(log => NginxLoadBalancer.CountUpgrades(log) >= 4)),
            Is.GreaterThanOrEqualTo(4), "join, Auth, the output's clients and every ssh connection were upgraded by nginx");
    }

    [Test]
    public async Task Behind_nginx_ssh_proxy_command_honours_no_connection_upgrade_and_explains_the_failure()
    {
        _ = NginxFixture.Nginx;
        var port = NginxFixture.ReservePort();
        await using var env = await NodeEnvironment.StartAsync(new TeleportEmulatorOptions { PublicProxyAddress = "localhost:" + port.ToString(CultureInfo.InvariantCulture) });
        await using var nginx = await NginxFixture.StartAsync(env.Cluster.ProxyAddress, env.Cluster.WebCaCertificate, new NginxLoadBalancerOptions { Port = port });
        var options = NodeEnvironment.BotOptionsFor(env.Cluster, string.Empty);
        options.Token = null;
        options.ProxyServer = nginx.Address;
        options.ProxyCaCertificates.Clear();
        options.ProxyCaCertificates.Add(nginx.CaCertificate);

        // The environment's bot (direct) issues; the output is written for the load balancer's address.
        await using var signer = new TeleportSshCertificateSigner(env.Bot, options);
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.RenewNowAsync();
        var generated = File.ReadAllText(Path.Combine(env.OutputDirectory, "ssh_config"));
        using var work = new SshTestDirectory("tmid-lb");
        var config = work.Write("ssh_config", generated.Replace(" --connection-upgrade ", " --no-connection-upgrade ", StringComparison.Ordinal));

        var ssh = await SshToolRunner.RunAsync(OpenSshTools.Ssh,
            ["-F", config, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null", $"{env.Login}@{env.NodeHost}", "hostname"],
            environment: new Dictionary<string, string?> { ["SSL_CERT_FILE"] = nginx.CaFile });

        Assert.That(generated, Does.Contain(" --connection-upgrade "));
        Assert.That(ssh.ExitCode, Is.EqualTo(255), ssh.ToString());
        Assert.That(ssh.StandardError, Does.Contain("load balancer").And.Contain("connection upgrade"));
    }
}
