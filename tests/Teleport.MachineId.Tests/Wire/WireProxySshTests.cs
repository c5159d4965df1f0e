using System.Diagnostics;
using System.Security.Cryptography;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// <c>TransportService.ProxySSH</c> as a .NET stream, over real sockets through the emulator's proxy
/// to plain TCP targets: integrity of 64 MiB, backpressure both ways, cancellation, disposal, errors.
/// </summary>
public sealed class WireProxySshTests
{
    [TestCase(true)]
    [TestCase(false)]
    public async Task Sixty_four_MiB_round_trip_to_an_echo_target_without_corruption(bool tlsRouting)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = tlsRouting });
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var (client, _) = await cluster.ImpersonatedProxyClientAsync();
        await using var _1 = client;
        await using var stream = await client.OpenSshAsync("echo:22");
        const int total = 64 * 1024 * 1024;

        var writer = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var random = new Random(1234);
            var buffer = new byte[100_000];
            var left = total;
            while (left > 0)
            {
                var count = Math.Min(left, random.Next(1, buffer.Length));
                random.NextBytes(buffer.AsSpan(0, count));
                hash.AppendData(buffer, 0, count);
                await stream.WriteAsync(buffer.AsMemory(0, count));
                left -= count;
            }

            await stream.ShutdownWriteAsync();
            return hash.GetHashAndReset();
        });

        using var received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var readBuffer = new byte[48 * 1024];
        long bytes = 0;
        int read;
        while ((read = await stream.ReadAsync(readBuffer)) > 0)
        {
            received.AppendData(readBuffer, 0, read);
            bytes += read;
            Assert.That(stream.BufferedBytes, Is.LessThanOrEqualTo(client.Options.TransportFrameSize), "never more than one frame held");
        }

        var sentHash = await writer;
        Assert.That(bytes, Is.EqualTo(total));
        Assert.That(received.GetHashAndReset(), Is.EqualTo(sentHash));
        Assert.That(stream.BytesWritten, Is.EqualTo(total));
        Assert.That(stream.BytesRead, Is.EqualTo(total));
        Assert.That(stream.FipsEnabled, Is.False);
    }

    [Test]
    public async Task A_slow_reader_holds_the_sender_back()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var source = new TcpTestTarget(TcpTargetBehavior.Source);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "source", Address = source.Address });
        var (client, _) = await cluster.ImpersonatedProxyClientAsync();
        await using var _1 = client;
        await using var stream = await client.OpenSshAsync("source:22");

        var first = new byte[1024];
        Assert.That(await stream.ReadAsync(first), Is.GreaterThan(0));

        // The reader stops here. Every hop (TCP, the proxy's relay, HTTP/2 flow control, this
        // stream) buffers a bounded amount, so the target's writes must stall.
        var stalledAt = await WaitUntilStalledAsync(() => source.BytesSent);
        Assert.That(stalledAt, Is.LessThan(48L * 1024 * 1024), "bytes the target could push while nobody read");
        // One received frame at most: the emulator's relay sends up to 64 KiB per frame (a read of
        // what the target already wrote; an SSH packet is a little over 32 KiB).
        Assert.That(stream.BufferedBytes, Is.LessThanOrEqualTo(64 * 1024), "this stream holds at most one frame");
        TestContext.Out.WriteLine($"target stalled after {stalledAt / 1024} KiB with the client reading nothing");

        // Reading again lets it continue.
        var buffer = new byte[64 * 1024];
        long drained = 0;
        while (drained < stalledAt + (1024 * 1024))
        {
            drained += await stream.ReadAsync(buffer);
        }

        Assert.That(source.BytesSent, Is.GreaterThan(stalledAt));
    }

    [Test]
    public async Task A_target_that_does_not_read_makes_writes_wait_instead_of_buffering()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var sink = new TcpTestTarget(TcpTargetBehavior.Sink);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "sink", Address = sink.Address });
        var (client, _) = await cluster.ImpersonatedProxyClientAsync();
        await using var _1 = client;
        var stream = await client.OpenSshAsync("sink:22");
        using var stop = new CancellationTokenSource();
        long accepted = 0;
        var writer = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            while (true)
            {
                await stream.WriteAsync(buffer, stop.Token);
                Interlocked.Add(ref accepted, buffer.Length);
            }
        });

        var stalledAt = await WaitUntilStalledAsync(() => Interlocked.Read(ref accepted));
        TestContext.Out.WriteLine($"writes stalled after {stalledAt / 1024} KiB accepted");
        Assert.That(stalledAt, Is.LessThan(48L * 1024 * 1024));

        // Cancelling the blocked write ends the call.
        await stop.CancelAsync();
        Assert.CatchAsync<OperationCanceledException>(() => writer);
        await stream.DisposeAsync();
        sink.StartDraining();
        await sink.ConnectionClosed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(sink.BytesReceived, Is.LessThanOrEqualTo(Interlocked.Read(ref accepted) + (64 * 1024)), "nothing beyond what the writes handed over");
    }

    [Test]
    public async Task Cancelling_a_read_closes_the_call_and_the_target_connection()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var (client, _) = await cluster.ImpersonatedProxyClientAsync();
        await using var _1 = client;
        await using var stream = await client.OpenSshAsync("echo");
        using var cancel = new CancellationTokenSource();

        var pending = stream.ReadAsync(new byte[16], cancel.Token).AsTask();
        await cancel.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(() => pending);
        await echo.ConnectionClosed.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task Half_close_delivers_the_end_of_stream_and_the_rest_of_the_echo()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var (client, _) = await cluster.ImpersonatedProxyClientAsync();
        await using var _1 = client;
        await using var stream = await client.OpenSshAsync($"echo.{cluster.ClusterName}:3022");

        await stream.WriteAsync("SSH-2.0-test\r\n"u8.ToArray());
        await stream.FlushAsync();
        await stream.ShutdownWriteAsync();
        using var collected = new MemoryStream();
        await stream.CopyToAsync(collected);

        Assert.That(collected.ToArray(), Is.EqualTo("SSH-2.0-test\r\n"u8.ToArray()));
        Assert.ThrowsAsync<IOException>(async () => await stream.WriteAsync(new byte[1]));
    }

    [Test]
    public async Task Disposing_the_stream_closes_the_target_connection()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var (client, _) = await cluster.ImpersonatedProxyClientAsync();
        await using var _1 = client;
        var stream = await client.OpenSshAsync("echo:22");
        await stream.WriteAsync(new byte[] { 1, 2, 3 });

        await stream.DisposeAsync();

        await echo.ConnectionClosed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Throws<ObjectDisposedException>(() => stream.ReadByte());
    }

    [Test]
    public async Task Unknown_target_is_not_found_and_a_target_outside_the_roles_is_denied()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.Emulator.UpsertRole(new EmulatorRole { Name = "prod-only", Logins = ["root"], NodeLabels = new Dictionary<string, IReadOnlyList<string>> { ["env"] = ["prod"] } });
        cluster.Emulator.AddBot(new EmulatorBot { Name = "limited", Roles = ["prod-only"] });
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "dev-box", Address = echo.Address, Labels = new Dictionary<string, string> { ["env"] = "dev" } });
        var holder = new IdentityHolder();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), holder.Provider);
        holder.Current = (await client.JoinWithTokenAsync(cluster.Emulator.CreateJoinToken("limited").Name, TimeSpan.FromHours(1))).CreateIdentity();

        var missing = Assert.ThrowsAsync<TeleportNotFoundException>(() => client.OpenSshAsync("nowhere:22"));
        var denied = Assert.ThrowsAsync<TeleportAccessDeniedException>(() => client.OpenSshAsync("dev-box:22"));

        Assert.That(missing!.Message, Does.Contain("nowhere"));
        Assert.That(denied!.Message, Does.Contain("dev-box"));
        Assert.That(echo.Connections, Is.Zero);
    }

    [Test]
    public async Task With_a_direct_Auth_address_the_proxy_is_found_through_Auths_Ping()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var (proxyClient, output) = await cluster.ImpersonatedProxyClientAsync();
        await proxyClient.DisposeAsync();
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()), output.Provider);

        await using var stream = await client.OpenSshAsync("echo:22");
        await stream.WriteAsync("ping"u8.ToArray());
        var buffer = new byte[4];
        await stream.ReadExactlyAsync(buffer);

        Assert.That(buffer, Is.EqualTo("ping"u8.ToArray()));
        Assert.That((await client.DiscoverAsync()).ProxyAddress, Is.EqualTo(cluster.ProxyAddress));
    }

    [Test]
    public async Task GetClusterDetails_answers_on_the_transport_path()
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = false });
        var (client, _) = await cluster.ImpersonatedProxyClientAsync();
        await using var _1 = client;

        Assert.That(await client.GetClusterDetailsAsync(), Is.False);
    }

    /// <summary>Polls a counter until it has not moved for a while; fails if it keeps moving for a minute.</summary>
    internal static async Task<long> WaitUntilStalledAsync(Func<long> counter)
    {
        var quiet = TimeSpan.FromSeconds(1);
        var last = counter();
        var sinceChange = Stopwatch.StartNew();
        var overall = Stopwatch.StartNew();
        while (overall.Elapsed < TimeSpan.FromMinutes(1))
        {
            await Task.Delay(100);
            var now = counter();
            if (now != last)
            {
                last = now;
                sinceChange.Restart();
            }
            else if (sinceChange.Elapsed >= quiet)
            {
                return now;
            }
        }

        Assert.Fail($"The counter kept moving for a minute (at {last} bytes): nothing holds the sender back.");
        return last;
    }
}
