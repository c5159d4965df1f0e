using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// The ssh-multiplexer end to end, judged by real OpenSSH: the library's multiplexer holds the
/// credentials in memory; <c>ssh -F &lt;mux&gt;/ssh_config</c> runs <c>tbot-dotnet ssh-multiplexer-proxy-command</c>,
/// which passes the connected <c>v1.sock</c> socket to ssh (<c>ProxyUseFDPass</c>); ssh authenticates with
/// the certificate from <c>agent.sock</c> and checks the host against the generated known_hosts.
/// </summary>
[Category("EndToEnd")]
public sealed class SshMultiplexerEndToEndTests
{
    private static readonly string LocalHostname = Environment.MachineName;

    [Test]
    public async Task Ssh_through_the_multiplexer_runs_hostname_with_the_in_memory_agent_and_no_key_on_disk()
    {
        await using var env = await NodeEnvironment.StartAsync();
        await using var signer = env.CreateSigner();
        await using var mux = await MultiplexerFixture.StartAsync(env, signer);

        var result = await env.SshAsync(mux.Directory, env.Login, env.NodeHost, "hostname");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{env.Sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo(LocalHostname));
        Assert.That(env.Sshd.Log, Does.Contain("Accepted certificate ID \"bot-robot\""));
        Assert.That(Directory.GetFileSystemEntries(mux.Directory).Select(Path.GetFileName),
            Is.SupersetOf(new[] { "ssh_config", "known_hosts", "v1.sock", "agent.sock" }));
        MultiplexerFixture.AssertNoPrivateKeyIn(mux.Directory);
    }
}
