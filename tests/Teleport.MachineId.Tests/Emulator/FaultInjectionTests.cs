using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Proto.Legacy.Types;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>Injected faults: Auth offline/online, failing calls, latency, clock skew.</summary>
public sealed class FaultInjectionTests
{
    [Test]
    public async Task Auth_offline_refuses_new_connections_breaks_streams_and_recovers()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var watchChannel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var watch = new Watch { Kinds = { new WatchKind { Kind = "cert_authority" } } };
        using var stream = new AuthService.AuthServiceClient(watchChannel).WatchEvents(watch, EmulatorClient.Options(cancellationToken: timeout.Token));
        Assert.That(await stream.ResponseStream.MoveNext(timeout.Token), Is.True, "OpInit");

        cluster.Faults.TakeAuthOffline();

        var broken = Assert.ThrowsAsync<RpcException>(async () => await stream.ResponseStream.MoveNext(timeout.Token));
        Assert.That(broken!.StatusCode, Is.Not.EqualTo(StatusCode.OK), "the existing stream is broken");
        using (var fresh = EmulatorClient.AuthViaProxy(cluster))
        {
            var refused = Assert.ThrowsAsync<RpcException>(async () => await new AuthService.AuthServiceClient(fresh).PingAsync(new PingRequest(), EmulatorClient.Options()));
            Assert.That(refused!.StatusCode, Is.EqualTo(StatusCode.Unavailable).Or.EqualTo(StatusCode.Internal));
        }

        using (var proxy = EmulatorClient.ProxyGrpc(cluster))
        {
            var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
            using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
            var join = Assert.ThrowsAsync<RpcException>(async () =>
                await new JoinService.JoinServiceClient(proxy).RegisterUsingTokenAsync(EmulatorScenario.JoinRequest(key, token.Name), EmulatorClient.Options()));
            Assert.That(join!.StatusCode, Is.EqualTo(StatusCode.Unavailable), "the proxy cannot reach Auth");
        }

        cluster.Faults.BringAuthOnline();
        using var again = EmulatorClient.AuthViaProxy(cluster);
        var ping = await new AuthService.AuthServiceClient(again).PingAsync(new PingRequest(), EmulatorClient.Options());
        Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName));
        Assert.That(cluster.Faults.IsAuthOnline, Is.True);
    }

    [Test]
    public async Task The_next_N_calls_of_a_method_fail_with_the_chosen_status()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        cluster.Faults.FailNextCalls(2, StatusCode.Unavailable, "GenerateUserCerts", "auth is restarting");
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);

        var ping = await new AuthService.AuthServiceClient(channel).PingAsync(new PingRequest(), EmulatorClient.Options());
        var first = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]));
        var second = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]));
        using var third = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]);

        Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName), "other methods are not affected");
        Assert.That(first!.StatusCode, Is.EqualTo(StatusCode.Unavailable));
        Assert.That(first.Status.Detail, Is.EqualTo("auth is restarting"));
        Assert.That(second!.StatusCode, Is.EqualTo(StatusCode.Unavailable));
        Assert.That(third.Tls.Roles, Is.EqualTo(new[] { "access" }));
    }

    [Test]
    public async Task Web_requests_can_fail_too_with_the_mapped_HTTP_status()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.Faults.FailNextCalls(1, StatusCode.ResourceExhausted, "/webapi/find");
        using var http = EmulatorClient.Web(cluster);

        using var failed = await http.GetAsync("v1/webapi/find");
        using var ok = await http.GetAsync("webapi/find");

        Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Latency_delays_calls_past_a_short_deadline()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.Faults.Latency = TimeSpan.FromSeconds(10);
        using var channel = EmulatorClient.AuthViaProxy(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () => await new AuthService.AuthServiceClient(channel)
            .PingAsync(new PingRequest(), new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(300))));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.DeadlineExceeded));
        cluster.Faults.Reset();
        Assert.That(cluster.Faults.Latency, Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public async Task Clock_skew_moves_the_servers_notion_of_now()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName, TimeSpan.FromHours(1));

        cluster.Faults.ClockSkew = TimeSpan.FromHours(2);

        Assert.That(cluster.JoinTokenExists(token.Name), Is.False, "the token expired on the skewed clock");
        Assert.That(cluster.TimeProvider.GetUtcNow() - DateTimeOffset.UtcNow, Is.GreaterThan(TimeSpan.FromMinutes(119)));
        cluster.Faults.ClockSkew = TimeSpan.Zero;
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        cluster.Faults.ClockSkew = TimeSpan.FromHours(3);
        var expired = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.RenewAsync(cluster, bot));
        Assert.That(expired!.StatusCode, Is.Not.EqualTo(StatusCode.OK), "the server considers the 1h identity expired");
    }

    [Test]
    public void Invalid_fault_arguments_are_refused()
    {
        Assert.That(async () =>
        {
            await using var cluster = await TeleportEmulator.StartAsync();
            cluster.Faults.FailNextCalls(0, StatusCode.Internal);
        }, Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
