using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire.Proto.ClusterConfig.V1;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Proto.Legacy.Types;
using Teleport.MachineId.Wire.Proto.MachineId.V1;
using Teleport.MachineId.Wire.Proto.Trust.V1;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>TrustService, GetRole, GetAuthPreference, heartbeats and WatchEvents.</summary>
public sealed class AuthReadServicesTests
{
    [Test]
    public async Task TrustService_returns_CAs_without_private_keys()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        var trust = new TrustService.TrustServiceClient(channel);

        var hosts = await trust.GetCertAuthoritiesAsync(new GetCertAuthoritiesRequest { Type = "host" }, EmulatorClient.Options());
        var user = await trust.GetCertAuthorityAsync(new GetCertAuthorityRequest { Type = "user", Domain = cluster.ClusterName }, EmulatorClient.Options());
        var jwt = await trust.GetCertAuthoritiesAsync(new GetCertAuthoritiesRequest { Type = "jwt" }, EmulatorClient.Options());

        var host = hosts.CertAuthoritiesV2.Single();
        Assert.That(host.Kind, Is.EqualTo("cert_authority"));
        Assert.That(host.SubKind, Is.EqualTo("host"));
        Assert.That(host.Version, Is.EqualTo("v2"));
        Assert.That(host.Metadata.Name, Is.EqualTo(cluster.ClusterName));
        Assert.That(host.Spec.Type, Is.EqualTo("host"));
        Assert.That(host.Spec.ClusterName, Is.EqualTo(cluster.ClusterName));
        Assert.That(host.Spec.ActiveKeys.TLS.Single().Cert.ToStringUtf8(), Is.EqualTo(cluster.GetCertificateAuthorityPem(CertificateAuthorityType.Host)));
        Assert.That(PublicKeyInfoOf(host.Spec.ActiveKeys.SSH.Single()), Is.EqualTo(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host)[0]));
        foreach (var ca in new[] { host, user })
        {
            Assert.That(ca.Spec.ActiveKeys.TLS.All(k => k.Key.IsEmpty), Is.True, "no TLS private keys");
            Assert.That(ca.Spec.ActiveKeys.SSH.All(k => k.PrivateKey.IsEmpty), Is.True, "no SSH private keys");
        }

        Assert.That(jwt.CertAuthoritiesV2, Is.Empty);
    }

    [Test]
    public async Task TrustService_refuses_keys_unknown_domains_and_unauthenticated_callers()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        using var anonymous = EmulatorClient.AuthViaProxy(cluster);
        var trust = new TrustService.TrustServiceClient(channel);

        var keys = Assert.ThrowsAsync<RpcException>(async () =>
            await trust.GetCertAuthoritiesAsync(new GetCertAuthoritiesRequest { Type = "user", IncludeKey = true }, EmulatorClient.Options()));
        var domain = Assert.ThrowsAsync<RpcException>(async () =>
            await trust.GetCertAuthorityAsync(new GetCertAuthorityRequest { Type = "host", Domain = "leaf.example.com" }, EmulatorClient.Options()));
        var nobody = Assert.ThrowsAsync<RpcException>(async () =>
            await new TrustService.TrustServiceClient(anonymous).GetCertAuthoritiesAsync(new GetCertAuthoritiesRequest { Type = "host" }, EmulatorClient.Options()));

        Assert.That(keys!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(domain!.StatusCode, Is.EqualTo(StatusCode.NotFound));
        Assert.That(nobody!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
    }

    [Test]
    public async Task GetRole_returns_the_generated_bot_role()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        var auth = new AuthService.AuthServiceClient(channel);

        var role = await auth.GetRoleAsync(new GetRoleRequest { Name = "bot-robot" }, EmulatorClient.Options());
        var other = Assert.ThrowsAsync<RpcException>(async () => await auth.GetRoleAsync(new GetRoleRequest { Name = "access" }, EmulatorClient.Options()));

        Assert.That(role.Metadata.Name, Is.EqualTo("bot-robot"));
        Assert.That(role.Metadata.Labels["teleport.internal/bot"], Is.EqualTo("robot"));
        Assert.That(role.Spec.Allow.Impersonate.Roles, Is.EqualTo(new[] { "access" }));
        Assert.That(role.Spec.Options.MaxSessionTTL, Is.EqualTo(12L * 3600 * 1_000_000_000), "12h in nanoseconds");
        Assert.That(role.Spec.Allow.Rules.Single().Resources, Is.EqualTo(new[] { "cert_authority" }));
        Assert.That(role.Spec.Allow.Rules.Single().Verbs, Is.EqualTo(new[] { "readnosecrets" }));
        Assert.That(other!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "a bot identity does not hold the access role");
    }

    [Test]
    public async Task GetAuthPreference_reports_the_suite()
    {
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { SignatureAlgorithmSuite = MachineId.Crypto.SignatureAlgorithmSuite.HsmV1 });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);

        var preference = await new ClusterConfigService.ClusterConfigServiceClient(channel).GetAuthPreferenceAsync(new GetAuthPreferenceRequest(), EmulatorClient.Options());

        Assert.That(preference.Spec.SignatureAlgorithmSuite, Is.EqualTo(SignatureAlgorithmSuite.HsmV1));
    }

    [Test]
    public async Task Heartbeats_are_recorded_against_the_callers_bot_instance()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        var service = new BotInstanceService.BotInstanceServiceClient(channel);

        await service.SubmitHeartbeatAsync(new SubmitHeartbeatRequest
        {
            Heartbeat = new BotInstanceStatusHeartbeat
            {
                IsStartup = true,
                Version = "18.0.0",
                Hostname = "ci-runner",
                JoinMethod = "token",
                RecordedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            },
        }, EmulatorClient.Options());
        var empty = Assert.ThrowsAsync<RpcException>(async () => await service.SubmitHeartbeatAsync(new SubmitHeartbeatRequest(), EmulatorClient.Options()));
        var instance = await service.GetBotInstanceAsync(new GetBotInstanceRequest { BotName = "robot", InstanceId = bot.Tls.BotInstanceId }, EmulatorClient.Options());

        var heartbeat = cluster.BotInstances.Single().Heartbeats.Single();
        Assert.That(heartbeat.IsStartup, Is.True);
        Assert.That(heartbeat.Hostname, Is.EqualTo("ci-runner"));
        Assert.That(heartbeat.Version, Is.EqualTo("18.0.0"));
        Assert.That(empty!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
        Assert.That(instance.Status.InitialHeartbeat.Hostname, Is.EqualTo("ci-runner"));
        Assert.That(instance.Status.LatestAuthentications.Single().Generation, Is.EqualTo(1));
    }

    [Test]
    public async Task WatchEvents_sends_OpInit_then_CA_rotation_PUTs_matching_the_filter()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var watch = new Watch();
        watch.Kinds.Add(new WatchKind
        {
            Kind = "cert_authority",
            Filter = { ["host"] = cluster.ClusterName, ["user"] = cluster.ClusterName },
        });

        using var stream = new AuthService.AuthServiceClient(channel).WatchEvents(watch, EmulatorClient.Options(cancellationToken: timeout.Token));
        Assert.That(await stream.ResponseStream.MoveNext(timeout.Token), Is.True);
        Assert.That(stream.ResponseStream.Current.Type, Is.EqualTo(Operation.Init));

        await cluster.AdvanceRotationAsync(CertificateAuthorityType.Database); // filtered out
        await cluster.AdvanceRotationAsync(CertificateAuthorityType.User);
        Assert.That(await stream.ResponseStream.MoveNext(timeout.Token), Is.True);
        var put = stream.ResponseStream.Current;

        Assert.That(put.Type, Is.EqualTo(Operation.Put));
        Assert.That(put.CertAuthority.Spec.Type, Is.EqualTo("user"));
        Assert.That(put.CertAuthority.Spec.Rotation.Phase, Is.EqualTo("init"));
        Assert.That(put.CertAuthority.Spec.AdditionalTrustedKeys.TLS, Has.Count.EqualTo(1));
    }

    private static MachineId.Crypto.PublicKeyInfo PublicKeyInfoOf(SSHKeyPair pair) =>
        MachineId.Crypto.PublicKeyInfo.ParseAuthorizedKey(pair.PublicKey.ToStringUtf8());
}
