using System.Diagnostics;
using Teleport.MachineId.Tests.Cli;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EmulatorTool;

/// <summary><c>tbot-dotnet-emulator run -c emulator.yaml</c> as a separate process, used by <c>tbot-dotnet start</c> from its output files.</summary>
[Category("EndToEnd")]
public sealed class EmulatorCommandTests
{
    [Test]
    public async Task The_emulator_process_writes_client_files_that_start_identity_uses()
    {
        using var work = new SshTestDirectory("tmid-emulator");
        var config = work.Write("emulator.yaml", """
            cluster_name: cli.teleport.test
            proxy_port: 0
            auth_port: 0
            resources:
              - kind: role
                version: v6
                metadata: {name: access}
                spec:
                  allow:
                    logins: [root]
                    node_labels: {'*': '*'}
              - kind: bot
                version: v1
                metadata: {name: robot}
                spec: {roles: [access]}
            tokens:
              - bot: robot
            """);
        var output = Path.Combine(work.Path, "emulator-out");
        var info = new ProcessStartInfo(NodeEnvironment.EmulatorToolPath) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "run", "-c", config, "-o", output })
        {
            info.ArgumentList.Add(argument);
        }

        using var emulator = Process.Start(info)!;
        var log = emulator.StandardError.ReadToEndAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (!File.Exists(Path.Combine(output, "cluster.json")))
            {
                Assert.That(emulator.HasExited, Is.False, () => "the emulator exited: " + (log.IsCompleted ? log.Result : ""));
                await Task.Delay(50, timeout.Token);
            }

            var proxy = File.ReadAllText(Path.Combine(output, "proxy-address")).Trim();
            var token = File.ReadAllText(Path.Combine(output, "tokens", "robot")).Trim();
            var destination = Path.Combine(work.Path, "machine-id");

            var result = await CliProcess.RunAsync(
            [
                "start", "identity", "--proxy-server", proxy, "--token", Path.Combine(output, "tokens", "robot"), "--destination", destination,
                "--oneshot", "--ca-bundle", Path.Combine(output, "web-ca.pem"),
            ]);

            Assert.That(token, Is.Not.Empty);
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(File.ReadAllText(Path.Combine(destination, "ssh_config")), Does.Contain("Host *.cli.teleport.test"));
        }
        finally
        {
            if (!emulator.HasExited)
            {
                emulator.Kill();
            }

            await emulator.WaitForExitAsync();
        }
    }
}
