using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// Issue 13 defect 2: a single-use token is never spent before every local check passed — here a
/// destination that is a regular file, with memory storage (the README's one-shot CI pattern).
/// </summary>
public sealed class StartPreflightTests
{
    [TestCase(true)]
    [TestCase(false)]
    public async Task An_unusable_destination_exits_5_before_the_token_is_spent(bool oneshot)
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        using var work = new TempDirectory("tmid-cli-");
        var webCa = work.Combine("web-ca.pem");
        await File.WriteAllTextAsync(webCa, cluster.WebCaCertificatePem);
        var regularFile = work.Combine("not-a-directory");
        await File.WriteAllTextAsync(regularFile, "x");
        var token = cluster.CreateJoinToken("robot").Name;
        string[] Arguments(string destination) =>
        [
            "start", "identity", "--proxy-server", cluster.ProxyAddress, "--token", token, "--destination", destination,
            "--storage", "memory://", "--ca-bundle", webCa, .. oneshot ? new[] { "--oneshot" } : [],
        ];

        var refused = await CliProcess.RunAsync(Arguments(regularFile));
        Assert.Multiple(() =>
        {
            Assert.That(refused.ExitCode, Is.EqualTo(5), refused.ToString());
            Assert.That(refused.StandardError, Does.Contain(regularFile));
            Assert.That(cluster.JoinTokenExists(token), Is.True, "the token is not spent");
            Assert.That(cluster.BotInstances, Is.Empty);
        });

        if (oneshot)
        {
            // The operator fixes the destination and runs again with the same token.
            var fixedRun = await CliProcess.RunAsync(Arguments(work.Combine("machine-id")));
            Assert.Multiple(() =>
            {
                Assert.That(fixedRun.ExitCode, Is.Zero, fixedRun.ToString());
                Assert.That(cluster.JoinTokenExists(token), Is.False);
                Assert.That(File.Exists(work.Combine("machine-id", "identity")), Is.True);
            });
        }
    }
}
