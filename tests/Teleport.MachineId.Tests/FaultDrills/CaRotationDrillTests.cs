using Teleport.MachineId.Crypto;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Cli.Torture;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.FaultDrills;

/// <summary>
/// Fault drill (issue 13): a full manual rotation of the host CA, then of the user CA, through
/// every phase (<c>init</c>, <c>update_clients</c>, <c>update_servers</c>, <c>standby</c>) while an
/// OpenSSH session stays open through the generated ssh_config (ProxyCommand <c>tbot-dotnet
/// ssh-proxy-command</c> over ProxySSH). At every phase the open session still answers and a new
/// <c>ssh</c> connection works. The bot's part: its CA watcher renews at <c>update_clients</c> and
/// <c>standby</c> and the output follows. The node's part, as a Teleport node does: it trusts the
/// user CA's current keys at every phase and presents a host certificate from the new host CA at
/// <c>update_servers</c>. Real sshd, real ssh, the built CLI, the emulator, real time.
/// </summary>
[Category("EndToEnd")]
public sealed class CaRotationDrillTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Test]
    public async Task A_full_host_then_user_CA_rotation_keeps_the_open_session_and_new_connections_work_at_every_phase()
    {
        await using var node = await NodeEnvironment.StartAsync();
        await using var signer = node.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, node.OutputOptions());
        await output.StartAsync();
        await output.WaitUntilReadyAsync().WaitAsync(Bound);

        await using var session = SshSession.Start(node.OutputDirectory, node.Login, node.NodeHost);
        Assert.That(await session.EchoAsync("before the rotation", Bound), Is.True, "the session works: " + session.StandardError);

        foreach (var type in new[] { CertificateAuthorityType.Host, CertificateAuthorityType.User })
        {
            var original = node.Cluster.GetCertificateAuthoritySshKeys(type).Single();
            foreach (var expected in new[]
            {
                CertificateAuthorityRotationPhase.Init, CertificateAuthorityRotationPhase.UpdateClients,
                CertificateAuthorityRotationPhase.UpdateServers, CertificateAuthorityRotationPhase.Standby,
            })
            {
                var phase = await node.Cluster.AdvanceRotationAsync(type);
                Assert.That(phase, Is.EqualTo(expected));
                var step = $"{type} CA rotation, phase {phase}";

                await NodeFollowsAsync(node, type, phase);
                if (phase is CertificateAuthorityRotationPhase.UpdateClients or CertificateAuthorityRotationPhase.Standby)
                {
                    await OutputFollowsAsync(output, node, type, step);
                }

                AssertOutputMatchesCluster(node, step);
                Assert.That(await session.EchoAsync(step, Bound), Is.True, $"{step}: the open session answers\n{session.StandardError}");
                var next = await node.SshAsync(node.OutputDirectory, node.Login, node.NodeHost, "echo new connection");
                Assert.That(next.ExitCode, Is.Zero, $"{step}: a new connection\n{next}\nsshd:\n{Tail(node.Sshd.Log)}");
                Assert.That(next.StandardOutput.Trim(), Is.EqualTo("new connection"), step);
            }

            Assert.That(node.Cluster.GetCertificateAuthoritySshKeys(type).Single(), Is.Not.EqualTo(original), $"{type} CA rotated");
        }

        Assert.Multiple(() =>
        {
            Assert.That(node.Cluster.Locks, Is.Empty);
            Assert.That(node.Cluster.AuditEvents.Count(e => e.Type == "cert.generation_mismatch"), Is.Zero);
            Assert.That(node.Bot.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy), node.Bot.Status.Description);
            Assert.That(TortureChecks.DestinationProblem(node.OutputDirectory), Is.Null);
        });
    }

    /// <summary>What a Teleport node does at each phase: trusts the user CA's current keys; at the host CA's update_servers, a new host certificate.</summary>
    private static async Task NodeFollowsAsync(NodeEnvironment node, CertificateAuthorityType type, CertificateAuthorityRotationPhase phase)
    {
        node.Sshd.TrustUserCaKeys(node.Cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User));
        if (type == CertificateAuthorityType.Host && phase == CertificateAuthorityRotationPhase.UpdateServers)
        {
            var certificate = node.Cluster.SignHostCertificate(node.HostKey.PublicKey, [NodeEnvironment.NodeName, node.NodeHost]);
            await node.Sshd.ReplaceHostCertificateAsync(certificate, Bound);
        }
    }

    /// <summary>
    /// Waits (bounded) until the output reflects the cluster's new trust: after the bot's debounced
    /// renewal the output is rewritten with known_hosts listing exactly the host CA keys the cluster
    /// trusts, or a certificate from the user CA's active key.
    /// </summary>
    private static async Task OutputFollowsAsync(IdentityOutputService output, NodeEnvironment node, CertificateAuthorityType type, string step)
    {
        bool Follows()
        {
            var keys = node.Cluster.GetCertificateAuthoritySshKeys(type);
            return type == CertificateAuthorityType.Host
                ? ListedHostCaKeys(node).ToHashSet().SetEquals(keys.Select(Blob))
                : UserCertificate(node).SignatureKey.Equals(keys[0]);
        }

        using var cancel = new CancellationTokenSource(Bound);
        while (!Follows())
        {
            try
            {
                await Task.Delay(100, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{step}: the output did not follow within {Bound.TotalSeconds} s (last error: {output.LastError?.Message}; written {output.Current?.WrittenAt:O}; bot: {node.Bot.Status.Description})");
            }
        }
    }

    /// <summary>known_hosts trusts exactly the host CA keys the cluster trusts; key-cert.pub comes from a user CA key it trusts.</summary>
    private static void AssertOutputMatchesCluster(NodeEnvironment node, string step)
    {
        var hostKeys = node.Cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host).Select(Blob).ToList();
        var listed = ListedHostCaKeys(node);
        var certificate = UserCertificate(node);
        var userKeys = node.Cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User);
        Assert.Multiple(() =>
        {
            Assert.That(listed, Is.SupersetOf(TrustedForConnections(node, hostKeys)), $"{step}: known_hosts trusts the host CA keys nodes may present");
            Assert.That(listed, Is.SubsetOf(hostKeys), $"{step}: known_hosts trusts no key the cluster dropped");
            Assert.That(userKeys, Does.Contain(certificate.SignatureKey), $"{step}: key-cert.pub is signed by a user CA key the cluster trusts");
        });
    }

    /// <summary>
    /// The host CA keys a client must trust now: the key that signed the node's current host
    /// certificate at least (the output is rewritten only at update_clients and standby, as tbot's).
    /// </summary>
    private static IEnumerable<string> TrustedForConnections(NodeEnvironment node, IReadOnlyList<string> hostKeys) =>
        hostKeys.Where(k => k == Blob(node.Sshd.HostCertificate.SignatureKey));

    private static List<string> ListedHostCaKeys(NodeEnvironment node) =>
        File.ReadAllText(Path.Combine(node.OutputDirectory, "known_hosts"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.StartsWith("@cert-authority ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')[3])
            .Distinct()
            .ToList();

    private static SshCertificate UserCertificate(NodeEnvironment node) =>
        SshCertificate.ParseAuthorizedKey(File.ReadAllText(Path.Combine(node.OutputDirectory, "key-cert.pub")).Trim());

    private static string Blob(PublicKeyInfo key) => key.ToAuthorizedKey().Split(' ')[1];

    private static string Tail(string log) => string.Join('\n', log.Split('\n').TakeLast(15));
}
