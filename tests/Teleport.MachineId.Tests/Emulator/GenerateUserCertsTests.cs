using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire.Proto.Legacy.Client;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary><c>GenerateUserCerts</c> rules: renewal with the generation check (§4.1), role impersonation (§5.1), TTL caps, routing.</summary>
public sealed class GenerateUserCertsTests
{
    [Test]
    public async Task Renewal_keeps_the_identity_renewable_and_advances_the_generation()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var joined = await EmulatorScenario.JoinAsync(cluster);

        using var second = await EmulatorScenario.RenewAsync(cluster, joined);
        using var third = await EmulatorScenario.RenewAsync(cluster, second);

        Assert.That(second.Tls.Generation, Is.EqualTo(2));
        Assert.That(third.Tls.Generation, Is.EqualTo(3));
        Assert.That(third.Tls.IsRenewable, Is.True);
        Assert.That(third.Tls.BotInstanceId, Is.EqualTo(joined.Tls.BotInstanceId), "same bot instance");
        Assert.That(third.Tls.Roles, Is.EqualTo(new[] { "bot-robot" }));
        Assert.That(third.SshCertificate!.GetTeleportInfo().Generation, Is.EqualTo(3));
        Assert.That(third.SshCertificate.GetTeleportInfo().Renewable, Is.True);
        Assert.That(third.TlsCaPems, Has.Count.EqualTo(2), "renewed bot certificates carry the user and host CAs");
        var instance = cluster.BotInstances.Single();
        Assert.That(instance.Generation, Is.EqualTo(3));
        Assert.That(instance.Authentications.Select(a => a.Generation), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(cluster.IssuedCertificates.Select(c => c.Kind),
            Is.EqualTo(new[] { IssuedCertificateKind.BotJoin, IssuedCertificateKind.BotRenewal, IssuedCertificateKind.BotRenewal }));
    }

    [Test]
    public async Task Renewing_from_an_old_generation_locks_the_bot()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var joined = await EmulatorScenario.JoinAsync(cluster);
        using var renewed = await EmulatorScenario.RenewAsync(cluster, joined);

