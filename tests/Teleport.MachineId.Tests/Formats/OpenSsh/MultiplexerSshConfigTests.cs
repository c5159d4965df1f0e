using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Formats.OpenSsh;

/// <summary>
/// The ssh-multiplexer's ssh_config: byte for byte tbot's (TestData/OpenSsh/muxed, see PROVENANCE.md)
/// given the upstream test's inputs, and read back by OpenSSH (<c>ssh -G</c>) with every value intact.
/// </summary>
public sealed class MultiplexerSshConfigTests
{
    [TestCase("modern_OpenSSH_-_single_cluster", new[] { "example.com" })]
    [TestCase("modern_OpenSSH_-_multiple_clusters", new[] { "example.com", "example.org" })]
    public void Renders_tbots_golden_byte_for_byte(string golden, string[] clusters)
    {
        var expected = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "OpenSsh", "muxed", golden + ".golden"));

        var rendered = MultiplexerSshConfigRenderer.Render(new MultiplexerSshConfigParameters("/opt/machine-id", clusters, ["/bin/fdpass-teleport", "foo"]));

        Assert.That(rendered, Is.EqualTo(expected));
    }

    [Test]
    public async Task Ssh_reads_back_paths_with_spaces_quotes_and_percent_signs()
    {
        using var work = new SshTestDirectory("tmid-muxcfg");
        var directory = Path.Combine(work.Path, "it's 100% mux");
        Directory.CreateDirectory(directory);
        var config = Path.Combine(directory, "ssh_config");
        File.WriteAllText(config, MultiplexerSshConfigRenderer.Render(
            new MultiplexerSshConfigParameters(directory, ["example.com"], ["/opt/tbot dotnet/tbot-dotnet", "ssh-multiplexer-proxy-command"]) { GeneratorName = "tbot-dotnet" }));

        var result = await SshToolRunner.RunAsync(OpenSshTools.Ssh, ["-F", config, "-G", "root@node1.example.com"]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.StandardOutput.Split('\n');
        Assert.That(lines, Does.Contain("port 3022"));
        Assert.That(lines, Does.Contain("identityfile none"));
        Assert.That(lines, Does.Contain("proxyusefdpass yes"));
        Assert.That(lines, Does.Contain($"identityagent {Path.Combine(directory, "agent.sock")}"));
        Assert.That(lines, Does.Contain($"userknownhostsfile {Path.Combine(directory, "known_hosts")}"));
        var proxyCommand = lines.Single(l => l.StartsWith("proxycommand ", StringComparison.Ordinal));
        Assert.That(proxyCommand, Does.Contain("'/opt/tbot dotnet/tbot-dotnet' 'ssh-multiplexer-proxy-command'"));
        Assert.That(proxyCommand, Does.EndWith("'%h:%p|example.com'"), "ssh expands %h and %p when it runs the command, not in -G");
    }

    [Test]
    public void Invalid_inputs_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new MultiplexerSshConfigParameters("relative/dir", ["example.com"], ["tbot"]));
        Assert.Throws<ArgumentException>(() => new MultiplexerSshConfigParameters("/dir", [], ["tbot"]));
        Assert.Throws<ArgumentException>(() => new MultiplexerSshConfigParameters("/dir", ["example.com"], []));
        Assert.Throws<ArgumentException>(() => new MultiplexerSshConfigParameters("/dir", ["bad cluster"], ["tbot"]));
        Assert.Throws<ArgumentException>(() => new MultiplexerSshConfigParameters("/dir", ["example.com"], ["tbot", "a\nb"]));
    }
}
