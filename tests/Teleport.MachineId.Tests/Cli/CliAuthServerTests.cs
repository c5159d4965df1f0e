using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// <c>auth_server</c> / <c>--auth-server</c> as tbot reads it: a proxy's web address joins through the
/// proxy (no CA pin needed, the proxy is verified with the CA bundle), an Auth address joins with a CA
/// pin as before, and an Auth address without a pin or CA is refused with exit code 3.
/// </summary>
public sealed class CliAuthServerTests
{
    [Test]
    public async Task Start_identity_with_auth_server_naming_the_proxy_joins_through_the_proxy_and_logs_each_attempt()
    {
        await using var cluster = await CliCommandTests.StartClusterAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var destination = Path.Combine(work.Path, "out");

        var result = await CliProcess.RunAsync(
        [
            "start", "identity", "--auth-server", cluster.ProxyAddress, "--token", cluster.CreateJoinToken("robot").Name,
            "--destination", destination, "--oneshot", "--ca-bundle", webCa, "--debug",
        ]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(File.ReadAllText(Path.Combine(destination, "ssh_config")), Does.Contain("ProxyCommand"));
        Assert.That(result.StandardError, Does.Contain($"trying {cluster.ProxyAddress} as the Auth Service"));
        Assert.That(result.StandardError, Does.Contain($"trying {cluster.ProxyAddress} as a proxy"));
        Assert.That(result.StandardError, Does.Contain("ca_pins"), "the debug log says why Auth was not used");
    }

    [Test]
    public async Task Start_with_tbot_yaml_auth_server_naming_the_proxy_joins_through_the_proxy()
    {
        await using var cluster = await CliCommandTests.StartClusterAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var destination = Path.Combine(work.Path, "out");
        var config = work.Write("tbot.yaml", $"""
            version: v2
            auth_server: {cluster.ProxyAddress}
            onboarding:
              join_method: token
              token: {cluster.CreateJoinToken("robot").Name}
            storage:
              type: memory
            services:
              - type: identity
                destination:
                  type: directory
                  path: {destination}
            """);

        var result = await CliProcess.RunAsync(["start", "-c", config, "--oneshot", "--ca-bundle", webCa]);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(Directory.GetFiles(destination).Select(Path.GetFileName), Does.Contain("known_hosts").And.Contain("identity"));
    }

    [Test]
    public async Task Auth_address_with_a_CA_pin_joins_directly()
    {
        await using var cluster = await CliCommandTests.StartClusterAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        List<string> arguments = ["start", "identity", "--auth-server", cluster.AuthAddress, "--token", cluster.CreateJoinToken("robot").Name,
            "--destination", Path.Combine(work.Path, "out"), "--oneshot", "--ca-bundle", webCa];
        foreach (var pin in cluster.GetCaPins())
        {
            arguments.AddRange(["--ca-pin", pin]);
        }

        var result = await CliProcess.RunAsync(arguments);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
    }

    [Test]
    public async Task Auth_address_without_a_CA_pin_or_ca_path_is_refused_with_exit_code_3()
    {
        await using var cluster = await CliCommandTests.StartClusterAsync();
        using var work = new SshTestDirectory("tmid-cli");
        var token = cluster.CreateJoinToken("robot").Name;
        var output = Path.Combine(work.Path, "out");
        var config = work.Write("tbot.yaml", $$"""
            version: v2
            auth_server: {{cluster.AuthAddress}}
            onboarding: {join_method: token, token: {{token}}}
            storage: {type: memory}
            services: [{type: identity, destination: {type: directory, path: {{output}} } }]
            """);

        var result = await CliProcess.RunAsync(["start", "-c", config, "--oneshot"]);

        Assert.That(result.ExitCode, Is.EqualTo(3), result.ToString());
        Assert.That(result.StandardError, Does.Contain("ca_pins"));
        Assert.That(result.StandardError, Does.Contain("As a proxy:"), "the message names the proxy attempt too");
        Assert.That(result.StandardError, Does.Not.Contain(token));
        Assert.That(cluster.JoinTokenExists(token), Is.True, "the token was sent nowhere");
    }
}
