using System.Diagnostics;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.Cli;

/// <summary><c>tbot-dotnet start identity</c> as a long-running bot: writes the output, keeps renewing, stops cleanly on SIGTERM.</summary>
[Category("EndToEnd")]
public sealed class StartDaemonTests
{
    [Test]
    public async Task The_bot_writes_its_output_keeps_running_and_exits_zero_on_SIGTERM()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("POSIX signals.");
        }

        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        using var work = new SshTestDirectory("tmid-daemon");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var destination = Path.Combine(work.Path, "machine-id");
        var storage = Path.Combine(work.Path, "storage");
        var info = new ProcessStartInfo(NodeEnvironment.TbotDotnetPath) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[]
        {
            "start", "identity", "--proxy-server", cluster.ProxyAddress, "--token", cluster.CreateJoinToken("robot").Name, "--destination", destination,
            "--storage", storage, "--ca-bundle", webCa, "--credential-ttl", "20m", "--renewal-interval", "5m",
        })
        {
            info.ArgumentList.Add(argument);
        }

        using var bot = Process.Start(info)!;
        var stderr = bot.StandardError.ReadToEndAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            while (!File.Exists(Path.Combine(destination, "ssh_config")))
            {
                Assert.That(bot.HasExited, Is.False, () => "the bot exited: " + (stderr.IsCompleted ? stderr.Result : ""));
                await Task.Delay(50, timeout.Token);
            }

            var kill = await SshToolRunner.RunAsync("/bin/kill", ["-TERM", bot.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.That(kill.ExitCode, Is.Zero, kill.ToString());
            await bot.WaitForExitAsync(timeout.Token);

            Assert.That(bot.ExitCode, Is.Zero, await stderr);
            Assert.That(await stderr, Does.Contain("Stopping"));
            Assert.That(Directory.EnumerateFileSystemEntries(storage), Is.Not.Empty, "the bot's own identity was stored");
        }
        finally
        {
            if (!bot.HasExited)
            {
                bot.Kill();
            }
        }
    }
    // Issue 13 defect 5: restarted from its storage, the long-running bot issued the output's
    // certificates twice at start-up (with the stored identity, then again after renewing it).
    [Test]
    public async Task Restarted_from_storage_the_bot_renews_once_and_issues_the_output_once()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("POSIX signals.");
        }

        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        using var work = new SshTestDirectory("tmid-daemon");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var destination = Path.Combine(work.Path, "machine-id");
        var storage = Path.Combine(work.Path, "storage");
        string[] common = ["start", "identity", "--proxy-server", cluster.ProxyAddress, "--destination", destination, "--storage", storage, "--ca-bundle", webCa];
        var first = await CliProcess.RunAsync([.. common, "--token", cluster.CreateJoinToken("robot").Name, "--oneshot"]);
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        var before = cluster.IssuedCertificates.Count;

        var info = new ProcessStartInfo(NodeEnvironment.TbotDotnetPath) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in common)
        {
            info.ArgumentList.Add(argument);
        }

        using var bot = Process.Start(info)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            string? line;
            while ((line = await bot.StandardError.ReadLineAsync(timeout.Token)) is not null && !line.Contains("output(s) written; renewing until stopped", StringComparison.Ordinal))
            {
            }

            Assert.That(line, Is.Not.Null, "the bot wrote its output");

            // Before the fix the second issuance followed the start-up renewal, after this line: give it time to show.
            await Task.Delay(TimeSpan.FromSeconds(3), timeout.Token);
            var issued = cluster.IssuedCertificates.Skip(before).Select(c => c.Kind).ToList();
            Assert.That(issued.Count(k => k == IssuedCertificateKind.BotRenewal), Is.EqualTo(1), string.Join(", ", issued));
            Assert.That(issued.Count(k => k == IssuedCertificateKind.RoleImpersonation), Is.EqualTo(1), string.Join(", ", issued));
        }
        finally
        {
            bot.Kill();
            await bot.WaitForExitAsync();
        }
    }
}
