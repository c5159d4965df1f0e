using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Wire;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// tbot-dotnet (the built apphost) against a cluster behind nginx: the connection upgrade is detected,
/// and Teleport's <c>TELEPORT_TLS_ROUTING_CONN_UPGRADE</c> override is honoured in both directions.
/// </summary>
public sealed class CliLoadBalancerTests
{
    [Test]
    public async Task Start_identity_through_nginx_detects_the_upgrade_and_writes_connection_upgrade_into_ssh_config()
    {
        await using var lb = await LoadBalancedCluster.StartAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var destination = Path.Combine(work.Path, "out");

        var result = await CliProcess.RunAsync(
        [
            "start", "identity", "--proxy-server", lb.Nginx.Address, "--token", lb.Cluster.CreateToken(),
            "--destination", destination, "--oneshot", "--ca-bundle", lb.Nginx.CaFile, "--debug",
        ]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(File.ReadAllText(Path.Combine(destination, "ssh_config")), Does.Contain(" --connection-upgrade "));
        Assert.That(result.StandardError, Does.Contain($"ALPN connection upgrade required for {lb.Nginx.Address}: True"));
    }

    [Test]
    public async Task The_environment_override_turns_the_upgrade_off_and_the_join_fails_with_a_transient_error_that_says_why()
    {
        await using var lb = await LoadBalancedCluster.StartAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var token = lb.Cluster.CreateToken();

        var result = await CliProcess.RunAsync(
            ["start", "identity", "--proxy-server", lb.Nginx.Address, "--token", token, "--destination", Path.Combine(work.Path, "out"), "--oneshot", "--ca-bundle", lb.Nginx.CaFile],
            new Dictionary<string, string?> { [WireProtocol.ConnectionUpgradeEnvironmentVariable] = $"yes,{lb.Nginx.Address}=no" });

        Assert.That(result.ExitCode, Is.EqualTo(4), result.ToString());
        Assert.That(result.StandardError, Does.Contain("load balancer").And.Contain(WireProtocol.ConnectionUpgradeEnvironmentVariable));
        Assert.That(lb.Emulator.JoinTokenExists(token), Is.True);
    }
}
