using System.Text.Json.Nodes;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>The console entry point's library API: YAML configuration in, running cluster and client files out.</summary>
public sealed class EmulatorHostTests
{
    [Test]
    public async Task Writes_everything_a_client_needs()
    {
        using var directory = new SshTestDirectory("tmid-emulator-host");
        using var hostKey = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        directory.Write("node1_host_key.pub", hostKey.PublicKey.ToAuthorizedKey("node1") + "\n");
        directory.Write("resources.yaml", "kind: role\nmetadata:\n  name: access\nspec:\n  allow:\n    logins: [root]\n    node_labels: {'*': '*'}\n");
        var configuration = EmulatorConfiguration.Parse("""
            cluster_name: host.teleport.test
            proxy_port: 0
            auth_port: 0
            ssh_proxy_port: 0
            signature_algorithm_suite: fips-v1
            resource_files: [resources.yaml]
            resources:
              - kind: bot
                metadata: {name: robot}
                spec: {roles: [access]}
            tokens:
              - bot: robot
                ttl: 30m
            nodes:
              - name: node1
                address: 127.0.0.1:2222
                labels: {env: dev}
                host_key: node1_host_key.pub
            """, directory.Path);
        var output = Path.Combine(directory.Path, "out");

        await using var cluster = await EmulatorHost.StartAsync(configuration, output);

        var summary = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "cluster.json")))!;
        Assert.That((string?)summary["cluster_name"], Is.EqualTo("host.teleport.test"));
        Assert.That((string?)summary["proxy_address"], Is.EqualTo(cluster.ProxyAddress));
        Assert.That((string?)summary["auth_address"], Is.EqualTo(cluster.AuthAddress));
        Assert.That((string?)summary["signature_algorithm_suite"], Is.EqualTo("fips-v1"));
        Assert.That((string?)summary["ca_pins"]![0], Is.EqualTo(cluster.GetCaPins()[0]));
        Assert.That((await File.ReadAllTextAsync(Path.Combine(output, "proxy-address"))).Trim(), Is.EqualTo(cluster.ProxyAddress));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(output, "web-ca.pem")), Is.EqualTo(cluster.WebCaCertificatePem));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(output, "user-ca.pub")), Is.EqualTo(cluster.ExportUserCaOpenSsh()));
        Assert.That(await File.ReadAllTextAsync(Path.Combine(output, "known_hosts")), Does.StartWith("@cert-authority localhost,host.teleport.test,*.host.teleport.test "));

        var tokenFile = Path.Combine(output, (string)summary["tokens"]![0]!["file"]!);
        var secret = (await File.ReadAllTextAsync(tokenFile)).Trim();
        Assert.That(cluster.JoinTokenExists(secret), Is.True);
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(tokenFile), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "token secrets are 0600");
            Assert.That(File.GetUnixFileMode(output) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead), Is.EqualTo(UnixFileMode.None), "directory 0700");
        }

        var hostCertificate = SshCertificate.ParseAuthorizedKey(await File.ReadAllTextAsync(Path.Combine(output, "node1-cert.pub")));
        Assert.That(hostCertificate.Type, Is.EqualTo(SshCertificateType.Host));
        Assert.That(hostCertificate.PublicKey, Is.EqualTo(hostKey.PublicKey));
        Assert.That(hostCertificate.Principals, Is.EqualTo(new[] { "node1", "node1.host.teleport.test" }));
        Assert.That(hostCertificate.SignatureKey, Is.EqualTo(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host)[0]));
        Assert.That(hostCertificate.GetTeleportInfo().SystemRole, Is.EqualTo("Node"));
        Assert.That(hostCertificate.GetTeleportInfo().Authority, Is.EqualTo("host.teleport.test"));
        using var joined = await EmulatorScenario.JoinAsync(cluster);
        Assert.That(joined.Tls.BotName, Is.EqualTo("robot"));
    }

    [Test]
    public async Task RunAsync_runs_until_cancelled()
    {
        using var directory = new SshTestDirectory("tmid-emulator-run");
        var configuration = EmulatorConfiguration.Parse("proxy_port: 0\nauth_port: 0\nssh_proxy_port: 0\n", directory.Path);
        using var stop = new CancellationTokenSource();
        var output = Path.Combine(directory.Path, "out");

        var run = EmulatorHost.RunAsync(configuration, output, stop.Token);
        var address = Path.Combine(output, "cluster.json"); // written last
        for (var i = 0; i < 600 && !File.Exists(address); i++)
        {
            await Task.Delay(50);
        }

        Assert.That(File.Exists(address), Is.True);
        Assert.That(run.IsCompleted, Is.False);
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(run.IsCompletedSuccessfully, Is.True);
    }

    [Test]
    public async Task The_example_configuration_parses_and_starts()
    {
        var path = Configuration.ConfigurationTestFiles.RepositoryPath("examples/emulator.yaml");
        var configuration = await EmulatorConfiguration.LoadAsync(path);
        configuration.ProxyPort = 0;
        configuration.AuthPort = 0;
        configuration.SshProxyPort = 0;
        configuration.Nodes.Clear(); // the example's host key files are placeholders
        using var directory = new SshTestDirectory("tmid-emulator-example");

        await using var cluster = await EmulatorHost.StartAsync(configuration, directory.Path);

        Assert.That(cluster.ClusterName, Is.EqualTo("example.teleport.test"));
        Assert.That(cluster.GetRole("bot-robot"), Is.Not.Null);
        Assert.That(cluster.CountJoinTokens("robot"), Is.GreaterThan(0));
    }

    [TestCase("unknown_key: 1", "unknown_key: unknown key")]
    [TestCase("proxy_port: seventy", "proxy_port: expected a port number")]
    [TestCase("nodes:\n  - name: n\n", "every node needs a name and an address")]
    [TestCase("join_apis: sometimes", "join_apis")]
    public void Invalid_configuration_is_reported(string yaml, string message)
    {
        Assert.That(() => EmulatorConfiguration.Parse(yaml), Throws.InstanceOf<TeleportFormatException>().With.Message.Contains(message));
    }

    [Test]
    public async Task The_join_methods_example_writes_what_each_bot_needs_to_join()
    {
        using var directory = new SshTestDirectory("tmid-emulator-joins");
        var configuration = await EmulatorConfiguration.LoadAsync(Configuration.ConfigurationTestFiles.RepositoryPath("examples/emulator-joins.yaml"));
        var output = Path.Combine(directory.Path, "out");

        await using var cluster = await EmulatorHost.StartAsync(configuration, output);

        var helpers = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "join-helpers.json")))!;
        Assert.That((string?)helpers["oidc_issuer"]!["host"], Is.EqualTo(cluster.OidcIssuer.Host));
        var files = helpers["tokens"]!.AsArray().ToDictionary(t => (string)t!["name"]!, t => Path.Combine(output, (string)t!["file"]!));
        Assert.That(files.Keys, Is.EquivalentTo(new[] { "github-bot", "gitlab-bot", "kubernetes-bot", "bound-keypair-bot" }));
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(files.Values.Select(File.GetUnixFileMode), Is.All.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "they hold secrets");
        }

        await using var client = MachineId.Wire.TeleportWireClient.Create(
            new MachineId.Wire.WireClientOptions { ProxyServer = MachineId.Wire.HostPort.Parse(cluster.ProxyAddress), ProxyCaCertificates = [cluster.WebCaCertificate] }, () => null);
        var environment = File.ReadAllLines(files["github-bot"]).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var github = await new MachineId.Identity.Joining.GitHubActionsIdTokenSource(environment.GetValueOrDefault).GetIdTokenAsync(default);
        foreach (var (token, idToken) in new[]
        {
            ("github-bot", github),
            ("gitlab-bot", (await File.ReadAllTextAsync(files["gitlab-bot"])).Trim()),
            ("kubernetes-bot", (await File.ReadAllTextAsync(files["kubernetes-bot"])).Trim()),
        })
        {
            var joined = await client.JoinWithIdTokenAsync(token, idToken, TimeSpan.FromHours(1), presentIdentity: false);
            Assert.That(joined.Certificates.TlsIdentity!.BotName, Is.EqualTo("robot"), token);
        }

        Assert.That((await File.ReadAllTextAsync(files["bound-keypair-bot"])).Trim(), Is.EqualTo("emulator-registration-secret"));
        Assert.That(File.Exists(Path.Combine(output, "kubernetes-jwks.json")), Is.True);
    }
}
