using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Wire;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Proto.Transport.V1;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>TransportService on the proxy's SSH-gRPC path (teleport-protocol.md §8b), both listener modes.</summary>
public sealed class TransportTests
{
    [TestCase(true)]
    [TestCase(false)]
    public async Task ProxySSH_relays_to_a_TCP_target_first_response_is_details_only(bool tlsRouting)
    {
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = tlsRouting });
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]);
        using var channel = EmulatorClient.SshGrpc(cluster, output.ClientCertificate);
        using var call = new TransportService.TransportServiceClient(channel).ProxySSH(EmulatorClient.Options());

        // tbot strips the cluster suffix itself; the proxy does too.
        await call.RequestStream.WriteAsync(new ProxySSHRequest { DialTarget = new TargetHost { HostPort = "echo." + cluster.ClusterName + ":3022", Cluster = cluster.ClusterName } });
        Assert.That(await call.ResponseStream.MoveNext(), Is.True);
        var first = call.ResponseStream.Current;
        Assert.That(first.Details, Is.Not.Null);
        Assert.That(first.FrameCase, Is.EqualTo(ProxySSHResponse.FrameOneofCase.None));

        // 1 MiB through the stream both ways: the relay keeps up without unbounded buffering.
        var payload = new byte[1024 * 1024];
        Random.Shared.NextBytes(payload);
        var send = Task.Run(async () =>
        {
            for (var offset = 0; offset < payload.Length; offset += 16 * 1024)
            {
                await call.RequestStream.WriteAsync(new ProxySSHRequest { Ssh = new Frame { Payload = ByteString.CopyFrom(payload, offset, 16 * 1024) } });
            }

            await call.RequestStream.CompleteAsync();
        });
        var received = new MemoryStream();
        while (await call.ResponseStream.MoveNext())
        {
            received.Write(call.ResponseStream.Current.Ssh.Payload.Span);
        }

        await send;
        Assert.That(received.ToArray(), Is.EqualTo(payload));
    }

    [Test]
    public async Task ProxySSH_checks_node_labels()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        cluster.UpsertRole(new EmulatorRole
        {
            Name = "prod-only",
            Logins = ["root"],
            NodeLabels = new Dictionary<string, IReadOnlyList<string>> { ["env"] = ["prod"] },
        });
        cluster.AddBotRoles(EmulatorScenario.BotName, "prod-only");
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.AddTcpTarget(new EmulatorTcpTarget { Name = "dev-box", Address = echo.Address, Labels = new Dictionary<string, string> { ["env"] = "dev" } });
        cluster.AddTcpTarget(new EmulatorTcpTarget { Name = "prod-box", Address = echo.Address, Labels = new Dictionary<string, string> { ["env"] = "prod" } });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, ["prod-only"]);
        using var channel = EmulatorClient.SshGrpc(cluster, output.ClientCertificate);

        Assert.That(await DialAsync(channel, "prod-box:22"), Is.EqualTo(StatusCode.OK));
        Assert.That(await DialAsync(channel, "dev-box:22"), Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(await DialAsync(channel, "nowhere:22"), Is.EqualTo(StatusCode.NotFound));
        Assert.That(await DialAsync(channel, "prod-box:22", cluster: "leaf.example.com"), Is.EqualTo(StatusCode.NotFound));
    }

    [Test]
    public async Task ProxySSH_refuses_a_locked_identity_and_accepts_it_again_after_unlock()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]);
        using var channel = EmulatorClient.SshGrpc(cluster, output.ClientCertificate);

        var @lock = cluster.LockBot(EmulatorScenario.BotName, "maintenance");
        var locked = await DialAsync(channel, "echo:0");
        Assert.That(cluster.RemoveLock(@lock.Name), Is.True);
        var unlocked = await DialAsync(channel, "echo:0");

        Assert.That(locked, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(unlocked, Is.EqualTo(StatusCode.OK));
        Assert.That(cluster.Locks, Is.Empty);
    }

    [Test]
    public async Task A_dial_failure_is_Unavailable()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        cluster.AddNode(new EmulatorNode { Name = "gone", Address = "127.0.0.1:1" });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]);
        using var channel = EmulatorClient.SshGrpc(cluster, output.ClientCertificate);

        Assert.That(await DialAsync(channel, "gone:22"), Is.EqualTo(StatusCode.Unavailable));
    }

    [Test]
    public async Task GetClusterDetails_answers_an_authenticated_caller()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.SshGrpc(cluster, bot.ClientCertificate);

        var details = await new TransportService.TransportServiceClient(channel).GetClusterDetailsAsync(new GetClusterDetailsRequest(), EmulatorClient.Options());

        Assert.That(details.Details.FipsEnabled, Is.False);
    }

    [Test]
    public async Task Without_TLS_routing_Auth_is_reached_through_ProxyCluster()
    {
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = false });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var auth = EmulatorClient.AuthViaProxyCluster(cluster, bot.ClientCertificate, out var transport);
        using (transport)
        {
            var client = new AuthService.AuthServiceClient(auth);

            var ping = await client.PingAsync(new PingRequest(), EmulatorClient.Options());
            var role = await client.GetRoleAsync(new GetRoleRequest { Name = "bot-robot" }, EmulatorClient.Options());

            Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName));
            Assert.That(role.Metadata.Name, Is.EqualTo("bot-robot"), "the client certificate reached Auth end to end");
        }
    }

    [Test]
    public async Task Locks_deny_Auth_calls_until_removed_or_expired()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        using var bot = await EmulatorScenario.JoinAsync(cluster);

        cluster.LockBot(EmulatorScenario.BotName, "security review", TimeSpan.FromMinutes(5));
        var denied = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]));
        clock.Advance(TimeSpan.FromMinutes(6));
        using var allowed = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]);

        Assert.That(denied!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(denied.Status.Detail, Is.EqualTo("security review"));
        Assert.That(allowed.Tls.Roles, Is.EqualTo(new[] { "access" }));
        Assert.That(cluster.AuditEvents.Any(e => e.Type == "lock.created"), Is.True);
    }

    [Test]
    public async Task A_bot_instance_lock_denies_only_that_instance()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var first = await EmulatorScenario.JoinAsync(cluster);
        using var second = await EmulatorScenario.JoinAsync(cluster);

        cluster.AddLock(new EmulatorLock { BotInstanceId = first.Tls.BotInstanceId, Message = "instance compromised" });

        Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.RenewAsync(cluster, first));
        using var renewed = await EmulatorScenario.RenewAsync(cluster, second);
        Assert.That(renewed.Tls.Generation, Is.EqualTo(2));
    }

    private static async Task<StatusCode> DialAsync(Grpc.Net.Client.GrpcChannel channel, string hostPort, string cluster = "")
    {
        using var call = new TransportService.TransportServiceClient(channel).ProxySSH(EmulatorClient.Options());
        try
        {
            await call.RequestStream.WriteAsync(new ProxySSHRequest { DialTarget = new TargetHost { HostPort = hostPort, Cluster = cluster } });
            if (!await call.ResponseStream.MoveNext())
            {
                return StatusCode.Unknown;
            }

            await call.RequestStream.WriteAsync(new ProxySSHRequest { Ssh = new Frame { Payload = ByteString.CopyFrom("ping"u8) } });
            Assert.That(await call.ResponseStream.MoveNext(), Is.True);
            Assert.That(Encoding.ASCII.GetString(call.ResponseStream.Current.Ssh.Payload.Span), Is.EqualTo("ping"));
            await call.RequestStream.CompleteAsync();
            while (await call.ResponseStream.MoveNext())
            {
            }

            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}
