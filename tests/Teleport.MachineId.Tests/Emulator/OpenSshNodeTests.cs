using System.Globalization;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>
/// Real OpenSSH judges what the emulator issues: an sshd that trusts only the exported user CA and
/// presents a host certificate from <see cref="TeleportEmulator.SignHostCertificate"/>; ssh logs in
/// with an impersonated identity, directly and through the emulated proxy (ProxySSH).
/// </summary>
public sealed class OpenSshNodeTests
{
    private const string NodeName = "node1";

    [Test]
    public async Task Sshd_with_the_exported_user_CA_accepts_role_logins_and_ssh_verifies_the_host_certificate()
    {
        await using var env = await NodeEnvironment.StartAsync();
        using var output = await EmulatorScenario.ImpersonateAsync(env.Cluster, env.Bot, [EmulatorScenario.AccessRole]);
        var (key, certificate) = env.Sshd.WriteUserIdentity("output", output.Key, output.SshCertificate!);

        var login = await env.SshAsync(key, certificate, env.Sshd.Port, env.Sshd.LoginUser, "echo hello-from-$(id -un)");
        var otherLogin = await env.SshAsync(key, certificate, env.Sshd.Port, "nobody", "true");

        Assert.That(login.ExitCode, Is.Zero, $"{login}\nsshd log:\n{env.Sshd.Log}");
        Assert.That(login.StandardOutput.Trim(), Is.EqualTo("hello-from-" + env.Sshd.LoginUser));
        Assert.That(await env.Sshd.LogOnceItContainsAsync("Accepted certificate ID \"bot-robot\""), Does.Contain("Accepted certificate ID \"bot-robot\""));
        Assert.That(otherLogin.ExitCode, Is.EqualTo(255), "a login the role does not grant is refused");
    }

    [Test]
    public async Task The_bots_own_identity_has_no_logins()
    {
        await using var env = await NodeEnvironment.StartAsync();
        var (key, certificate) = env.Sshd.WriteUserIdentity("bot", env.Bot.Key, env.Bot.SshCertificate!);

        var result = await env.SshAsync(key, certificate, env.Sshd.Port, env.Sshd.LoginUser, "true");

        Assert.That(result.ExitCode, Is.EqualTo(255));
    }

    [Test]
    public async Task Ssh_rejects_the_host_certificate_when_known_hosts_trusts_another_CA()
    {
        await using var env = await NodeEnvironment.StartAsync();
        using var output = await EmulatorScenario.ImpersonateAsync(env.Cluster, env.Bot, [EmulatorScenario.AccessRole]);
        var (key, certificate) = env.Sshd.WriteUserIdentity("output", output.Key, output.SshCertificate!);
        var userCaAsHostCa = KnownHostsRenderer.RenderKnownHosts(env.Cluster.ProxyHost,
            [new ClusterHostCaKeys(env.Cluster.ClusterName, env.Cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User).Select(k => k.ToAuthorizedKey()))]);
        var wrong = env.Sshd.WriteKnownHosts("known_hosts_wrong", userCaAsHostCa.TrimEnd('\n'));

        var result = await env.SshAsync(key, certificate, env.Sshd.Port, env.Sshd.LoginUser, "true", wrong);

