using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// <c>tbot-dotnet start identity --join-method bound_keypair</c> against an emulated Teleport 18.1
/// cluster, which serves bound keypair only over the legacy <c>RegisterUsingBoundKeypairMethod</c>
/// stream (no <c>teleport.join.v1</c>): registration with the secret, a restart from storage without
/// it, and real <c>ssh</c> through the proxy with the written identity.
/// </summary>
[Category("EndToEnd")]
[NonParallelizable]
public sealed class LegacyBoundKeypairEndToEndTests
{
    [Test]
    public async Task Bound_keypair_on_an_18_1_cluster_registers_then_restarts_from_storage_over_the_legacy_stream()
    {
        await using var env = await NodeEnvironment.StartAsync(new TeleportEmulatorOptions { ServerVersion = "18.1.0" });
        using var work = new SshTestDirectory("tmid-legacy-bkp");
        var webCa = work.Write("web-ca.pem", env.Cluster.WebCaCertificatePem);
        Assert.That(env.Cluster.JoinApis, Is.EqualTo(EmulatorJoinApis.Legacy), "an 18.1 cluster has no teleport.join.v1");
        env.Cluster.AddJoinToken(DelegatedJoinEndToEndTests.BoundKeypairToken("bkp-legacy", "legacy-registration-secret", limit: 1));
        var storage = Path.Combine(work.Path, "storage");
        var destination = Path.Combine(work.Path, "out");

        var first = await DelegatedJoinEndToEndTests.StartIdentityAsync(
            env, webCa, "bound_keypair", "bkp-legacy", destination, ["--storage", storage, "--registration-secret", "legacy-registration-secret"]);
        var second = await DelegatedJoinEndToEndTests.StartIdentityAsync(env, webCa, "bound_keypair", "bkp-legacy", destination, ["--storage", storage]);

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(first.ToString() + second, Does.Not.Contain("legacy-registration-secret"));
        var status = env.Cluster.GetBoundKeypairStatus("bkp-legacy")!;
        Assert.That(status.RecoveryCount, Is.EqualTo(1), "the restart re-joined with its identity: no recovery used");
        Assert.That(env.Cluster.AuditEvents.Count(e => e.Type == "bot.join" && e.Success && e.Fields.TryGetValue("api", out var api)
            && api.Contains("RegisterUsingBoundKeypairMethod", StringComparison.Ordinal)), Is.EqualTo(2), "both joins took the legacy stream");
        await DelegatedJoinEndToEndTests.AssertSshWorksAsync(env, destination);
    }
}