        // A copy of the generation-1 identity (e.g. stolen) renews again.
        var stale = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.RenewAsync(cluster, joined));

        Assert.That(stale!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(stale.Status.Detail, Does.Contain("generation mismatch"));
        var mismatch = cluster.AuditEvents.Single(e => e.Type == "cert.generation_mismatch");
        Assert.That(mismatch.User, Is.EqualTo("bot-robot"));
        Assert.That(mismatch.Fields["stored_generation"], Is.EqualTo("2"));
        Assert.That(mismatch.Fields["presented_generation"], Is.EqualTo("1"));

        // The legitimate identity is now locked too, on new connections as well.
        var locked = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.RenewAsync(cluster, renewed));
        Assert.That(locked!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(locked.Status.Detail, Does.Contain("locked"));
        var impersonation = Assert.ThrowsAsync<RpcException>(async () =>
            await EmulatorScenario.ImpersonateAsync(cluster, renewed, [EmulatorScenario.AccessRole]));
        Assert.That(impersonation!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
    }

    [Test]
    public async Task Impersonated_identity_has_the_fields_Teleport_sets()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);

        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]);

        var tls = output.Tls;
        Assert.That(tls.Username, Is.EqualTo("bot-robot"));
        Assert.That(tls.Roles, Is.EqualTo(new[] { "access" }));
        Assert.That(tls.Impersonator, Is.EqualTo("bot-robot"));
        Assert.That(tls.DisallowReissue, Is.True);
        Assert.That(tls.IsRenewable, Is.False);
        Assert.That(tls.Generation, Is.Zero);
        Assert.That(tls.BotName, Is.EqualTo("robot"));
        Assert.That(tls.BotInstanceId, Is.EqualTo(bot.Tls.BotInstanceId));
        Assert.That(tls.Principals, Is.EquivalentTo(new[] { "root", "ubuntu", "-teleport-internal-join" }));

        var ssh = output.SshCertificate!;
        Assert.That(ssh.KeyId, Is.EqualTo("bot-robot"));
        Assert.That(ssh.Principals, Is.EqualTo(new[] { "root", "ubuntu", "-teleport-internal-join" }));
        var info = ssh.GetTeleportInfo();
        Assert.That(info.Roles, Is.EqualTo(new[] { "access" }));
        Assert.That(info.Impersonator, Is.EqualTo("bot-robot"));
        Assert.That(info.DisallowReissue, Is.True);
        Assert.That(info.Renewable, Is.False);
        Assert.That(info.Generation, Is.Zero);
        Assert.That(info.PermitPortForwarding, Is.True);
        Assert.That(info.PermitPty, Is.True);

        // §5.1: impersonated certificates come with the user CA only.
        Assert.That(output.TlsCaPems, Is.EqualTo(new[] { cluster.GetCertificateAuthorityPem(CertificateAuthorityType.User) }));
        Assert.That(cluster.BotInstances.Single().Generation, Is.EqualTo(1), "impersonation does not advance the generation");
        Assert.That(cluster.IssuedCertificates[^1].Kind, Is.EqualTo(IssuedCertificateKind.RoleImpersonation));
    }

    [Test]
    public async Task Impersonating_a_role_outside_impersonate_roles_is_denied()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "admin", Logins = ["root"] });
        using var bot = await EmulatorScenario.JoinAsync(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, bot, ["admin"]));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(error.Status.Detail, Does.Contain("role impersonation"));
        Assert.That(cluster.AuditEvents.Any(e => e.Type == "user.login" && !e.Success), Is.True);
    }

    [Test]
    public async Task Added_bot_roles_become_impersonable()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "deploy", Logins = ["deploy"] });
        using var bot = await EmulatorScenario.JoinAsync(cluster);

        cluster.AddBotRoles(EmulatorScenario.BotName, "deploy");
        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, ["deploy"]);

        Assert.That(output.Tls.Roles, Is.EqualTo(new[] { "deploy" }));
        Assert.That(cluster.GetRole("bot-robot")!.ImpersonateRoles, Is.EqualTo(new[] { "access", "deploy" }));
    }

    [Test]
    public async Task Role_requests_must_not_be_empty()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, bot, []));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
        Assert.That(error.Status.Detail, Is.EqualTo("at least one role request is required"));
    }

    [Test]
    public async Task An_impersonated_identity_can_neither_impersonate_nor_renew()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole]);

        var impersonate = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, output, [EmulatorScenario.AccessRole]));
        var renew = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.RenewAsync(cluster, output));

        Assert.That(impersonate!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(renew!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(renew.Status.Detail, Is.EqualTo("access denied: identity is not allowed to reissue certificates"));
    }

    [Test]
    public async Task A_reissuable_impersonated_identity_reissues_itself_but_cannot_change_roles()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var output = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole], TimeSpan.FromMinutes(30), reissuable: true);

        // Reissue for longer than the identity lives: capped at its expiry (not renewable).
        using var reissued = await EmulatorScenario.RenewAsync(cluster, output, TimeSpan.FromHours(4));
        var other = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.ImpersonateAsync(cluster, output, [EmulatorScenario.AccessRole]));

        Assert.That(output.Tls.DisallowReissue, Is.False);
        Assert.That(reissued.Tls.Roles, Is.EqualTo(new[] { "access" }));
        Assert.That(reissued.Tls.Impersonator, Is.EqualTo("bot-robot"));
        Assert.That(reissued.Tls.IsRenewable, Is.False);
        Assert.That(reissued.Tls.NotAfter, Is.EqualTo(output.Tls.NotAfter));
        Assert.That(other!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(cluster.IssuedCertificates[^1].Kind, Is.EqualTo(IssuedCertificateKind.Reissue));
    }

    private static IEnumerable<TestCaseData> TtlCases()
    {
        // renewal: requested, bot max_session_ttl, expected
        yield return new TestCaseData(false, TimeSpan.FromDays(3), null, null, TimeSpan.FromHours(12)).SetArgDisplayNames("renewal: bot role 12h default");
        yield return new TestCaseData(false, TimeSpan.FromDays(30), TimeSpan.FromDays(20), null, TimeSpan.FromDays(7)).SetArgDisplayNames("renewal: 7 days");
        yield return new TestCaseData(false, TimeSpan.FromMinutes(20), null, null, TimeSpan.FromMinutes(20)).SetArgDisplayNames("renewal: as requested");
        yield return new TestCaseData(true, TimeSpan.FromDays(2), null, TimeSpan.FromHours(8), TimeSpan.FromHours(8)).SetArgDisplayNames("impersonation: role max_session_ttl");
        yield return new TestCaseData(true, TimeSpan.FromDays(2), null, null, TimeSpan.FromHours(30)).SetArgDisplayNames("impersonation: role default 30h");
        yield return new TestCaseData(true, TimeSpan.FromDays(9), null, TimeSpan.FromDays(10), TimeSpan.FromDays(7)).SetArgDisplayNames("impersonation: 7 days");
    }

    [TestCaseSource(nameof(TtlCases))]
    public async Task TTL_caps(bool impersonate, TimeSpan requested, TimeSpan? botMaxTtl, TimeSpan? roleMaxTtl, TimeSpan expected)
    {
        var start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var clock = new FakeTimeProvider(start);
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        cluster.UpsertRole(new EmulatorRole { Name = "ops", Logins = ["ops"], MaxSessionTtl = roleMaxTtl });
        cluster.AddBot(new EmulatorBot { Name = "ttl", Roles = ["ops"], MaxSessionTtl = botMaxTtl });
        using var bot = await EmulatorScenario.JoinAsync(cluster, "ttl");

        using var issued = impersonate
            ? await EmulatorScenario.ImpersonateAsync(cluster, bot, ["ops"], requested)
            : await EmulatorScenario.RenewAsync(cluster, bot, requested);

        Assert.That(issued.Tls.NotAfter, Is.EqualTo(start + expected));
        Assert.That(issued.SshCertificate!.ValidBefore, Is.EqualTo(start + expected));
        var record = cluster.IssuedCertificates[^1];
        Assert.That(record.RequestedExpires, Is.EqualTo(start + requested));
        Assert.That(record.GrantedTtl, Is.EqualTo(expected));
    }

    [Test]
    public async Task Route_to_cluster_must_be_the_local_cluster_and_is_encoded()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);

        using var local = await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole], routeToCluster: cluster.ClusterName);
        var leaf = Assert.ThrowsAsync<RpcException>(async () =>
            await EmulatorScenario.ImpersonateAsync(cluster, bot, [EmulatorScenario.AccessRole], routeToCluster: "leaf.example.com"));

        Assert.That(local.Tls.RouteToCluster, Is.EqualTo(cluster.ClusterName));
        Assert.That(local.SshCertificate!.GetTeleportInfo().RouteToCluster, Is.EqualTo(cluster.ClusterName));
        Assert.That(leaf!.StatusCode, Is.EqualTo(StatusCode.NotFound));
    }

    [Test]
    public async Task Expiry_in_the_past_is_refused()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.RenewAsync(cluster, bot, TimeSpan.FromMinutes(-5)));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(error.Status.Detail, Does.Contain("client credentials have expired"));
        Assert.That(cluster.BotInstances.Single().Generation, Is.EqualTo(1));
    }

    [TestCase(true, false)]
    [TestCase(false, true)]
    public async Task Either_public_key_may_be_omitted(bool ssh, bool tls)
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        var request = new UserCertsRequest
        {
            Username = "bot-robot",
            Expires = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(1)),
            UseRoleRequests = true,
            RoleRequests = { EmulatorScenario.AccessRole },
        };
        if (ssh)
        {
            request.SSHPublicKey = ByteString.CopyFromUtf8(key.PublicKey.ToAuthorizedKey());
        }

        if (tls)
        {
            request.TLSPublicKey = ByteString.CopyFromUtf8(key.PublicKey.ExportPem());
        }

        var certs = await new AuthService.AuthServiceClient(channel).GenerateUserCertsAsync(request, EmulatorClient.Options());

        Assert.That(certs.SSH.IsEmpty, Is.EqualTo(!ssh));
        Assert.That(certs.TLS.IsEmpty, Is.EqualTo(!tls));
    }

    [Test]
    public async Task Unauthenticated_callers_are_refused()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        using var channel = EmulatorClient.AuthViaProxy(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () => await new AuthService.AuthServiceClient(channel).GenerateUserCertsAsync(new UserCertsRequest
        {
            Username = "bot-robot",
            Expires = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(1)),
            TLSPublicKey = ByteString.CopyFromUtf8(key.PublicKey.ExportPem()),
        }, EmulatorClient.Options()));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
    }

    [Test]
    public async Task An_expired_identity_is_refused()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        clock.Advance(TimeSpan.FromHours(2));

        var error = Assert.ThrowsAsync<RpcException>(async () => await EmulatorScenario.RenewAsync(cluster, bot));

        // Go's VerifyClientCertIfGiven fails the handshake; the client sees the connection fail.
        Assert.That(error!.StatusCode, Is.AnyOf(StatusCode.Unavailable, StatusCode.Internal, StatusCode.PermissionDenied));
        Assert.That(cluster.BotInstances.Single().Generation, Is.EqualTo(1));
    }

    [Test]
    public async Task Two_hundred_concurrent_calls_all_succeed()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var bot = await EmulatorScenario.JoinAsync(cluster);
        using var channel = EmulatorClient.AuthViaProxy(cluster, bot.ClientCertificate);
        var client = new AuthService.AuthServiceClient(channel);
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        var sshKey = ByteString.CopyFromUtf8(key.PublicKey.ToAuthorizedKey());
        var tlsKey = ByteString.CopyFromUtf8(key.PublicKey.ExportPem());

        var calls = Enumerable.Range(0, 200).Select(async _ =>
        {
            var request = new UserCertsRequest
            {
                Username = "bot-robot",
                Expires = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(1)),
                UseRoleRequests = true,
                RoleRequests = { EmulatorScenario.AccessRole },
                SSHPublicKey = sshKey,
                TLSPublicKey = tlsKey,
            };
            return await client.GenerateUserCertsAsync(request, EmulatorClient.Options());
        });
        var results = await Task.WhenAll(calls);

        Assert.That(results, Has.Length.EqualTo(200));
        Assert.That(results.Select(r => r.TLS.ToStringUtf8()).Distinct().Count(), Is.EqualTo(200), "every call got its own certificate");
        Assert.That(cluster.IssuedCertificates.Count(c => c.Kind == IssuedCertificateKind.RoleImpersonation), Is.EqualTo(200));
    }
}
