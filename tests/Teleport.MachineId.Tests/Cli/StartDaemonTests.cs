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
}
