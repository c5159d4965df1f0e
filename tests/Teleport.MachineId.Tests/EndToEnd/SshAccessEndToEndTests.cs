using Teleport.MachineId.Outputs;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// The server access guide end to end, judged by real OpenSSH: an identity output written by the
/// library, <c>ssh -F &lt;dir&gt;/ssh_config root@node1.&lt;cluster&gt;</c> through our
/// <c>tbot-dotnet ssh-proxy-command</c> → the emulator's ProxySSH → a real sshd configured only from
/// emulator exports, with strict host key checking against the generated known_hosts.
/// </summary>
[Category("EndToEnd")]
public sealed class SshAccessEndToEndTests
{
    private static readonly string LocalHostname = Environment.MachineName;

    [Test]
    public async Task Ssh_with_the_generated_ssh_config_runs_hostname_on_the_node()
    {
        await using var env = await NodeEnvironment.StartAsync();
        await using var signer = env.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.RenewNowAsync();

        var result = await env.SshAsync(env.OutputDirectory, env.Login, env.NodeHost, "hostname");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{env.Sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo(LocalHostname));
        Assert.That(await env.Sshd.LogOnceItContainsAsync("Accepted certificate ID \"bot-robot\""), Does.Contain("Accepted certificate ID \"bot-robot\""));
    }

    [Test]
    public async Task Scp_and_sftp_copy_files_through_the_generated_ssh_config()
    {
        await using var env = await NodeEnvironment.StartAsync();
        await using var signer = env.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.RenewNowAsync();
        using var work = new SshTestDirectory("tmid-copy");
        var payload = string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i} of the payload\n"));
        var local = work.Write("payload.txt", payload);
        var remote = Path.Combine(work.Path, "remote-copy.txt");
        var config = Path.Combine(env.OutputDirectory, "ssh_config");

        var scp = await SshToolRunner.RunAsync(OpenSshTools.Scp,
            ["-F", config, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
             local, $"{env.Login}@{env.NodeHost}:{remote}"]);
        var batch = work.Write("batch", $"get {remote} {Path.Combine(work.Path, "fetched.txt")}\nls {work.Path}\n");
        var sftp = await SshToolRunner.RunAsync(OpenSshTools.Sftp,
            ["-F", config, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
             "-b", batch, $"{env.Login}@{env.NodeHost}"]);

        Assert.That(scp.ExitCode, Is.Zero, scp.ToString());
        Assert.That(File.ReadAllText(remote), Is.EqualTo(payload));
        Assert.That(sftp.ExitCode, Is.Zero, sftp.ToString());
        Assert.That(File.ReadAllText(Path.Combine(work.Path, "fetched.txt")), Is.EqualTo(payload));
    }

    [Test]
    public async Task A_login_the_role_does_not_grant_is_refused()
    {
        await using var env = await NodeEnvironment.StartAsync();
        // sshd would let "nobody" in with a certificate that names it; the role does not grant it.
        File.WriteAllText(Path.Combine(env.Sshd.DirectoryPath, "principals", "nobody"), "nobody\n");
        await using var signer = env.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        var written = await output.RenewNowAsync();

        var result = await env.SshAsync(env.OutputDirectory, "nobody", env.NodeHost, "true");

        Assert.That(written.Certificates.SshCertificate.Principals, Does.Not.Contain("nobody"));
        Assert.That(result.ExitCode, Is.EqualTo(255));
        Assert.That(result.StandardError, Does.Contain("Permission denied"));
    }

    [Test]
    public async Task After_the_bot_renews_the_output_is_renewed_and_the_new_files_work()
    {
        await using var env = await NodeEnvironment.StartAsync();
        await using var signer = env.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var firstKey = File.ReadAllText(Path.Combine(env.OutputDirectory, "key"));

        await env.Bot.RenewNowAsync();
        var second = await WaitForNewSetAsync(output, first);

        var result = await env.SshAsync(env.OutputDirectory, env.Login, env.NodeHost, "hostname");

        Assert.That(second.Certificates.SshCertificate.PublicKey, Is.Not.EqualTo(first.Certificates.SshCertificate.PublicKey));
        Assert.That(File.ReadAllText(Path.Combine(env.OutputDirectory, "key")), Is.Not.EqualTo(firstKey));
        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{env.Sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo(LocalHostname));
    }

    [Test]
    public async Task The_identity_file_alone_works_through_tbot_dotnet_ssh_and_the_exit_status_is_propagated()
    {
        await using var env = await NodeEnvironment.StartAsync();
        await using var signer = env.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.RenewNowAsync();
        using var alone = new SshTestDirectory("tmid-identity-only");
        var identity = alone.Write("identity", File.ReadAllText(Path.Combine(env.OutputDirectory, "identity")), secret: true);

        var hostname = await RunCliAsync("ssh", "-i", identity, "--proxy", env.Cluster.ProxyAddress, $"{env.Login}@{NodeEnvironment.NodeName}", "hostname");
        var failing = await RunCliAsync("ssh", "-i", identity, "--proxy", env.Cluster.ProxyAddress, $"{env.Login}@{env.NodeHost}", "--", "sh", "-c", "'echo to-stderr >&2; exit 7'");

        Assert.That(hostname.ExitCode, Is.Zero, hostname.ToString());
        Assert.That(hostname.StandardOutput.Trim(), Is.EqualTo(LocalHostname));
        Assert.That(failing.ExitCode, Is.EqualTo(7), failing.ToString());
        Assert.That(failing.StandardError, Does.Contain("to-stderr"));
    }

    [Test]
    public async Task Ansible_ping_and_command_reach_the_node_through_the_generated_ssh_config()
    {
        var ansible = OpenSshTools.Ansible;
        await using var env = await NodeEnvironment.StartAsync();
        await using var signer = env.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.RenewNowAsync();
        using var work = new SshTestDirectory("tmid-ansible");
        var inventory = work.Write("hosts", $"[nodes]\n{env.NodeHost} ansible_user={env.Login}\n");
        var sshArgs = $"-F {Path.Combine(env.OutputDirectory, "ssh_config")} -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null";

        var ping = await AnsibleRunner.RunAsync(ansible, work.Path, ["all", "-i", inventory, "-m", "ping"], sshArgs);
        var hostname = await AnsibleRunner.RunAsync(ansible, work.Path, ["all", "-i", inventory, "-m", "command", "-a", "hostname"], sshArgs);

        Assert.That(ping.ExitCode, Is.Zero, ping.ToString());
        Assert.That(ping.StandardOutput, Does.Contain("\"ping\": \"pong\""));
        Assert.That(hostname.ExitCode, Is.Zero, hostname.ToString());
        Assert.That(hostname.StandardOutput, Does.Contain(LocalHostname));
    }

    internal static async Task<IdentityOutputResult> WaitForNewSetAsync(IdentityOutputService output, IdentityOutputResult previous)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (ReferenceEquals(output.Current, previous))
        {
            await Task.Delay(20, timeout.Token);
        }

        return output.Current!;
    }

    internal static Task<ToolResult> RunCliAsync(params string[] arguments) =>
        SshToolRunner.RunAsync(NodeEnvironment.TbotDotnetPath, arguments, timeout: TimeSpan.FromSeconds(90));
}
