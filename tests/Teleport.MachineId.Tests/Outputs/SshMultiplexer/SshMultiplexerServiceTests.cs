using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Wire;

namespace Teleport.MachineId.Tests.Outputs.SshMultiplexer;

/// <summary>
/// The multiplexer service against the emulator and an echo service registered as a node (no sshd
/// needed): upstream client rotation, its sockets' life cycle, long directory paths, and the
/// descriptor-passing helper.
/// </summary>
[NonParallelizable]
public sealed class SshMultiplexerServiceTests
{
    private TeleportEmulator _cluster = null!;
    private TcpTestTarget _echo = null!;
    private BotIdentityProvider _bot = null!;
    private TeleportSshCertificateSigner _signer = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (!UnixSocketRights.IsSupported)
        {
            Assert.Ignore("Descriptor passing is implemented for 64-bit Linux.");
        }

        _cluster = await TeleportEmulator.StartAsync();
        _cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        _cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        _echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        _cluster.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = _echo.Address });
        _bot = BotIdentityProvider.Create(NodeEnvironment.BotOptionsFor(_cluster, _cluster.CreateJoinToken("robot").Name));
        await _bot.StartAsync();
        _signer = new TeleportSshCertificateSigner(_bot, NodeEnvironment.BotOptionsFor(_cluster, "unused"));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_signer is not null)
        {
            await _signer.DisposeAsync();
            await _bot.DisposeAsync();
            await _echo.DisposeAsync();
            await _cluster.DisposeAsync();
        }
    }

    [Test]
    public async Task Connections_opened_through_rotated_upstream_clients_keep_working_until_closed()
    {
        using var work = new SshTestDirectory("tmid-mux-svc");
        await using var mux = await StartMultiplexerAsync(Path.Combine(work.Path, "mux"), o => o.ConnectionsPerUpstreamClient = 2);

        var streams = new List<Stream>();
        for (var i = 0; i < 5; i++)
        {
            streams.Add(await ConnectEchoAsync(mux));
        }

        Assert.That(mux.UpstreamClientsCreated, Is.EqualTo(3), "a fresh upstream client every 2 connections");
        Assert.That(mux.ActiveConnections, Is.EqualTo(5));
        for (var i = 0; i < streams.Count; i++)
        {
            Assert.That(await EchoAsync(streams[i], $"stream {i}"), Is.EqualTo($"stream {i}"), "streams of retired clients still work");
        }

        foreach (var stream in streams)
        {
            await stream.DisposeAsync();
        }

        await WaitForAsync(() => mux.ActiveConnections == 0);
    }

    [Test]
    public async Task Disposing_closes_open_connections_and_removes_the_sockets_but_not_the_files()
    {
        using var work = new SshTestDirectory("tmid-mux-svc");
        var directory = Path.Combine(work.Path, "mux");
        var mux = await StartMultiplexerAsync(directory);
        var stream = await ConnectEchoAsync(mux);

        await mux.DisposeAsync();

        var buffer = new byte[16];
        Assert.That(await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30)), Is.Zero, "the open connection was closed");
        Assert.That(File.Exists(Path.Combine(directory, "v1.sock")), Is.False);
        Assert.That(File.Exists(Path.Combine(directory, "agent.sock")), Is.False);
        Assert.That(File.Exists(Path.Combine(directory, "ssh_config")), Is.True);
        Assert.That(File.Exists(Path.Combine(directory, "known_hosts")), Is.True);
        await stream.DisposeAsync();
    }

    [Test]
    public async Task A_stale_socket_is_replaced_while_a_live_one_or_a_file_in_its_place_is_refused()
    {
        using var work = new SshTestDirectory("tmid-mux-svc");
        var directory = Path.Combine(work.Path, "mux");
        Directory.CreateDirectory(directory);
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // A socket file left behind by a process that died (bound, never unlinked).
            stale.Bind(new UnixDomainSocketEndPoint(Path.Combine(directory, "v1.sock")));
        }

        await using (var first = await StartMultiplexerAsync(directory))
        {
            Assert.That(await EchoAsync(await ConnectEchoAsync(first), "after a stale socket"), Is.EqualTo("after a stale socket"));

            await using var second = SshMultiplexerService.Create(_signer, new SshMultiplexerOptions { DestinationPath = directory, ProxyCommand = { "tbot" } });
            var busy = Assert.ThrowsAsync<DestinationException>(() => second.RenewNowAsync());
            Assert.That(busy!.Failure, Is.EqualTo(DestinationFailure.Locked));
            Assert.That(busy.Message, Does.Contain("served by another process"));
        }

        var file = Path.Combine(work.Path, "file-in-the-way");
        Directory.CreateDirectory(file);
        File.WriteAllText(Path.Combine(file, "agent.sock"), "not a socket");
        await using var blocked = SshMultiplexerService.Create(_signer, new SshMultiplexerOptions { DestinationPath = file, ProxyCommand = { "tbot" } });
        var refused = Assert.ThrowsAsync<DestinationException>(() => blocked.RenewNowAsync());
        Assert.That(refused!.Failure, Is.EqualTo(DestinationFailure.UnexpectedContent));
        Assert.That(File.ReadAllText(Path.Combine(file, "agent.sock")), Is.EqualTo("not a socket"), "nothing that is not a socket is removed");
    }

    [Test]
    public async Task A_directory_path_longer_than_a_unix_socket_address_works()
    {
        using var work = new SshTestDirectory("tmid-mux-svc");
        var directory = Path.Combine(work.Path, new string('d', 60), new string('e', 60));
        Assert.That(Encoding.UTF8.GetByteCount(Path.Combine(directory, "v1.sock")), Is.GreaterThan(108));
        await using var mux = await StartMultiplexerAsync(directory);

        var viaApi = await EchoAsync(await ConnectEchoAsync(mux), "long path");
        var viaHelper = await RunHelperAsync(mux.SocketPath, "echo:7");

        Assert.That(viaApi, Is.EqualTo("long path"));
        Assert.That(viaHelper.Echo, Is.EqualTo("through the helper"), viaHelper.Stderr);
    }

    [Test]
    public async Task The_helper_hands_over_the_connected_socket_and_dial_errors_reach_its_stderr()
    {
        using var work = new SshTestDirectory("tmid-mux-svc");
        await using var mux = await StartMultiplexerAsync(Path.Combine(work.Path, "mux"));

        var ok = await RunHelperAsync(mux.SocketPath, "echo:7");
        var unknown = await RunHelperAsync(mux.SocketPath, "no-such-node:3022");
        var malformed = await RunHelperAsync(mux.SocketPath, "a:1|b|c");
        var notRunning = await RunHelperAsync(Path.Combine(work.Path, "nothing", "v1.sock"), "echo:7");

        Assert.That(ok.ExitCode, Is.Zero, ok.Stderr);
        Assert.That(ok.Echo, Is.EqualTo("through the helper"));
        Assert.That(unknown.ExitCode, Is.Zero, "the helper's job ends when the socket is handed over");
        Assert.That(unknown.Echo, Is.Null, "the multiplexer closed the connection");
        Assert.That(unknown.Stderr, Does.Contain("no-such-node"), "the dial error reached the helper's (ssh's) stderr");
        Assert.That(malformed.Stderr, Does.Contain("expected at most 2 fields, got 3"));
        Assert.That(notRunning.ExitCode, Is.EqualTo(4));
        Assert.That(notRunning.Stderr, Does.Contain("could not connect to the ssh-multiplexer").And.Contain("Is it running?"));
    }

    [Test]
    public async Task The_helper_refuses_a_stdout_that_is_not_a_unix_socket()
    {
        var result = await SshToolRunner.RunAsync(NodeEnvironment.TbotDotnetPath, ["ssh-multiplexer-proxy-command", "/tmp/v1.sock", "node:22"]);

        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.StandardError, Does.Contain("stdout is not a Unix socket").And.Contain("ProxyUseFDPass yes"));
    }

    private async Task<SshMultiplexerService> StartMultiplexerAsync(string directory, Action<SshMultiplexerOptions>? configure = null)
    {
        var options = new SshMultiplexerOptions { DestinationPath = directory, ProxyCommand = { NodeEnvironment.TbotDotnetPath, "ssh-multiplexer-proxy-command" } };
        configure?.Invoke(options);
        var mux = SshMultiplexerService.Create(_signer, options);
        await mux.StartAsync();
        await mux.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return mux;
    }

    private static Task<Stream> ConnectEchoAsync(SshMultiplexerService mux) =>
        SshMultiplexerClient.ConnectAsync(mux.SocketPath, new SshMultiplexerTarget("echo", 7));

    private static async Task<string> EchoAsync(Stream stream, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        await stream.WriteAsync(bytes);
        var buffer = new byte[bytes.Length];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>
    /// Runs <c>tbot-dotnet ssh-multiplexer-proxy-command</c> the way ssh does with <c>ProxyUseFDPass</c>:
    /// stdout is one end of a socket pair, from which the passed descriptor is received and used.
    /// </summary>
    private static async Task<(int ExitCode, string? Echo, string Stderr)> RunHelperAsync(string socket, string target)
    {
        var pair = SocketPair();
        // bash, not sh: dash redirects only single-digit descriptors, and the pair's can be larger.
        var info = new ProcessStartInfo("/bin/bash") { UseShellExecute = false, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec \"$0\" ssh-multiplexer-proxy-command \"$1\" \"$2\" >&{pair.Child}");
        info.ArgumentList.Add(NodeEnvironment.TbotDotnetPath);
        info.ArgumentList.Add(socket);
        info.ArgumentList.Add(target);
        string? echo = null;
        using var helper = Process.Start(info)!;
        var stderr = helper.StandardError.ReadToEndAsync();
        await helper.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        _ = UnixSocketRights.Close(pair.Child);
        try
        {
            var buffer = new byte[1];
            if (helper.ExitCode == 0 && UnixSocketRights.ReceiveWithDescriptor(pair.Parent, buffer, out var passed) == 1 && passed >= 0)
            {
                using var connection = new Socket(new SafeSocketHandle(passed, ownsHandle: true));
                await using var stream = new NetworkStream(connection);
                try
                {
                    echo = await EchoAsync(stream, "through the helper");
                }
                catch (IOException)
                {
                    // Closed by the multiplexer (a dial error): end of stream, or a broken pipe on the write.
                    echo = null;
                }
            }
        }
        finally
        {
            _ = UnixSocketRights.Close(pair.Parent);
        }

        return (helper.ExitCode, echo, await stderr);
    }

    private static (int Parent, int Child) SocketPair()
    {
        // The child end must survive exec (no CLOEXEC); the parent end is ours.
        var fds = new int[2];
        if (NativeSocketPair(1, 1, 0, fds) != 0)
        {
            throw new IOException("socketpair failed");
        }

        return (fds[0], fds[1]);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static extern int NativeSocketPair(int domain, int type, int protocol, int[] fds);

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
