using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// Issue 13 defect 1, as an operator meets it: a renewal whose request may have reached the cluster
/// (the in-flight record survived a kill) makes the next run exit 3 with one message saying what to
/// do; a fresh token then joins again, keeping the same storage and destination.
/// </summary>
public sealed class StartRecoveryTests
{
    [Test]
    public async Task An_uncertain_renewal_exits_3_with_one_message_and_a_fresh_token_recovers_in_place()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        using var work = new TempDirectory("tmid-cli-");
        var webCa = work.Combine("web-ca.pem");
        await File.WriteAllTextAsync(webCa, cluster.WebCaCertificatePem);
        var storage = work.Combine("storage");
        var destination = work.Combine("machine-id");
        var tokenFile = work.Combine("token");
        await File.WriteAllTextAsync(tokenFile, cluster.CreateJoinToken("robot").Name);
        string[] arguments =
        [
            "start", "identity", "--oneshot", "--proxy-server", cluster.ProxyAddress, "--token", tokenFile,
            "--storage", storage, "--destination", destination, "--ca-bundle", webCa,
        ];
        var joined = await CliProcess.RunAsync(arguments);
        Assert.That(joined.ExitCode, Is.Zero, joined.ToString());
        var firstInstance = cluster.BotInstances.Single().InstanceId;

        // What a kill after the renewal request left the process leaves behind.
        var stored = BotIdentityStoreFormat.DecodeIdentity(await File.ReadAllBytesAsync(Path.Combine(storage, DirectoryBotIdentityStore.IdentityFileName)));
        var generation = Tls.TeleportTlsIdentity.FromPem(stored.Material.TlsCertificatePem).Generation;
        await File.WriteAllBytesAsync(
            Path.Combine(storage, DirectoryBotIdentityStore.InFlightFileName),
            BotIdentityStoreFormat.EncodeInFlight(new InFlightRenewal(generation, firstInstance, "ssh-ed25519 AAAA", DateTimeOffset.UtcNow)));

        var stranded = await CliProcess.RunAsync(arguments);
        Assert.Multiple(() =>
        {
            Assert.That(stranded.ExitCode, Is.EqualTo(3), stranded.ToString());
            Assert.That(Occurrences(stranded.StandardError, "tctl bots instances add robot"), Is.EqualTo(1), "one message:\n" + stranded.StandardError);
            Assert.That(stranded.StandardError, Does.Contain("new join token").And.Contain(tokenFile));
            Assert.That(cluster.BotInstances.Single().Generation, Is.EqualTo(generation), "nothing was renewed from the uncertain generation");
        });

        await File.WriteAllTextAsync(tokenFile, cluster.CreateJoinToken("robot").Name);
        var recovered = await CliProcess.RunAsync(arguments);
        Assert.Multiple(() =>
        {
            Assert.That(recovered.ExitCode, Is.Zero, recovered.ToString());
            Assert.That(File.Exists(Path.Combine(storage, DirectoryBotIdentityStore.InFlightFileName)), Is.False);
            Assert.That(cluster.BotInstances.Select(i => i.InstanceId), Has.Some.Not.EqualTo(firstInstance), "joined again as a new bot instance");
            Assert.That(File.Exists(Path.Combine(destination, "identity")), Is.True, "the same destination is written");
            Assert.That(cluster.Locks, Is.Empty);
        });
    }

    private static int Occurrences(string text, string value)
    {
        var count = 0;
        for (var index = text.IndexOf(value, StringComparison.Ordinal); index >= 0; index = text.IndexOf(value, index + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
