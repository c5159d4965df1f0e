using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Identity;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Join;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// The wire client's delegated joins against the emulator: OIDC-style methods over
/// <c>RegisterUsingToken</c> (proxy HTTP, direct Auth, authenticated re-join) and bound keypair
/// (registration secret, pre-registered key, re-join, recovery, rotation, refusals), each bound
/// keypair case against a cluster with <c>teleport.join.v1</c> (later 18.x) and one without it
/// (18.0/18.1: the legacy <c>RegisterUsingBoundKeypairMethod</c> stream).
/// </summary>
public sealed class WireDelegatedJoinTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    [Test]
    public async Task A_key_history_that_is_not_utf8_is_skipped_not_a_crash()
    {
        // The bug class fuzzing found in bot-storage: invalid UTF-8 inside a JSON string escaped
        // GetString() as InvalidOperationException instead of the "history unreadable" path.
        var files = new MemoryBotIdentityStore();
        byte[] history = [.. "{\"entries\":[{\"private_key\":\""u8, 0xBE, .. "\"}]}"u8];
        await files.WriteAsync(BoundKeypairClientState.KeyHistoryFile, history, default);

        using var state = await BoundKeypairClientState.LoadAsync(null, null, files, TimeProvider.System, NullLogger.Instance, default);

        Assert.That(state.ActivePublicKey, Is.Null);
    }

    [Test]
    public async Task Id_token_join_through_the_proxy_then_re_join_on_Auth_keeps_the_instance()
    {
        var clock = new FakeTimeProvider(Start);
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        AddKubernetesToken(cluster.Emulator);
        var holder = new IdentityHolder();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), holder.Provider);

        var first = await client.JoinWithIdTokenAsync("kube", cluster.Emulator.Kubernetes.MintServiceAccountToken("ci:tbot"), TimeSpan.FromMinutes(30), presentIdentity: false);
        Assert.That(first.Api, Is.EqualTo(JoinApi.LegacyHttp), "v18 tbot: POST /webapi/host/credentials with id_token");
        holder.Current = first.CreateIdentity();
        clock.Advance(TimeSpan.FromMinutes(20));

        var second = await client.JoinWithIdTokenAsync("kube", cluster.Emulator.Kubernetes.MintServiceAccountToken("ci:tbot"), TimeSpan.FromMinutes(30), presentIdentity: true);

        Assert.That(second.Api, Is.EqualTo(JoinApi.LegacyGrpc));
        Assert.That(second.Certificates.TlsIdentity!.BotInstanceId, Is.EqualTo(first.Certificates.TlsIdentity!.BotInstanceId));
        Assert.That(second.Certificates.TlsIdentity.Generation, Is.EqualTo(2));
        Assert.That(second.Certificates.TlsIdentity.IsRenewable, Is.False);
        Assert.That(cluster.Emulator.BotInstances, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Id_token_join_directly_on_Auth()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        AddKubernetesToken(cluster.Emulator);
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()), () => null);

        var result = await client.JoinWithIdTokenAsync("kube", cluster.Emulator.Kubernetes.MintServiceAccountToken("ci:tbot"), TimeSpan.FromHours(1), presentIdentity: false);

        Assert.That(result.Api, Is.EqualTo(JoinApi.LegacyGrpc));
        Assert.That(result.Certificates.TlsIdentity!.BotName, Is.EqualTo(WireTestCluster.BotName));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task A_refused_id_token_is_a_join_failure_naming_the_reason_without_the_token(bool throughProxy)
    {
        await using var cluster = await WireTestCluster.StartAsync();
        AddKubernetesToken(cluster.Emulator);
        await using var client = TeleportWireClient.Create(throughProxy ? cluster.ProxyOptions() : cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()), () => null);
        var intruder = cluster.Emulator.Kubernetes.MintServiceAccountToken("ci:intruder");

        var error = Assert.ThrowsAsync<TeleportJoinException>(() => client.JoinWithIdTokenAsync("kube", intruder, TimeSpan.FromHours(1), presentIdentity: false));

        Assert.That(error!.Message, Does.Contain("kubernetes token did not match any allow rules"));
        Assert.That(error.Message, Does.Contain("matches its spec"));
        Assert.That(error.ToString(), Does.Not.Contain(intruder));
    }

    [TestCase("balanced-v1", KeyAlgorithm.Ed25519, EmulatorJoinApis.LegacyAndUnified)]
    [TestCase("fips-v1", KeyAlgorithm.EcdsaP256, EmulatorJoinApis.LegacyAndUnified)]
    [TestCase("legacy", KeyAlgorithm.Rsa, EmulatorJoinApis.LegacyAndUnified)]
    [TestCase("balanced-v1", KeyAlgorithm.Ed25519, EmulatorJoinApis.Legacy)]
    [TestCase("fips-v1", KeyAlgorithm.EcdsaP256, EmulatorJoinApis.Legacy)]
    [TestCase("legacy", KeyAlgorithm.Rsa, EmulatorJoinApis.Legacy)]
    public async Task Bound_keypair_registers_with_the_secret_then_re_joins_without_it(string suiteName, KeyAlgorithm keyAlgorithm, EmulatorJoinApis apis)
    {
        var clock = new FakeTimeProvider(Start);
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions
        {
            TimeProvider = clock,
            JoinApis = apis,
            SignatureAlgorithmSuite = SignatureAlgorithmSuite.Parse(suiteName),
        });
        AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "registration-secret-1", RecoveryLimit = 2 });
        var holder = new IdentityHolder();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), holder.Provider);
        var files = new MemoryBotIdentityStore();
        using var state = await BoundKeypairClientState.LoadAsync(null, null, files, clock, NullLogger.Instance, default);

        var first = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "registration-secret-1", state.JoinState, state), TimeSpan.FromHours(1), presentIdentity: false);
        state.Complete(first);
        holder.Current = first.Join.CreateIdentity();

        Assert.That(first.NewKeysRequested, Is.EqualTo(1), "registration asks for a new key");
        Assert.That(first.Join.Api, Is.EqualTo(ExpectedApi(apis)));
        Assert.That(first.Join.SignatureAlgorithmSuite, Is.EqualTo(SignatureAlgorithmSuite.Parse(suiteName)), "the identity key is made for the cluster's suite on either protocol");
        Assert.That(first.BoundPublicKey.Algorithm, Is.EqualTo(keyAlgorithm));
        Assert.That(state.ActivePublicKey, Is.EqualTo(first.BoundPublicKey));
        var status = cluster.Emulator.GetBoundKeypairStatus("bkp")!;
        Assert.That(status.BoundPublicKey, Is.EqualTo(first.BoundPublicKey.ToAuthorizedKey()));
        Assert.That(status.RegistrationSecret, Is.Null, "the secret is cleared once a key is bound");
        Assert.That(status.RecoveryCount, Is.EqualTo(1));
        Assert.That(await files.ReadAsync(BoundKeypairClientState.KeyHistoryFile, default), Is.Not.Null);

        clock.Advance(TimeSpan.FromMinutes(40));
        var second = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "registration-secret-1", state.JoinState, state), TimeSpan.FromHours(1), presentIdentity: true);
        state.Complete(second);

        Assert.That(second.NewKeysRequested, Is.Zero);
        Assert.That(second.Join.Api, Is.EqualTo(ExpectedApi(apis)), "the re-join on Auth uses the same protocol");
        Assert.That(second.Join.Certificates.TlsIdentity!.BotInstanceId, Is.EqualTo(first.Join.Certificates.TlsIdentity!.BotInstanceId));
        Assert.That(cluster.Emulator.GetBoundKeypairStatus("bkp")!.RecoveryCount, Is.EqualTo(1), "a re-join with a valid identity is not a recovery");
    }

    [Test]
    public async Task Bound_keypair_recovery_after_expiry_verifies_the_join_state_and_counts([Values] EmulatorJoinApis apis)
    {
        var clock = new FakeTimeProvider(Start);
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock, JoinApis = apis });
        AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "registration-secret-2", RecoveryLimit = 2 });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        using var state = await BoundKeypairClientState.LoadAsync(null, null, new MemoryBotIdentityStore(), clock, NullLogger.Instance, default);
        var first = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "registration-secret-2", state.JoinState, state), TimeSpan.FromHours(1), false);
        state.Complete(first);

        clock.Advance(TimeSpan.FromHours(3));
        var recovered = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, state.JoinState, state), TimeSpan.FromHours(1), false);
        state.Complete(recovered);

        Assert.That(recovered.Join.Certificates.TlsIdentity!.BotInstanceId, Is.Not.EqualTo(first.Join.Certificates.TlsIdentity!.BotInstanceId));
        Assert.That(cluster.Emulator.GetBoundKeypairStatus("bkp")!.RecoveryCount, Is.EqualTo(2));
        var instance = cluster.Emulator.BotInstances.Single(i => i.InstanceId == recovered.Join.Certificates.TlsIdentity.BotInstanceId);
        Assert.That(instance.PreviousInstanceId, Is.EqualTo(first.Join.Certificates.TlsIdentity.BotInstanceId));

        var exhausted = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, state.JoinState, state), TimeSpan.FromHours(1), false));
        Assert.That(exhausted!.Message, Does.Contain("no rejoins remaining"));
        Assert.That(cluster.Emulator.AuditEvents.Count(e => e.Type == "bound_keypair.recovery" && e.Success), Is.EqualTo(2));
    }

    [Test]
    public async Task A_stale_join_state_locks_the_token_as_Teleport_does([Values] EmulatorJoinApis apis)
    {
        var clock = new FakeTimeProvider(Start);
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock, JoinApis = apis });
        AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "registration-secret-6", RecoveryLimit = 5 });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        using var state = await BoundKeypairClientState.LoadAsync(null, null, new MemoryBotIdentityStore(), clock, NullLogger.Instance, default);
        state.Complete(await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "registration-secret-6", default, state), TimeSpan.FromHours(1), false));
        var stale = state.JoinState.ToArray();
        clock.Advance(TimeSpan.FromHours(2));
        state.Complete(await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, state.JoinState, state), TimeSpan.FromHours(1), false));

        clock.Advance(TimeSpan.FromHours(2));
        var error = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, stale, state), TimeSpan.FromHours(1), false));

        Assert.That(error!.Message, Does.Contain("join state verification failed"));
        Assert.That(cluster.Emulator.Locks.Single().JoinToken, Is.EqualTo("bkp"));
        Assert.That(cluster.Emulator.AuditEvents.Any(e => e.Type == "bound_keypair.join_state_verification_failed"), Is.True);
        var locked = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, state.JoinState, state), TimeSpan.FromHours(1), false));
        Assert.That(locked!.Message, Does.Contain("has been locked"), "even the right join state is refused while the lock is in force");
    }

    [Test]
    public async Task Bound_keypair_rotation_binds_the_new_key_and_keeps_the_old_in_history([Values] EmulatorJoinApis apis)
    {
        var clock = new FakeTimeProvider(Start);
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock, JoinApis = apis });
        var spec = new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "registration-secret-3", RecoveryLimit = 1 };
        AddBoundKeypairToken(cluster.Emulator, spec);
        var holder = new IdentityHolder();
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), holder.Provider);
        var files = new MemoryBotIdentityStore();
        using var state = await BoundKeypairClientState.LoadAsync(null, null, files, clock, NullLogger.Instance, default);
        var first = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "registration-secret-3", state.JoinState, state), TimeSpan.FromHours(1), false);
        state.Complete(first);
        holder.Current = first.Join.CreateIdentity();

        cluster.Emulator.UpdateJoinToken(new EmulatorJoinToken
        {
            Name = "bkp",
            BotName = WireTestCluster.BotName,
            JoinMethod = EmulatorJoinMethods.BoundKeypair,
            BoundKeypair = new EmulatorBoundKeypairJoinSpec { RegistrationSecret = spec.RegistrationSecret, RecoveryLimit = 1, RotateAfter = clock.GetUtcNow() },
        });
        clock.Advance(TimeSpan.FromMinutes(1));
        var rotated = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, state.JoinState, state), TimeSpan.FromHours(1), true);
        state.Complete(rotated);

        Assert.That(rotated.NewKeysRequested, Is.EqualTo(1));
        Assert.That(rotated.Join.Api, Is.EqualTo(ExpectedApi(apis)));
        Assert.That(rotated.BoundPublicKey, Is.Not.EqualTo(first.BoundPublicKey));
        Assert.That(state.ActivePublicKey, Is.EqualTo(rotated.BoundPublicKey));
        using (var old = state.FindKey(first.BoundPublicKey))
        {
            Assert.That(old, Is.Not.Null, "the previous key stays in the history (cluster rollback)");
        }

        Assert.That(cluster.Emulator.GetBoundKeypairStatus("bkp")!.LastRotatedAt, Is.Not.Null);
        Assert.That(cluster.Emulator.AuditEvents.Any(e => e.Type == "bound_keypair.rotation" && e.Success), Is.True);

        holder.Current = rotated.Join.CreateIdentity();
        clock.Advance(TimeSpan.FromMinutes(20));
        var next = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, state.JoinState, state), TimeSpan.FromHours(1), true);
        Assert.That(next.NewKeysRequested, Is.Zero, "rotate_after is satisfied by the rotation");
    }

    [Test]
    public async Task Bound_keypair_with_a_pre_registered_key_answers_the_first_challenge_with_it([Values] EmulatorJoinApis apis)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = apis });
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BoundKeypairJoining);
        AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { InitialPublicKey = key.PublicKey.ToAuthorizedKey(), RecoveryMode = "insecure" });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        using var state = BoundKeypairClientState.Static(PrivateKey.ImportPem(key.ExportPem()), null, TimeProvider.System);

        var result = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, default, state), TimeSpan.FromHours(1), false);

        Assert.That(result.BoundPublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(result.NewKeysRequested, Is.Zero);
    }

    [Test]
    public async Task Bound_keypair_challenge_signed_by_another_key_is_refused(
        [Values(KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.Rsa)] KeyAlgorithm algorithm, [Values] EmulatorJoinApis apis)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = apis });
        using var registered = PrivateKey.Generate(algorithm);
        AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { InitialPublicKey = registered.PublicKey.ToAuthorizedKey(), RecoveryMode = "insecure" });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);

        var error = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", null, default, new ImpostorKeys(algorithm)), TimeSpan.FromHours(1), false));

        Assert.That(error!.Message, Does.Contain("failed to complete challenge"));
        Assert.That(cluster.Emulator.GetBoundKeypairStatus("bkp")!.BoundPublicKey, Is.Null);
        Assert.That(cluster.Emulator.BotInstances, Is.Empty);
    }

    [Test]
    public async Task Bound_keypair_refuses_a_wrong_or_reused_registration_secret([Values("wrong", "reused", "missing")] string fault, [Values] EmulatorJoinApis apis)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = apis });
        AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "registration-secret-4", RecoveryLimit = 3 });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        if (fault == "reused")
        {
            using var winner = await BoundKeypairClientState.LoadAsync(null, null, new MemoryBotIdentityStore(), TimeProvider.System, NullLogger.Instance, default);
            await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "registration-secret-4", default, winner), TimeSpan.FromHours(1), false);
        }

        // A second machine with its own (empty) storage presents the secret.
        using var state = await BoundKeypairClientState.LoadAsync(null, null, new MemoryBotIdentityStore(), TimeProvider.System, NullLogger.Instance, default);
        var secret = fault switch { "wrong" => "not-the-secret", "missing" => null, _ => "registration-secret-4" };
        var error = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", secret, default, state), TimeSpan.FromHours(1), false));

        var expected = fault == "reused" ? "no key matching" : "a valid registration secret is required";
        if (fault == "reused")
        {
            // The token is bound: the cluster challenges for the bound key, which this machine does not hold.
            Assert.That(error!.Message, Does.Contain("already bound to another key").And.Contain("registration secret has been used"));
        }
        else
        {
            Assert.That(error!.Message, Does.Contain(expected));
        }

        Assert.That(error.ToString(), Does.Not.Contain("registration-secret-4"));
    }

    [Test]
    public async Task Bound_keypair_falls_back_to_the_legacy_stream_only_where_the_unified_service_is_missing_and_logs_which([Values] bool throughProxy)
    {
        // One client, two clusters in turn at the same kind of address: nothing about the first
        // cluster's missing service is remembered (a cluster upgraded meanwhile is used as such).
        var capture = new CapturingLoggerProvider();
        using var loggers = new Microsoft.Extensions.Logging.LoggerFactory([capture]);
        foreach (var apis in new[] { EmulatorJoinApis.Legacy, EmulatorJoinApis.LegacyAndUnified })
        {
            capture.Entries.Clear();
            await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = apis });
            AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "registration-secret-5" });
            var options = throughProxy ? cluster.ProxyOptions() : cluster.AuthOptions(insecure: true);
            await using var client = TeleportWireClient.Create(options with { LoggerFactory = loggers }, () => null);
            using var state = await BoundKeypairClientState.LoadAsync(null, null, new MemoryBotIdentityStore(), TimeProvider.System, NullLogger.Instance, default);

            var outcome = await client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "registration-secret-5", default, state), TimeSpan.FromHours(1), false);

            Assert.That(outcome.Join.Api, Is.EqualTo(ExpectedApi(apis)));
            var fallback = capture.Entries.Where(e => e.EventId.Name == "WireJoinFallback").ToList();
            if (apis == EmulatorJoinApis.Legacy)
            {
                Assert.That(fallback, Has.Count.EqualTo(1));
                Assert.That(fallback[0].Text, Does.Contain("proto.JoinService/RegisterUsingBoundKeypairMethod"));
                Assert.That(cluster.Emulator.AuditEvents.Any(e => e.Type == "bot.join" && e.Success && e.Fields.Values.Any(v => v.Contains("RegisterUsingBoundKeypairMethod", StringComparison.Ordinal))),
                    Is.True, "the cluster saw the legacy stream");
            }
            else
            {
                Assert.That(fallback, Is.Empty, "the unified service is used when the cluster has it");
            }

            Assert.That(capture.Entries.Single(e => e.EventId.Name == "WireJoinSucceeded").Text, Does.Contain(ExpectedApi(apis).ToString()));
            Assert.That(capture.AllText, Does.Not.Contain("registration-secret-5"));
        }
    }

    [Test]
    public async Task Bound_keypair_on_the_legacy_stream_refuses_a_wrong_secret_with_a_join_error_that_names_the_stream()
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = EmulatorJoinApis.Legacy });
        AddBoundKeypairToken(cluster.Emulator, new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "registration-secret-7" });
        await using var client = TeleportWireClient.Create(cluster.ProxyOptions(), () => null);
        using var state = await BoundKeypairClientState.LoadAsync(null, null, new MemoryBotIdentityStore(), TimeProvider.System, NullLogger.Instance, default);

        var error = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp", "a-wrong-secret-value", default, state), TimeSpan.FromHours(1), false));

        Assert.That(error!.Message, Does.Contain("a valid registration secret is required"));
        Assert.That(error.ToString(), Does.Not.Contain("a-wrong-secret-value").And.Not.Contain("registration-secret-7"));
        Assert.That(cluster.Emulator.GetBoundKeypairStatus("bkp")!.BoundPublicKey, Is.Null);
        Assert.That(cluster.Emulator.AuditEvents.Any(e => e.Type == "bot.join" && !e.Success
            && e.Fields.Values.Any(v => v.Contains("RegisterUsingBoundKeypairMethod", StringComparison.Ordinal))), Is.True);
    }

    private static JoinApi ExpectedApi(EmulatorJoinApis apis) =>
        apis == EmulatorJoinApis.Legacy ? JoinApi.LegacyBoundKeypairStream : JoinApi.Unified;

    internal static void AddKubernetesToken(TeleportEmulator cluster) =>
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "kube",
            BotName = WireTestCluster.BotName,
            JoinMethod = EmulatorJoinMethods.Kubernetes,
            Kubernetes = new EmulatorKubernetesJoinSpec { Type = EmulatorKubernetesJoinSpec.StaticJwksType, StaticJwks = cluster.Kubernetes.Jwks, AllowServiceAccounts = ["ci:tbot"] },
        });

    internal static void AddBoundKeypairToken(TeleportEmulator cluster, EmulatorBoundKeypairJoinSpec spec) =>
        cluster.AddJoinToken(new EmulatorJoinToken { Name = "bkp", BotName = WireTestCluster.BotName, JoinMethod = EmulatorJoinMethods.BoundKeypair, BoundKeypair = spec });

    /// <summary>Answers every challenge with a key of the right type that is not the one asked for.</summary>
    private sealed class ImpostorKeys(KeyAlgorithm algorithm) : IBoundKeypairKeys
    {
        public PrivateKey? FindKey(PublicKeyInfo publicKey) => PrivateKey.Generate(algorithm);

        public Task<PrivateKey> CreateKeyAsync(SignatureAlgorithmSuite suite, CancellationToken cancellationToken) =>
            Task.FromResult(PrivateKey.Generate(suite, KeyPurpose.BoundKeypairJoining));
    }
}
