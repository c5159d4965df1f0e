using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>Every Auth call of the facade against the emulator, with the identity swapped as renewals do.</summary>
public sealed class WireCallsTests
{
    private static readonly string BotUser = "bot-" + WireTestCluster.BotName;

    [TestCase("routing")]
    [TestCase("separate-ports")]
    [TestCase("direct")]
    public async Task Renewed_identity_is_used_by_the_next_call_without_rebuilding_the_client(string mode)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = mode != "separate-ports" });
        var options = mode == "direct" ? cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()) : cluster.ProxyOptions();
        var holder = new IdentityHolder();
        await using var client = TeleportWireClient.Create(options, holder.Provider);
        holder.Current = (await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1))).CreateIdentity();

        // Auth checks the generation of the certificate presented on the connection: renewing twice
        // in a row only works when the second call really uses the renewed certificate.
        for (var expected = 2; expected <= 4; expected++)
        {
            using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);
            var certs = await client.GenerateUserCertsAsync(UserCertificateRequest.ForBotRenewal(BotUser, key.PublicKey, cluster.Emulator.TimeProvider.GetUtcNow().AddHours(1)));
            Assert.That(certs.TlsIdentity!.Generation, Is.EqualTo(expected));
            Assert.That(certs.TlsIdentity.IsRenewable, Is.True);
            Assert.That(certs.SshCertificate!.PublicKey, Is.EqualTo(key.PublicKey));
            holder.Current = WireIdentity.Create(key, certs);
        }

        Assert.That(cluster.Emulator.BotInstances.Single().Generation, Is.EqualTo(4));
        Assert.That(cluster.Emulator.Locks, Is.Empty);
        var renewals = cluster.Emulator.IssuedCertificates.Where(c => c.Renewable).Select(c => c.Generation);
        Assert.That(renewals, Is.EqualTo(new[] { 1, 2, 3, 4 }));
    }

    [Test]
    public async Task Renewing_from_a_stale_generation_is_denied_and_locks_the_bot()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, holder) = await cluster.JoinedProxyClientAsync();
        await using var _ = client;
        var first = holder.Current!;
        using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);
        var renewed = await client.GenerateUserCertsAsync(UserCertificateRequest.ForBotRenewal(BotUser, key.PublicKey, DateTimeOffset.UtcNow.AddHours(1)));

        holder.Current = first; // a stolen copy of generation 1 tries to renew
        var error = Assert.ThrowsAsync<TeleportAccessDeniedException>(() =>
            client.GenerateUserCertsAsync(UserCertificateRequest.ForBotRenewal(BotUser, key.PublicKey, DateTimeOffset.UtcNow.AddHours(1))));

        Assert.That(error!.Message, Does.Contain("GenerateUserCerts"));
        Assert.That(error.Message, Does.Contain("join again"));
        Assert.That(cluster.Emulator.Locks, Has.Count.EqualTo(1));
        holder.Current = WireIdentity.Create(key, renewed);
        Assert.ThrowsAsync<TeleportAccessDeniedException>(() => client.GetRoleAsync(BotUser), "a locked bot is denied everything");
    }

    [Test]
    public async Task Impersonated_identity_for_an_output()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;
        using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);

        var certs = await client.GenerateUserCertsAsync(UserCertificateRequest.ForImpersonation(
            BotUser, key.PublicKey, DateTimeOffset.UtcNow.AddMinutes(30), [WireTestCluster.AccessRole], cluster.ClusterName));

        var tls = certs.TlsIdentity!;
        Assert.That(tls.Username, Is.EqualTo(BotUser));
        Assert.That(tls.Roles, Is.EqualTo(new[] { WireTestCluster.AccessRole }));
        Assert.That(tls.Impersonator, Is.EqualTo(BotUser));
        Assert.That(tls.DisallowReissue, Is.True);
        Assert.That(tls.IsRenewable, Is.False);
        Assert.That(tls.RouteToCluster, Is.EqualTo(cluster.ClusterName));
        Assert.That(certs.SshCertificate!.Principals, Is.SupersetOf(new[] { "root", "ubuntu" }));
        Assert.That(certs.TlsCaCertificates.Select(c => c.Thumbprint),
            Is.EquivalentTo(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.User).Select(c => c.Thumbprint)),
            "impersonated replies carry only the user CA");
    }

    [Test]
    public async Task Impersonating_a_role_the_bot_may_not_is_denied()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        cluster.Emulator.UpsertRole(new EmulatorRole { Name = "admin", Logins = ["root"] });
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;
        using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);

        var error = Assert.ThrowsAsync<TeleportAccessDeniedException>(() => client.GenerateUserCertsAsync(
            UserCertificateRequest.ForImpersonation(BotUser, key.PublicKey, DateTimeOffset.UtcNow.AddMinutes(30), ["admin"], cluster.ClusterName)));

        Assert.That(error!.InnerException, Is.TypeOf<Grpc.Core.RpcException>());
    }

    [Test]
    public async Task Only_the_requested_certificate_is_issued_when_one_key_is_left_out()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;
        using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
        var request = UserCertificateRequest.ForImpersonation(BotUser, key.PublicKey, DateTimeOffset.UtcNow.AddMinutes(30), [WireTestCluster.AccessRole], cluster.ClusterName)
            with { TlsPublicKey = null };

        var certs = await client.GenerateUserCertsAsync(request);

        Assert.That(certs.SshCertificate, Is.Not.Null);
        Assert.That(certs.TlsCertificate, Is.Null);
    }

    [Test]
    public async Task Trust_service_returns_the_cluster_CAs_without_private_keys()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;

        var hosts = await client.GetCertAuthoritiesAsync(CertAuthorityTypes.Host);
        var user = await client.GetCertAuthorityAsync(CertAuthorityTypes.User, cluster.ClusterName);

        var host = hosts.Single();
        Assert.That(host.Type, Is.EqualTo("host"));
        Assert.That(host.ClusterName, Is.EqualTo(cluster.ClusterName));
        Assert.That(host.TrustedSshPublicKeys, Is.EqualTo(cluster.Emulator.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host)));
        Assert.That(host.TrustedTlsCertificates.Select(c => c.Thumbprint),
            Is.EqualTo(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host).Select(c => c.Thumbprint)));
        Assert.That(host.TrustedTlsCertificates.All(c => !c.HasPrivateKey), Is.True);
        Assert.That(user.TrustedSshPublicKeys, Is.EqualTo(cluster.Emulator.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)));
        Assert.ThrowsAsync<TeleportNotFoundException>(() => client.GetCertAuthorityAsync(CertAuthorityTypes.Host, "no-such-cluster"));
    }

    [Test]
    public async Task GetRole_gives_the_roles_the_bot_may_impersonate()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;

        var role = await client.GetRoleAsync(BotUser);

        Assert.That(role.Name, Is.EqualTo(BotUser));
        Assert.That(role.ImpersonateRoles, Is.EquivalentTo(new[] { WireTestCluster.AccessRole, WireTestCluster.OpsRole }));
        Assert.That(role.MaxSessionTtl, Is.EqualTo(TimeSpan.FromHours(12)));
        Assert.ThrowsAsync<TeleportAccessDeniedException>(() => client.GetRoleAsync(WireTestCluster.AccessRole), "a bot may read only its own role");
    }

    [TestCase("legacy")]
    [TestCase("balanced-v1")]
    public async Task GetAuthPreference_and_Ping_report_the_suite(string suite)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { SignatureAlgorithmSuite = SignatureAlgorithmSuite.Parse(suite) });
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;

        var preference = await client.GetAuthPreferenceAsync();
        var ping = await client.PingAsync();

        Assert.That(preference.SignatureAlgorithmSuite.Name, Is.EqualTo(suite));
        Assert.That(ping.SignatureAlgorithmSuite.Name, Is.EqualTo(suite));
        Assert.That(ping.ProxyPublicAddress, Is.EqualTo(cluster.Emulator.ProxyAddress));
    }

    [Test]
    public async Task Heartbeats_are_recorded_against_the_bot_instance()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;

        var accepted = await client.SubmitHeartbeatAsync(new BotHeartbeat
        {
            RecordedAt = clock.GetUtcNow(),
            IsStartup = true,
            Version = "18.0.0",
            Hostname = "build-agent-7",
            Uptime = TimeSpan.FromSeconds(3),
            JoinMethod = "token",
            Architecture = "amd64",
            OperatingSystem = "linux",
        });

        Assert.That(accepted, Is.True);
        var heartbeat = cluster.Emulator.BotInstances.Single().Heartbeats.Single();
        Assert.That(heartbeat.IsStartup, Is.True);
        Assert.That(heartbeat.Hostname, Is.EqualTo("build-agent-7"));
        Assert.That(heartbeat.RecordedAt, Is.EqualTo(clock.GetUtcNow()));
        Assert.That(heartbeat.JoinMethod, Is.EqualTo("token"));
    }

    [Test]
    public async Task Watch_reports_init_then_each_rotation_phase_of_the_host_CA()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var events = client.WatchCertAuthoritiesAsync(cluster.ClusterName, stop.Token).GetAsyncEnumerator(stop.Token);

        Assert.That(await events.MoveNextAsync(), Is.True);
        Assert.That(events.Current.Operation, Is.EqualTo(WatchOperation.Init));

        var phases = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            await cluster.Emulator.AdvanceRotationAsync(CertificateAuthorityType.Host);
            Assert.That(await events.MoveNextAsync(), Is.True);
            var ev = events.Current;
            Assert.That(ev.Operation, Is.EqualTo(WatchOperation.Put));
            Assert.That(ev.Kind, Is.EqualTo("cert_authority"));
            Assert.That(ev.CertAuthority!.Type, Is.EqualTo("host"));
            Assert.That(ev.CertAuthority.ClusterName, Is.EqualTo(cluster.ClusterName));
            phases.Add(ev.CertAuthority.Rotation.Phase);
            if (i == 0)
            {
                Assert.That(ev.CertAuthority.AdditionalTrustedKeys.TlsCertificates, Is.Not.Empty, "init: the new keys are trusted in addition");
            }
        }

        Assert.That(phases, Is.EqualTo(new[] { "init", "update_clients" }));
        await stop.CancelAsync();
        Assert.CatchAsync<OperationCanceledException>(async () => await events.MoveNextAsync());
    }

    [Test]
    public async Task A_watch_broken_by_Auth_going_offline_fails_as_a_transient_error()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;
        await using var events = client.WatchCertAuthoritiesAsync(cluster.ClusterName).GetAsyncEnumerator();
        Assert.That(await events.MoveNextAsync(), Is.True);

        cluster.Emulator.Faults.TakeAuthOffline();
        var error = Assert.CatchAsync<TeleportException>(async () => await events.MoveNextAsync());

        Assert.That(error, Is.InstanceOf<TeleportConnectionException>());
        Assert.That(error!.Message, Does.Contain("WatchEvents(cert_authority)"));
    }

    [Test]
    public async Task A_locked_bot_is_denied_on_new_calls()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;
        await client.GetRoleAsync(BotUser);

        cluster.Emulator.LockBot(WireTestCluster.BotName, "compromised");

        var error = Assert.ThrowsAsync<TeleportAccessDeniedException>(() => client.GetCertAuthoritiesAsync(CertAuthorityTypes.Host));
        Assert.That(error!.Message, Does.Contain("TrustService.GetCertAuthorities(host)"));
    }

    [Test]
    public async Task Auth_offline_is_a_transient_connection_error_and_recovers()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var (client, _) = await cluster.JoinedProxyClientAsync();
        await using var _1 = client;

        cluster.Emulator.Faults.TakeAuthOffline();
        var error = Assert.CatchAsync<TeleportException>(() => client.PingAsync());
        cluster.Emulator.Faults.BringAuthOnline();
        var ping = await client.PingAsync();

        Assert.That(error, Is.InstanceOf<TeleportConnectionException>());
        Assert.That(error!.IsTransient, Is.True);
        Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName));
    }
}
