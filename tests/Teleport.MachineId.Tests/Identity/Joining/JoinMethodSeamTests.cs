using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Tests.Infrastructure;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Identity.Joining;

/// <summary>
/// The join-method seam, driven by a bound-keypair-shaped delegated method against the simulated
/// cluster: renewal by re-join keeping the bot instance, method state committed with the identity,
/// entries written ahead surviving crashes, and unattended recovery.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class JoinMethodSeamTests
{
    [Test]
    public async Task A_delegated_method_renews_by_joining_again_presenting_the_current_identity()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var method = new SimulatedRejoinMethod(cluster);
        await using var provider = Create(cluster, method, time, Options(null, null));
        var changes = new List<BotIdentityChangedEventArgs>();
        provider.IdentityChanged += (_, e) => changes.Add(e);
        await provider.StartAsync();
        var first = await provider.WaitUntilReadyAsync();
        await RunUntilAsync(time, provider, Start.AddHours(4));

        Assert.Multiple(() =>
        {
            Assert.That(cluster.Renewals, Is.Zero, "no GenerateUserCerts for a delegated method");
            Assert.That(cluster.DelegatedJoins, Is.GreaterThanOrEqualTo(6), "one join plus a re-join per renewal");
            Assert.That(first.IsRenewable, Is.False);
            Assert.That(changes.Select(c => c.Identity.InstanceId).Distinct(), Is.EqualTo(new[] { first.InstanceId }), "one bot instance throughout");
            Assert.That(changes[0].Reason, Is.EqualTo(BotIdentityChangeReason.Joined));
            Assert.That(changes.Skip(1).Select(c => c.Reason).Distinct(), Is.EqualTo(new[] { BotIdentityChangeReason.Renewed }));
            Assert.That(provider.Current!.Generation, Is.EqualTo(changes.Count), "the cluster counted each re-join");
            Assert.That(method.Joins[0].PresentedInstance, Is.Null, "the first join presents nothing");
            Assert.That(method.Joins.Skip(1).Select(j => j.PresentedInstance), Is.All.EqualTo(first.InstanceId), "re-joins present the current identity");
            Assert.That(method.Joins.Select(j => j.CommittedCounter), Is.EqualTo(Enumerable.Range(0, method.Joins.Count)), "each join sees the state committed by the one before");
            Assert.That(cluster.BoundKeyRefusals, Is.Zero);
        });
    }

    [Test]
    public async Task Method_state_is_committed_with_the_identity_and_handed_back_after_a_restart()
    {
        using var temp = new TempDirectory("tmid-seam-");
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var storage = temp.Combine("storage");
        BotIdentity first;
        await using (var provider = Create(cluster, new SimulatedRejoinMethod(cluster), time, Options(storage, null)))
        {
            await provider.StartAsync();
            first = await provider.WaitUntilReadyAsync();
        }

        using (var document = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(storage, DirectoryBotIdentityStore.IdentityFileName))))
        {
            var state = document.RootElement.GetProperty("join_method_state");
            Assert.That(state.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { SimulatedRejoinMethod.KeyEntry, SimulatedRejoinMethod.CounterEntry }));
        }

        Assert.That(File.Exists(Path.Combine(storage, SimulatedRejoinMethod.NextKeyEntry)), Is.True, "the entry written ahead is a file in the storage");
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(Path.Combine(storage, SimulatedRejoinMethod.NextKeyEntry)), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }

        var restartedMethod = new SimulatedRejoinMethod(cluster);
        await using var restarted = Create(cluster, restartedMethod, time, Options(storage, null));
        await restarted.StartAsync();
        await EventuallyAsync(() => restarted.Current?.Generation == first.Generation + 1, "the loaded identity is renewed by re-joining");
        Assert.Multiple(() =>
        {
            Assert.That(restartedMethod.Joins.Single().CommittedCounter, Is.EqualTo(1));
            Assert.That(restartedMethod.Joins.Single().PresentedInstance, Is.EqualTo(first.InstanceId));
            Assert.That(restarted.Current!.InstanceId, Is.EqualTo(first.InstanceId));
        });
    }

    [TestCase("method:AfterKeyWrittenAhead")]
    [TestCase("method:AfterClusterAnswered")]
    [TestCase("engine:AfterCertificatesIssued")]
    [TestCase("engine:MidWrite")]
    [TestCase("engine:AfterPersist")]
    public async Task A_crash_at_any_step_of_a_re_join_never_strands_the_bot(string point)
    {
        var methodPoint = point.StartsWith("method:", StringComparison.Ordinal) ? Enum.Parse<SimulatedRejoinMethod.CrashPoint>(point[7..]) : (SimulatedRejoinMethod.CrashPoint?)null;
        var enginePoint = point.StartsWith("engine:", StringComparison.Ordinal) ? Enum.Parse<RenewalFaultPoint>(point[7..]) : (RenewalFaultPoint?)null;
        using var temp = new TempDirectory("tmid-seam-");
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var storage = temp.Combine("storage");
        for (var round = 0; round < 4; round++)
        {
            var method = new SimulatedRejoinMethod(cluster) { CrashAt = methodPoint };
            var provider = Create(cluster, method, time, Options(storage, null));
            var armed = enginePoint is not null;
            provider.FaultInjector = p =>
            {
                if (armed && p == enginePoint)
                {
                    armed = false;
                    throw new SimulatedCrashException(p);
                }
            };
            await provider.StartAsync();
            for (var attempt = 0; attempt < 3 && !provider.Crashed; attempt++)
            {
                try
                {
                    await provider.RenewNowAsync();
                }
                catch (Exception) when (provider.Crashed)
                {
                }
            }

            Assert.That(provider.Crashed, Is.True, $"round {round}: the crash happened");
            await provider.DisposeAsync();
            time.Advance(TimeSpan.FromMinutes(5));
        }

        // A clean restart joins without operator action, from whatever the crashes left behind.
        await using var restarted = Create(cluster, new SimulatedRejoinMethod(cluster), time, Options(storage, null));
        await restarted.StartAsync();
        var identity = await restarted.RenewNowAsync();
        Assert.Multiple(() =>
        {
            Assert.That(identity.IsExpiredAt(time.GetUtcNow()), Is.False);
            Assert.That(restarted.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That(cluster.BoundKeyRefusals, Is.Zero, "the bound key was never lost");
            Assert.That(cluster.AnyInstanceLocked, Is.False);
        });
    }

    [Test]
    public async Task An_uncertain_renewal_is_recovered_by_joining_again_when_the_method_can()
    {
        using var temp = new TempDirectory("tmid-seam-");
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var storage = temp.Combine("storage");
        var tokenOptions = Options(storage, null);
        tokenOptions.Token = cluster.AddToken();
        await using (var provider = CreateProvider(tokenOptions, cluster, time))
        {
            await provider.StartAsync();
            await provider.WaitUntilReadyAsync();
            cluster.LoseRenewalReplies = true;
            Assert.ThrowsAsync<BotJoinRequiredException>(() => provider.RenewNowAsync());
            cluster.LoseRenewalReplies = false;
        }

        Assert.That(File.Exists(Path.Combine(storage, DirectoryBotIdentityStore.InFlightFileName)), Is.True, "the renewal record says the outcome is unknown");

        // The operator moves the bot to a method that can join again on its own.
        // The stored identity is still valid, so it is served (and presented) while the bot joins again at once.
        await using var restarted = Create(cluster, new SimulatedRejoinMethod(cluster), time, Options(storage, null));
        await restarted.StartAsync();
        await EventuallyAsync(() => restarted.Current?.JoinMethod == SimulatedRejoinMethod.MethodName, "the bot joined again with the new method");
        Assert.Multiple(() =>
        {
            Assert.That(cluster.DelegatedJoins, Is.EqualTo(1));
            Assert.That(cluster.Renewals, Is.EqualTo(1), "no renewal from the uncertain generation");
            Assert.That(restarted.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That(cluster.GenerationMismatches, Is.Zero);
            Assert.That(cluster.AnyInstanceLocked, Is.False);
            Assert.That(File.Exists(Path.Combine(storage, DirectoryBotIdentityStore.InFlightFileName)), Is.False, "the record goes once the new join is stored");
        });
    }

    [Test]
    public async Task An_expired_identity_is_joined_again_unattended_by_a_method_that_can()
    {
        using var temp = new TempDirectory("tmid-seam-");
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var storage = temp.Combine("storage");
        BotIdentity first;
        await using (var provider = Create(cluster, new SimulatedRejoinMethod(cluster), time, Options(storage, null)))
        {
            await provider.StartAsync();
            first = await provider.WaitUntilReadyAsync();
        }

        time.Advance(TimeSpan.FromHours(3));
        await using var restarted = Create(cluster, new SimulatedRejoinMethod(cluster), time, Options(storage, null));
        await restarted.StartAsync();
        var identity = await restarted.WaitUntilReadyAsync();
        Assert.Multiple(() =>
        {
            Assert.That(identity.NotAfter, Is.GreaterThan(time.GetUtcNow()));
            Assert.That(identity.InstanceId, Is.Not.EqualTo(first.InstanceId), "an expired identity is not presented; the cluster makes a new instance");
            Assert.That(cluster.BoundKeyRefusals, Is.Zero);
        });
    }

    [Test]
    public void A_method_validates_its_own_options()
    {
        using var cluster = new SimulatedBotCluster(TimeProvider.System);
        var options = Options(null, null);
        options.JoinMethod = SimulatedRejoinMethod.MethodName;
        options.Token = "not-for-this-method";
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => BotIdentityProvider.CreateInternal(options, null, TimeProvider.System, cluster.ClientFactory, null, JoinMethodRegistry.WithDefaults(new SimulatedRejoinMethod(cluster)), null));
        Assert.That(error!.Message, Does.Contain("sim_rejoin join method takes no token").And.Not.Contain("not-for-this-method"));
    }

    [TestCase("")]
    [TestCase(".hidden")]
    [TestCase("bot-identity.json")]
    [TestCase("lock")]
    [TestCase("../escape")]
    [TestCase("a/b")]
    public async Task Entry_names_that_could_escape_or_collide_are_refused(string name)
    {
        using var temp = new TempDirectory("tmid-seam-");
        await using var store = DirectoryBotIdentityStore.Open(temp.Combine("storage"));
        Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync(name, new byte[] { 1 }, CancellationToken.None));
        Assert.ThrowsAsync<ArgumentException>(() => store.ReadAsync(name, CancellationToken.None));
    }

    [Test]
    public async Task An_oversized_entry_is_refused_on_write_and_on_read()
    {
        using var temp = new TempDirectory("tmid-seam-");
        await using var store = DirectoryBotIdentityStore.Open(temp.Combine("storage"));
        Assert.ThrowsAsync<ArgumentException>(() => store.WriteAsync("big", new byte[JoinMethodState.MaxEntrySize + 1], CancellationToken.None));
        await File.WriteAllBytesAsync(temp.Combine("storage", "planted"), new byte[JoinMethodState.MaxEntrySize + 1]);
        Assert.ThrowsAsync<TeleportFormatException>(() => store.ReadAsync("planted", CancellationToken.None));
    }

    private static BotIdentityProvider Create(SimulatedBotCluster cluster, SimulatedRejoinMethod method, TimeProvider time, MachineIdOptions options)
    {
        options.JoinMethod = SimulatedRejoinMethod.MethodName;
        var random = new Random(3);
        return BotIdentityProvider.CreateInternal(options, null, time, cluster.ClientFactory, null, JoinMethodRegistry.WithDefaults(method), () => random.NextDouble());
    }
}
