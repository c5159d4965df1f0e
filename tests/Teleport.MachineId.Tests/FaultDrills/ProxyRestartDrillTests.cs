using Teleport.MachineId.Outputs;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.FaultDrills;

/// <summary>
/// Fault drill (issue 13): the proxy restarts while OpenSSH holds a session through the generated
/// ssh_config's ProxyCommand (<c>tbot-dotnet ssh-proxy-command</c> over <c>ProxySSH</c>): the
/// session ends with one clear line from the ProxyCommand, and the next connection works.
/// Real sshd, real ssh, the built CLI as ProxyCommand.
/// </summary>
[Category("EndToEnd")]
public sealed class ProxyRestartDrillTests
{
    [Test]
    public async Task A_proxy_restart_ends_the_open_session_with_a_clear_message_and_the_next_connection_works()
    {
        await using var node = await NodeEnvironment.StartAsync();
        await using var signer = node.CreateSigner();
        await using (var output = IdentityOutputService.Create(signer, node.OutputOptions()))
        {
            await output.RenewNowAsync();
        }

        await using var session = SshSession.Start(node.OutputDirectory, node.Login, node.NodeHost);
        Assert.That(await session.EchoAsync("before the restart", TimeSpan.FromSeconds(60)), Is.True, "the session works: " + session.StandardError);

        node.Cluster.Faults.RestartProxy();

        var exit = await session.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var messages = session.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ours = messages.Where(l => l.Contains("[tbot-dotnet]", StringComparison.Ordinal)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(255), "ssh reports the lost connection:\n" + session.StandardError);
            Assert.That(ours, Has.Count.EqualTo(1), "one line from the ProxyCommand:\n" + session.StandardError);
            Assert.That(ours.SingleOrDefault(), Does.Contain("proxy").IgnoreCase.And.Not.Contain("Exception").And.Not.Contain("   at "), "it says what happened, in words");
        });

        var next = await node.SshAsync(node.OutputDirectory, node.Login, node.NodeHost, "echo after the restart");
        Assert.That(next.ExitCode, Is.Zero, next.ToString());
        Assert.That(next.StandardOutput.Trim(), Is.EqualTo("after the restart"));
    }
}
