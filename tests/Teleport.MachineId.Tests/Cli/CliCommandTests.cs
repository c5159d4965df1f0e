using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// tbot-dotnet as users run it (the built apphost, separate processes): flags and tbot YAML, exit
/// codes that tell usage errors, refused joins and unreachable clusters apart, and errors that name
/// what to fix.
/// </summary>
public sealed class CliCommandTests
{
    [Test]
    public async Task Help_lists_the_commands_and_exit_codes()
    {
        var result = await CliProcess.RunAsync(["--help"]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.StandardOutput, Does.Contain("start").And.Contain("ssh-proxy-command").And.Contain("ssh"));
        Assert.That(result.StandardOutput, Does.Contain("2 usage or configuration error").And.Contain("4 transient"));
    }

    [TestCase("demo", "tbot-dotnet-emulator demo")]
    [TestCase("emulator", "tbot-dotnet-emulator run")]
    public async Task The_emulator_commands_say_where_they_moved(string command, string replacement)
    {
        var result = await CliProcess.RunAsync([command, "--output", "x"]);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StandardError, Does.Contain(replacement));
    }

    [Test]
    public async Task An_unknown_flag_is_a_usage_error()
    {
        var result = await CliProcess.RunAsync(["start", "identity", "--destination", "/tmp/x", "--bogus-flag"]);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StandardError, Does.Contain("--bogus-flag"));
    }

    [Test]
    public async Task Start_identity_oneshot_writes_the_identity_output()
    {
        await using var cluster = await StartClusterAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var destination = Path.Combine(work.Path, "machine-id");

        var result = await CliProcess.RunAsync(
        [
            "start", "identity", "--proxy-server", cluster.ProxyAddress, "--join-method", "token", "--token", cluster.CreateJoinToken("robot").Name,
            "--destination", destination, "--oneshot", "--ca-bundle", webCa, "--roles", "access", "--credential-ttl", "30m", "--renewal-interval", "10m",
        ]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(Directory.GetFiles(destination).Select(Path.GetFileName),
            Is.SupersetOf(new[] { "identity", "key", "key.pub", "key-cert.pub", "tlscert", "teleport-host-ca.crt", "teleport-user-ca.crt", "teleport-database-ca.crt", "known_hosts", "ssh_config" }));
        var issued = cluster.IssuedCertificates[^1];
        Assert.That(issued.Roles, Is.EqualTo(new[] { "access" }));
        Assert.That(issued.RequestedExpires!.Value - issued.IssuedAt, Is.EqualTo(TimeSpan.FromMinutes(30)).Within(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task Start_with_tbot_yaml_takes_the_token_and_proxy_from_the_environment()
    {
        await using var cluster = await StartClusterAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var destination = Path.Combine(work.Path, "out");
        var config = work.Write("tbot.yaml", $"""
            version: v2
            proxy_server: teleport.invalid:443
            oneshot: true
            onboarding:
              join_method: token
            storage:
              type: memory
            services:
              - type: identity
                destination:
                  type: directory
                  path: {destination}
                ssh_config: "off"
            """);

        var result = await CliProcess.RunAsync(["start", "-c", config, "--ca-bundle", webCa], new Dictionary<string, string?>
        {
            ["TELEPORT_BOT_TOKEN"] = cluster.CreateJoinToken("robot").Name,
            ["TELEPORT_PROXY"] = cluster.ProxyAddress,
        });

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var files = Directory.GetFiles(destination).Select(Path.GetFileName).ToArray();
        Assert.That(files, Does.Contain("identity").And.Contain("key-cert.pub"));
        Assert.That(files, Does.Not.Contain("ssh_config").And.Not.Contain("known_hosts"), "ssh_config: off");
        Assert.That(cluster.IssuedCertificates[^1].Roles, Is.EquivalentTo(new[] { "access", "ops" }), "no roles: every role the bot may impersonate");
    }

    [Test]
    public async Task Start_with_an_unknown_key_names_it_and_exits_with_the_usage_code()
    {
        using var work = new SshTestDirectory("tmid-cli");
        var config = work.Write("tbot.yaml", """
            version: v2
            proxy_server: teleport.example.com:443
            onboarding:
              join_method: token
              token: abc
            storage:
              type: memory
            servcies: []
            """);

        var result = await CliProcess.RunAsync(["start", "-c", config]);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StandardError, Does.Contain("servcies"));
        Assert.That(result.StandardError, Does.Contain("services"), "the closest known key is suggested");
    }

    [Test]
    public async Task A_used_token_is_a_join_failure_and_is_never_printed()
    {
        await using var cluster = await StartClusterAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var token = cluster.CreateJoinToken("robot").Name;
        string[] arguments = ["start", "identity", "--proxy-server", cluster.ProxyAddress, "--token", token, "--destination", Path.Combine(work.Path, "out"), "--oneshot", "--ca-bundle", webCa];
        var first = await CliProcess.RunAsync(arguments);

        var second = await CliProcess.RunAsync(arguments);

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(second.ExitCode, Is.EqualTo(3), second.ToString());
        Assert.That(second.StandardError + second.StandardOutput, Does.Not.Contain(token));
    }

    [Test]
    public async Task An_unreachable_proxy_is_a_transient_failure()
    {
        using var work = new SshTestDirectory("tmid-cli");
        var port = FreePort();

        var result = await CliProcess.RunAsync(
            ["start", "identity", "--proxy-server", $"127.0.0.1:{port}", "--token", "some-token", "--destination", Path.Combine(work.Path, "out"), "--oneshot"]);

        Assert.That(result.ExitCode, Is.EqualTo(4), result.ToString());

        // Issue 13 defect 5: each outer attempt logged its own "Joining failed (attempt 1); retrying".
        Assert.That(result.StandardError, Does.Contain("Attempt 1 of 3").And.Contain("Attempt 2 of 3"));
        Assert.That(result.StandardError, Does.Not.Contain("Joining failed (attempt"));
    }

    [Test]
    public async Task Ssh_proxy_command_without_credentials_says_where_it_looked()
    {
        var result = await CliProcess.RunAsync(
            ["ssh-proxy-command", "--destination-dir=/nonexistent/machine-id", "--proxy-server=localhost:3080", "--cluster=example", "--tls-routing", "--no-connection-upgrade", "--resume", "--user=root", "--host=node1.example", "--port=3022"]);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StandardError, Does.Contain("/nonexistent/machine-id"));
        Assert.That(result.StandardOutput, Is.Empty, "stdout carries only SSH bytes");
    }

    [Test]
    public async Task Ssh_needs_exactly_one_credential_source()
    {
        var result = await CliProcess.RunAsync(["ssh", "--proxy", "localhost:3080", "root@node1", "hostname"]);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StandardError, Does.Contain("-i"));
    }

    /// <summary>An emulator with the roles <c>access</c> (root) and <c>ops</c> and the bot <c>robot</c> holding both.</summary>
    internal static async Task<TeleportEmulator> StartClusterAsync()
    {
        var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.UpsertRole(new EmulatorRole { Name = "ops", Logins = ["ops"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access", "ops"] });
        return cluster;
    }

    private static int FreePort() => Infrastructure.LoopbackPorts.Reserve();
}