        Assert.That(result.ExitCode, Is.EqualTo(255));
        Assert.That(result.StandardError, Does.Contain("Host key verification failed"));
    }

    [Test]
    public async Task ProxySSH_to_a_registered_node_relays_a_real_ssh_login()
    {
        await using var env = await NodeEnvironment.StartAsync();
        env.Cluster.AddNode(new EmulatorNode
        {
            Name = NodeName,
            Address = "127.0.0.1:" + env.Sshd.Port.ToString(CultureInfo.InvariantCulture),
            Labels = new Dictionary<string, string> { ["env"] = "test" },
        });
        using var output = await EmulatorScenario.ImpersonateAsync(env.Cluster, env.Bot, [EmulatorScenario.AccessRole]);
        var (key, certificate) = env.Sshd.WriteUserIdentity("output", output.Key, output.SshCertificate!);
        using var channel = EmulatorClient.SshGrpc(env.Cluster, output.ClientCertificate);
        await using var bridge = new ProxySshBridge(channel, NodeName + "." + env.Cluster.ClusterName + ":3022", env.Cluster.ClusterName);

        var result = await env.SshAsync(key, certificate, bridge.Port, env.Sshd.LoginUser, "echo through-the-proxy");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{env.Sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo("through-the-proxy"));
    }

    [Test]
    public async Task ExportUserCaOpenSsh_lists_every_trusted_user_CA_key()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        var before = cluster.ExportUserCaOpenSsh();
        await cluster.AdvanceRotationAsync(CertificateAuthorityType.User);

        var during = cluster.ExportUserCaOpenSsh().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.That(before.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(PublicKeyInfo.ParseAuthorizedKey),
            Is.EqualTo(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User).Take(1)));
        Assert.That(during, Has.Length.EqualTo(2), "active and additional trusted keys during a rotation");
    }

    /// <summary>An emulator with a bot, and an sshd trusting its user CA with a host certificate from its host CA.</summary>
    private sealed class NodeEnvironment : IAsyncDisposable
    {
        private NodeEnvironment(TeleportEmulator cluster, TestIdentity bot, SshdFixture sshd, PrivateKey hostKey, string knownHosts)
        {
            Cluster = cluster;
            Bot = bot;
            Sshd = sshd;
            HostKey = hostKey;
            KnownHosts = knownHosts;
        }

        public TeleportEmulator Cluster { get; }

        public TestIdentity Bot { get; }

        public SshdFixture Sshd { get; }

        public PrivateKey HostKey { get; }

        public string KnownHosts { get; }

        public static async Task<NodeEnvironment> StartAsync()
        {
            _ = OpenSshTools.Sshd; // ignored (or failed under CI) without OpenSSH
            var cluster = await TeleportEmulator.StartAsync();
            cluster.UpsertRole(new EmulatorRole
            {
                Name = EmulatorScenario.AccessRole,
                Logins = [Environment.UserName, "ubuntu"],
                NodeLabels = EmulatorRole.AllNodes,
            });
            cluster.AddBot(new EmulatorBot { Name = EmulatorScenario.BotName, Roles = [EmulatorScenario.AccessRole] });
            var bot = await EmulatorScenario.JoinAsync(cluster);

            var hostKey = PrivateKey.Generate(KeyAlgorithm.Ed25519);
            var hostCertificate = cluster.SignHostCertificate(hostKey.PublicKey, [NodeName, NodeName + "." + cluster.ClusterName]);
            var options = new SshdFixtureOptions { HostKey = hostKey, HostCertificate = hostCertificate };
            foreach (var line in cluster.ExportUserCaOpenSsh().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                options.TrustedUserCaKeys.Add(PublicKeyInfo.ParseAuthorizedKey(line));
            }

            var sshd = await SshdFixture.StartAsync(options);
            var knownHosts = KnownHostsRenderer.RenderKnownHosts(cluster.ProxyHost,
                [new ClusterHostCaKeys(cluster.ClusterName, cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host).Select(k => k.ToAuthorizedKey()))]);
            var path = sshd.WriteKnownHosts("known_hosts", knownHosts.TrimEnd('\n'));
            return new NodeEnvironment(cluster, bot, sshd, hostKey, path);
        }

        /// <summary>Runs ssh to 127.0.0.1:<paramref name="port"/>, verifying the host as <c>node1.&lt;cluster&gt;</c> (what tbot's ssh_config does via %h).</summary>
        public Task<ToolResult> SshAsync(string key, string certificate, int port, string user, string command, string? knownHosts = null) =>
            SshToolRunner.RunAsync(OpenSshTools.Ssh,
            [
                "-F", "/dev/null",
                "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "UserKnownHostsFile=" + (knownHosts ?? KnownHosts),
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "HostKeyAlias=" + NodeName + "." + Cluster.ClusterName,
                "-o", "PasswordAuthentication=no",
                "-o", "KbdInteractiveAuthentication=no",
                "-o", "ConnectTimeout=20",
                "-o", "LogLevel=ERROR",
                "-i", key,
                "-o", "CertificateFile=" + certificate,
                "-p", port.ToString(CultureInfo.InvariantCulture),
                user + "@127.0.0.1",
                command,
            ]);

        public async ValueTask DisposeAsync()
        {
            await Sshd.DisposeAsync();
            Bot.Dispose();
            HostKey.Dispose();
            await Cluster.DisposeAsync();
        }
    }
}
