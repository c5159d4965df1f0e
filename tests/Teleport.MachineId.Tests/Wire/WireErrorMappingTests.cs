using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>Statuses injected by the emulator over real sockets reach callers as the public exception types.</summary>
public sealed class WireErrorMappingTests
{
    private static readonly (StatusCode Status, Type Expected)[] GrpcCases =
    [
        (StatusCode.PermissionDenied, typeof(TeleportAccessDeniedException)),
        (StatusCode.Unauthenticated, typeof(TeleportAccessDeniedException)),
        (StatusCode.NotFound, typeof(TeleportNotFoundException)),
        (StatusCode.Unavailable, typeof(TeleportConnectionException)),
        (StatusCode.ResourceExhausted, typeof(TeleportConnectionException)),
        (StatusCode.Unimplemented, typeof(TeleportProtocolException)),
        (StatusCode.Internal, typeof(TeleportProtocolException)),
        (StatusCode.InvalidArgument, typeof(TeleportException)),
        (StatusCode.AlreadyExists, typeof(TeleportException)),
        (StatusCode.FailedPrecondition, typeof(TeleportException)),
    ];

    [Test]
    public async Task Each_injected_gRPC_status_of_GenerateUserCerts_maps_to_its_exception_type()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, holder) = await cluster.JoinedProxyClientAsync();
        await using var _ = client;
        using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
        var request = UserCertificateRequest.ForImpersonation(holder.Current!.Tls.Username, key.PublicKey, DateTimeOffset.UtcNow.AddHours(1),
            [WireTestCluster.AccessRole], cluster.ClusterName);

        foreach (var (status, expected) in GrpcCases)
        {
            cluster.Emulator.Faults.FailNextCalls(1, status, "GenerateUserCerts", $"injected {status}");
            var error = Assert.CatchAsync<TeleportException>(() => client.GenerateUserCertsAsync(request), status.ToString());
            Assert.That(error!.GetType(), Is.EqualTo(expected), status.ToString());
            Assert.That(error.Message, Does.Contain($"injected {status}"));
            Assert.That(error.Message, Does.Contain("GenerateUserCerts on Auth via TLS-routing proxy"));
        }

        Assert.That((await client.GenerateUserCertsAsync(request)).TlsCertificate, Is.Not.Null, "the client recovers after the faults");
    }

    [TestCase(StatusCode.Unavailable, typeof(TeleportConnectionException))]
    [TestCase(StatusCode.PermissionDenied, typeof(TeleportAccessDeniedException))]
    [TestCase(StatusCode.NotFound, typeof(TeleportNotFoundException))]
    [TestCase(StatusCode.InvalidArgument, typeof(TeleportException))]
    public async Task Injected_web_API_errors_map_through_their_HTTP_status(StatusCode status, Type expected)
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        cluster.Emulator.Faults.FailNextCalls(1, status, "/webapi/find", "proxy unhappy");

        var error = Assert.CatchAsync<TeleportException>(() => client.DiscoverAsync());

        Assert.That(error!.GetType(), Is.EqualTo(expected));
        Assert.That(error.Message, Does.Contain("proxy unhappy"));
        Assert.That(error.Message, Does.Contain("GET /webapi/find"));
    }

    [Test]
    public async Task Injected_failures_of_the_legacy_HTTP_join_are_join_failures_or_transient()
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = EmulatorJoinApis.Legacy });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        var token = cluster.CreateToken();

        cluster.Emulator.Faults.FailNextCalls(1, StatusCode.Unavailable, "/webapi/host/credentials");
        Assert.ThrowsAsync<TeleportConnectionException>(() => client.JoinWithTokenAsync(token, TimeSpan.FromHours(1)));
        cluster.Emulator.Faults.FailNextCalls(1, StatusCode.InvalidArgument, "/webapi/host/credentials");
        Assert.ThrowsAsync<TeleportJoinException>(() => client.JoinWithTokenAsync(token, TimeSpan.FromHours(1)));

        var result = await client.JoinWithTokenAsync(token, TimeSpan.FromHours(1));
        Assert.That(result.Api.ToString(), Is.EqualTo("LegacyHttp"));
    }

    [Test]
    public async Task Heartbeats_on_a_cluster_without_the_service_are_skipped_not_failed()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;
        cluster.Emulator.Faults.FailNextCalls(1, StatusCode.Unimplemented, "SubmitHeartbeat");

        var accepted = await client.SubmitHeartbeatAsync(new BotHeartbeat { RecordedAt = DateTimeOffset.UtcNow, IsStartup = true });

        Assert.That(accepted, Is.False);
    }

    [Test]
    public async Task A_slow_server_hits_the_call_timeout_as_a_transient_error()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (bot, holder) = await cluster.JoinedProxyClientAsync();
        await bot.DisposeAsync();
        var options = cluster.ProxyOptions();
        await using var client = TeleportWireClient.Create(new WireClientOptions
        {
            ProxyServer = options.ProxyServer,
            ProxyCaCertificates = options.ProxyCaCertificates,
            CallTimeout = TimeSpan.FromSeconds(2),
        }, holder.Provider);
        await client.DiscoverAsync();
        cluster.Emulator.Faults.Latency = TimeSpan.FromSeconds(60);

        var error = Assert.ThrowsAsync<TeleportConnectionException>(() => client.PingAsync());

        Assert.That(error!.Message, Does.Contain("did not answer within"));
    }
}
