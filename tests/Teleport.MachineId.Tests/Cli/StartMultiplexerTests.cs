using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;
using Teleport.MachineId.Tests.Wire;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// <c>tbot-dotnet start -c tbot.yaml</c> with a <c>type: ssh-multiplexer</c> service, as a separate
/// process: it serves 200 concurrent connections (to an echo service registered as a node) and its
/// descriptor count (<c>/proc/&lt;pid&gt;/fd</c>) is back where it was once they are closed; SIGTERM stops
/// it cleanly and removes its sockets.
/// </summary>
[Category("EndToEnd")]
public sealed class StartMultiplexerTests
{
    private const int Connections = 200;

    [Test]
    public async Task The_multiplexer_process_serves_200_concurrent_connections_without_leaking_descriptors()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("Descriptor passing and /proc/<pid>/fd are Linux's.");
        }

        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        using var work = new SshTestDirectory("tmid-mux-cli");
        var webCa = work.Write("web-ca.pem", cluster.WebCaCertificatePem);
        var directory = Path.Combine(work.Path, "mux");
        var config = work.Write("tbot.yaml", $"""
            version: v2
            proxy_server: {cluster.ProxyAddress}
            onboarding:
              join_method: token
              token: {cluster.CreateJoinToken("robot").Name}
            storage:
              type: memory
            services:
              - type: ssh-multiplexer
                name: fleet
                destination:
                  type: directory
                  path: {directory}
                enable_resumption: true
                proxy_command: ["{NodeEnvironment.TbotDotnetPath}", "ssh-multiplexer-proxy-command"]
            """);
        var info = new ProcessStartInfo(NodeEnvironment.TbotDotnetPath) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "start", "-c", config, "--ca-bundle", webCa })
        {
            info.ArgumentList.Add(argument);
        }

        using var bot = Process.Start(info)!;
        var stderr = bot.StandardError.ReadToEndAsync();
        var socket = Path.Combine(directory, "v1.sock");
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            while (!File.Exists(Path.Combine(directory, "ssh_config")))
            {
                Assert.That(bot.HasExited, Is.False, () => "the multiplexer exited: " + (stderr.IsCompleted ? stderr.Result : ""));
                await Task.Delay(50, timeout.Token);
            }

            Assert.That(File.ReadAllText(Path.Combine(directory, "ssh_config")), Does.Contain($"'{socket}' '%h:%p|{cluster.ClusterName}'"));
            await EchoAsync(await ConnectAsync(socket, "warm-up"), "warm-up", close: true);
            var baseline = await SettledDescriptorCountAsync(bot.Id, null, timeout.Token);

            var clients = await Task.WhenAll(Enumerable.Range(0, Connections).Select(i => ConnectAsync(socket, "c" + i.ToString(CultureInfo.InvariantCulture))));
            await Task.WhenAll(clients.Select((client, i) => EchoAsync(client, "c" + i.ToString(CultureInfo.InvariantCulture), close: false)));
            var during = CountDescriptors(bot.Id);
            foreach (var client in clients)
            {
                client.Dispose();
            }

            var after = await SettledDescriptorCountAsync(bot.Id, baseline, timeout.Token);

            await TestContext.Out.WriteLineAsync($"/proc/{bot.Id}/fd: {baseline} before, {during} with {Connections} connections open, {after} after they closed");
            Assert.That(during, Is.GreaterThan(baseline + Connections), "every connection held descriptors while open");
            Assert.That(after, Is.LessThanOrEqualTo(baseline + 2), $"descriptors: {baseline} before, {during} with {Connections} open, {after} after");
            Assert.That(echo.Connections, Is.EqualTo(Connections + 1));

            var kill = await SshToolRunner.RunAsync("/bin/kill", ["-TERM", bot.Id.ToString(CultureInfo.InvariantCulture)]);
            Assert.That(kill.ExitCode, Is.Zero, kill.ToString());
            await bot.WaitForExitAsync(timeout.Token);
            Assert.That(bot.ExitCode, Is.Zero, await stderr);
            Assert.That(File.Exists(socket), Is.False, "the sockets are removed on stop");
            Assert.That(File.Exists(Path.Combine(directory, "ssh_config")), Is.True, "ssh_config stays");
        }
        finally
        {
            if (!bot.HasExited)
            {
                bot.Kill();
            }
        }
    }

    private static async Task<Socket> ConnectAsync(string path, string payload)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        await socket.SendAsync(Encoding.UTF8.GetBytes("echo:7\0" + payload + "\n"), SocketFlags.None);
        return socket;
    }

    private static async Task EchoAsync(Socket socket, string payload, bool close)
    {
        var expected = Encoding.UTF8.GetBytes(payload + "\n");
        var buffer = new byte[expected.Length];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.That(n, Is.Positive, $"the echo of {payload} ended early");
            read += n;
        }

        Assert.That(buffer, Is.EqualTo(expected));
        if (close)
        {
            socket.Dispose();
        }
    }

    private static int CountDescriptors(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    /// <summary>The count once it stops changing (connections close asynchronously), or once it is back to <paramref name="target"/>.</summary>
    private static async Task<int> SettledDescriptorCountAsync(int pid, int? target, CancellationToken cancellationToken)
    {
        var last = CountDescriptors(pid);
        var stable = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, cancellationToken);
            var now = CountDescriptors(pid);
            stable = now == last ? stable + 1 : 0;
            last = now;
            if ((target is { } t && now <= t) || (target is null && stable >= 10))
            {
                break;
            }
        }

        return last;
    }
}
