using Teleport.MachineId.Testing;
using Teleport.MachineId.Testing.Hosting;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>Teleport-shaped resource YAML (the package README's format).</summary>
public sealed class ResourceYamlTests
{
    private const string Resources = """
        kind: role
        version: v6
        metadata:
          name: access
          description: SSH as root on every node
        spec:
          options:
            max_session_ttl: 8h
            forward_agent: true
          allow:
            logins: [root, ubuntu]
            node_labels:
              '*': '*'
            rules:
              - resources: [cert_authority]
                verbs: [readnosecrets]
        ---
        kind: role
        version: v6
        metadata:
          name: prod
        spec:
          allow:
            logins: [deploy]
            node_labels:
              env: [prod, staging]
        ---
        kind: bot
        version: v1
        metadata:
          name: robot
        spec:
          roles: [access, prod]
          max_session_ttl: 2h
        ---
        kind: token
        version: v2
        metadata:
          name: my-fixed-token-secret
          expires: "2099-01-01T00:00:00Z"
        spec:
          roles: [Bot]
          join_method: token
          bot_name: robot
        ---
        - kind: node
          version: v2
          sub_kind: openssh
          metadata:
            name: web-1
            labels:
              env: prod
          spec:
            addr: 127.0.0.1:2222
            hostname: web-1
        - kind: tcp_target
          metadata:
            name: echo
          spec:
            addr: 127.0.0.1:7000
        ---
        kind: lock
        version: v2
        metadata:
          name: lock-someone
        spec:
          target:
            user: bot-someone
          message: under investigation
        """;

    [Test]
    public async Task All_resource_kinds_are_created()
    {
        await using var cluster = await TeleportEmulator.StartAsync();

        cluster.ApplyResources(Resources);

        var access = cluster.GetRole("access")!;
        Assert.That(access.Logins, Is.EqualTo(new[] { "root", "ubuntu" }));
        Assert.That(access.MaxSessionTtl, Is.EqualTo(TimeSpan.FromHours(8)));
        Assert.That(access.ForwardAgent, Is.True);
        Assert.That(access.NodeLabels["*"], Is.EqualTo(new[] { "*" }));
        Assert.That(access.Rules.Single().Verbs, Is.EqualTo(new[] { "readnosecrets" }));
        Assert.That(access.Description, Is.EqualTo("SSH as root on every node"));
        Assert.That(cluster.GetRole("prod")!.NodeLabels["env"], Is.EqualTo(new[] { "prod", "staging" }));
        var botRole = cluster.GetRole("bot-robot")!;
        Assert.That(botRole.ImpersonateRoles, Is.EqualTo(new[] { "access", "prod" }));
        Assert.That(botRole.MaxSessionTtl, Is.EqualTo(TimeSpan.FromHours(2)));
        Assert.That(cluster.JoinTokenExists("my-fixed-token-secret"), Is.True);
        Assert.That(cluster.Locks.Single().User, Is.EqualTo("bot-someone"));
        Assert.That(cluster.Locks.Single().Message, Is.EqualTo("under investigation"));
        Assert.That(cluster.RemoveNode("web-1"), Is.True);
        Assert.That(cluster.RemoveNode("echo"), Is.True);

        // The YAML-defined token joins the YAML-defined bot.
        using var key = MachineId.Crypto.PrivateKey.Generate(MachineId.Crypto.KeyAlgorithm.EcdsaP256);
        using var channel = EmulatorClient.AuthDirect(cluster);
        var certs = await new MachineId.Wire.Proto.Legacy.Client.JoinService.JoinServiceClient(channel)
            .RegisterUsingTokenAsync(EmulatorScenario.JoinRequest(key, "my-fixed-token-secret"), EmulatorClient.Options());
        Assert.That(TestIdentity.FromCerts(key, certs).Tls.BotName, Is.EqualTo("robot"));
    }

    [TestCase("kind: widget\nmetadata:\n  name: x\n", "unknown kind \"widget\"")]
    [TestCase("kind: role\nmetadata: {}\n", "metadata.name: is required")]
    [TestCase("kind: role\nmetadata:\n  name: r\nspec:\n  options:\n    max_session_ttl: forever\n", "max_session_ttl")]
    [TestCase("kind: token\nmetadata:\n  name: t\nspec:\n  join_method: iam\n  bot_name: b\n", "join method \"iam\" is not emulated")]
    [TestCase("kind: lock\nmetadata:\n  name: l\nspec: {}\n", "needs a target")]
    [TestCase("kind: role\n  bad: [indent\n", "Malformed resource YAML")]
    [TestCase("kind: bot\nmetadata:\n  name: b\nspec:\n  roles: {a: b}\n", "expected a list of strings")]
    public async Task Invalid_resources_are_reported_with_their_location(string yaml, string message)
    {
        await using var cluster = await TeleportEmulator.StartAsync();

        Assert.That(() => cluster.ApplyResources(yaml), Throws.InstanceOf<TeleportFormatException>().With.Message.Contains(message));
    }

    [Test]
    public async Task A_token_for_an_unknown_bot_is_refused()
    {
        await using var cluster = await TeleportEmulator.StartAsync();

        Assert.That(() => cluster.ApplyResources("kind: token\nmetadata:\n  name: t\nspec:\n  bot_name: ghost\n"),
            Throws.InvalidOperationException.With.Message.Contains("ghost"));
    }

    [Test]
    public async Task The_join_method_example_token_resources_are_accepted()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.ApplyResources("kind: role\nmetadata: {name: access}\n---\nkind: bot\nmetadata: {name: deploy}\nspec: {roles: [access]}\n");

        foreach (var example in new[] { "github", "gitlab", "kubernetes", "bound-keypair" })
        {
            await cluster.ApplyResourceFileAsync(Configuration.ConfigurationTestFiles.RepositoryPath($"examples/{example}/token.yaml"));
        }

        Assert.That(cluster.CountJoinTokens("deploy"), Is.EqualTo(5));
        Assert.That(cluster.GetBoundKeypairStatus("bound-keypair-host")!.RegistrationSecret, Is.EqualTo("replace-with-a-long-random-secret"));
    }

    // Fuzzing regressions (emulator-yaml): YamlDotNet's scanner threw InvalidOperationException on
    // some malformed input, and its recursive node model overflowed the stack on deep nesting.
    [Test]
    public void Input_the_yaml_scanner_gives_up_on_is_a_format_error()
    {
        var yaml = System.Text.Encoding.UTF8.GetString(FuzzCrashes.Read("emulator-yaml", "scanner-invalid-operation.yaml"));

        Assert.Multiple(() =>
        {
            Assert.Throws<TeleportFormatException>(() => EmulatorConfiguration.Parse(yaml, "/nonexistent"));
            Assert.Throws<TeleportFormatException>(() => ResourceYaml.Parse(yaml));
        });
    }

    [Test]
    public void Nesting_deeper_than_the_limit_is_a_format_error_not_a_stack_overflow()
    {
        var deep = new string('[', 200_000);
        var atLimit = "kind: role\nversion: v6\nmetadata:\n  name: deep\n  labels:\n    x: " + new string('[', 60) + new string(']', 60) + "\n";

        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<TeleportFormatException>(() => EmulatorConfiguration.Parse(deep, "/nonexistent"))!.Message,
                Does.Contain("nests deeper than 64 levels"));
            Assert.Throws<TeleportFormatException>(() => ResourceYaml.Parse(deep));
            Assert.DoesNotThrow(() => ResourceYaml.LoadStream(atLimit, "resource YAML"));
        });
    }
}
