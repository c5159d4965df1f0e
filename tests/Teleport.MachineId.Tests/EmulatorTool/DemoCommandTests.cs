using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Tests.Cli;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;
using Teleport.MachineId.Tests.Outputs.SshMultiplexer;

namespace Teleport.MachineId.Tests.EmulatorTool;

/// <summary>
/// <c>tbot-dotnet-emulator demo</c> (the README's quick start) on this machine: with OpenSSH it must print the
/// node's hostname through the generated ssh_config; with sshd hidden it must still write the files
/// and say how to get the SSH step.
/// </summary>
[Category("EndToEnd")]
public sealed class DemoCommandTests
{
    [Test]
    public async Task Demo_with_sshd_writes_machine_id_and_prints_the_remote_hostname()
    {
        _ = OpenSshTools.Sshd;
        _ = OpenSshTools.Ssh;
        using var work = new SshTestDirectory("tmid-demo");

        var result = await CliProcess.RunAsync(["demo"], workingDirectory: work.Path, timeout: TimeSpan.FromSeconds(180), program: NodeEnvironment.EmulatorToolPath);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StandardOutput, Does.Contain("ssh -F " + Path.Combine(work.Path, "machine-id", "ssh_config")));
        Assert.That(File.ReadAllText(Path.Combine(work.Path, "machine-id", "ssh_config")), Does.Contain(SshProxyCommand.Quote(NodeEnvironment.TbotDotnetPath) + " ssh-proxy-command"),
            "the demo's ssh goes through the tbot-dotnet built beside the emulator tool");
        Assert.That(result.StandardOutput.Split('\n').Select(l => l.Trim()), Does.Contain(Environment.MachineName));
        Assert.That(File.Exists(Path.Combine(work.Path, "machine-id", "identity")));
    }

    [Test]
    public async Task Demo_with_the_multiplexer_runs_ssh_through_it_with_no_key_on_disk()
    {
        _ = OpenSshTools.Sshd;
        _ = OpenSshTools.Ssh;
        using var work = new SshTestDirectory("tmid-demo");

        var result = await CliProcess.RunAsync(["demo", "--multiplexer"], workingDirectory: work.Path, timeout: TimeSpan.FromSeconds(180), program: NodeEnvironment.EmulatorToolPath);

        var mux = Path.Combine(work.Path, "machine-id-mux");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StandardOutput, Does.Contain("7. $ ssh -F " + Path.Combine(mux, "ssh_config")));
        Assert.That(result.StandardOutput.Split('\n').Count(l => l.Trim() == Environment.MachineName), Is.EqualTo(2),
            "the hostname printed once through the ProxyCommand and once through the multiplexer");
        Assert.That(File.ReadAllText(Path.Combine(mux, "ssh_config")), Does.Contain("ssh-multiplexer-proxy-command").And.Contain("ProxyUseFDPass yes"));
        var entries = Directory.GetFileSystemEntries(mux).Select(Path.GetFileName).ToList();
        Assert.That(entries, Is.SupersetOf(new[] { "ssh_config", "known_hosts" }));
        Assert.That(entries, Has.None.EqualTo("v1.sock").And.None.EqualTo("agent.sock"), "the sockets are removed when the multiplexer stops");
        MultiplexerFixture.AssertNoPrivateKeyIn(mux);
    }

    [Test]
    public async Task Demo_without_sshd_writes_the_files_and_explains_how_to_see_the_ssh_step()
    {
        using var work = new SshTestDirectory("tmid-demo");

        var result = await CliProcess.RunAsync(["demo"], new Dictionary<string, string?> { ["TBOT_DOTNET_SSHD"] = "none" }, work.Path, TimeSpan.FromSeconds(180), NodeEnvironment.EmulatorToolPath);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StandardOutput, Does.Contain("apt-get install -y openssh-server openssh-client"));
        var files = Directory.GetFiles(Path.Combine(work.Path, "machine-id")).Select(Path.GetFileName);
        Assert.That(files, Is.SupersetOf(new[] { "identity", "key", "key-cert.pub", "tlscert", "ssh_config", "known_hosts" }));
    }
}
