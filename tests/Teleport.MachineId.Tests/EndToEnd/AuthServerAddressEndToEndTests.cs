using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// tbot configurations from older guides put the proxy's web address under <c>auth_server</c>. The bot
/// joins and renews through the proxy (Teleport's order: Auth first, then the proxy), and its identity
/// output is the same as with <c>proxy_server</c>: byte-identical ssh_config and known_hosts that
/// real OpenSSH uses to reach the node.
/// </summary>
[Category("EndToEnd")]
public sealed class AuthServerAddressEndToEndTests
{
    private static readonly string[] SshFiles = ["ssh_config", "known_hosts"];

    [TestCase(true)]
    [TestCase(false)]
    public async Task Auth_server_naming_the_proxy_joins_renews_and_writes_the_same_ssh_files_as_proxy_server(bool tlsRouting)
    {
        await using var env = await NodeEnvironment.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = tlsRouting });
        var expected = await WriteOutputAsync(env, env.Bot, env.BotOptions);

        var options = NodeEnvironment.BotOptionsFor(env.Cluster, env.Cluster.CreateJoinToken(NodeEnvironment.BotName).Name);
        (options.AuthServer, options.ProxyServer) = (options.ProxyServer, null);
        await using var bot = BotIdentityProvider.Create(options);
        await bot.StartAsync();
        var joined = await bot.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var renewed = await bot.RenewNowAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var actual = await WriteOutputAsync(env, bot, options);
        var ssh = await env.SshAsync(env.OutputDirectory, env.Login, env.NodeHost, "hostname");

        Assert.That(renewed.Generation, Is.EqualTo(joined.Generation + 1));
        Assert.That(renewed.InstanceId, Is.EqualTo(joined.InstanceId));
        foreach (var name in expected.Keys)
        {
            Assert.That(actual[name], Is.EqualTo(expected[name]), $"{name} is the same whichever key named the proxy");
        }

        Assert.That(ssh.ExitCode, Is.Zero, $"{ssh}\nsshd log:\n{env.Sshd.Log}");
        Assert.That(ssh.StandardOutput.Trim(), Is.EqualTo(Environment.MachineName));
    }

    /// <summary>Writes an identity output of <paramref name="bot"/> to the environment's output directory and reads its SSH files.</summary>
    private static async Task<Dictionary<string, string>> WriteOutputAsync(NodeEnvironment env, BotIdentityProvider bot, MachineIdOptions options)
    {
        await using var signer = new TeleportSshCertificateSigner(bot, options);
        await using var output = IdentityOutputService.Create(signer, env.OutputOptions());
        await output.RenewNowAsync();
        var cluster = env.Cluster.ClusterName;
        return SshFiles.Concat(SshFiles.Select(f => cluster + "." + f))
            .ToDictionary(name => name, name => File.ReadAllText(Path.Combine(env.OutputDirectory, name)));
    }
}
