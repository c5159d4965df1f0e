using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Tests.Infrastructure;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Identity;

/// <summary>
/// The provider's lifecycle over days of simulated time (FakeTimeProvider shared with the
/// simulated cluster): schedule, outages, restarts, token changes, lock, lost replies.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class BotIdentityProviderSimulationTests
{
    [Test]
    public async Task Seven_days_renew_on_schedule_without_a_gap_in_validity()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var tokenFile = Path.Combine(dir, "token");
        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        await using var provider = CreateProvider(Options(Path.Combine(dir, "storage"), tokenFile), cluster, time);
        var changes = new List<BotIdentityChangedEventArgs>();
        provider.IdentityChanged += (_, e) => changes.Add(e);
        await provider.StartAsync();
        var first = await provider.WaitUntilReadyAsync();
        Assert.That(first.Generation, Is.EqualTo(1));

        var end = Start.AddDays(7);
        var checks = 0;
        await RunUntilAsync(time, provider, end, now =>
        {
            var current = provider.Current!;
            Assert.That(current.NotBefore, Is.LessThanOrEqualTo(now), "identity not yet valid");
            Assert.That(current.NotAfter, Is.GreaterThan(now), $"gap in validity at {now:u}");
            Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            checks++;
        });

        // 1h certificates renewed at 2/3 ± 5 % of their life: one renewal every 37–43 minutes.
        var renewals = changes.Count(c => c.Reason == BotIdentityChangeReason.Renewed);
        Assert.Multiple(() =>
        {
            Assert.That(renewals, Is.InRange(7 * 24 * 60 / 43, (7 * 24 * 60 / 37) + 1));
            Assert.That(cluster.Joins, Is.EqualTo(1));
            Assert.That(cluster.GenerationMismatches, Is.Zero);
            Assert.That(provider.Current!.Generation, Is.EqualTo(1 + renewals));
            Assert.That(checks, Is.GreaterThan(renewals));
        });

        for (var i = 1; i < changes.Count; i++)
        {
            var previous = changes[i - 1].Identity;
            var next = changes[i].Identity;
            Assert.That(next.Generation, Is.EqualTo(previous.Generation + 1));
            var renewedAt = next.NotBefore + TimeSpan.FromMinutes(1);
            var fraction = (renewedAt - previous.NotBefore) / previous.Lifetime;
            Assert.That(fraction, Is.InRange(0.6, 0.72), "renewed at ~2/3 of the lifetime");
            Assert.That(next.PrivateKey.PublicKey, Is.Not.EqualTo(previous.PrivateKey.PublicKey), "fresh key per renewal");
        }

        // Heartbeats: one at start-up and every 30 minutes.
        Assert.That(cluster.Heartbeats.Count(h => h.IsStartup), Is.EqualTo(1));
        Assert.That(cluster.Heartbeats, Has.Count.InRange(7 * 48, (7 * 48) + 2));
    }

    [Test]
    public async Task Auth_outage_longer_than_the_margin_keeps_serving_then_recovers_within_one_backoff_step()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        await using var provider = CreateProvider(options, cluster, time);
        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();

        // Auth goes away before the first renewal (at ~40 of 60 minutes) and stays away past the margin.
        cluster.AuthDown = true;
        var outageEnd = joined.NotAfter - TimeSpan.FromMinutes(3);
        await RunUntilAsync(time, provider, outageEnd, now =>
        {
            Assert.That(provider.Current, Is.SameAs(joined), "the last identity is still served");
            Assert.That(joined.NotAfter, Is.GreaterThan(now));
        });
        var degraded = provider.Status;
        Assert.Multiple(() =>
        {
            Assert.That(degraded.Health, Is.EqualTo(BotIdentityHealth.Degraded));
            Assert.That(degraded.ConsecutiveFailures, Is.GreaterThan(3));
            Assert.That(degraded.LastError, Is.TypeOf<TeleportConnectionException>());
            Assert.That(degraded.Identity, Is.SameAs(joined));
        });

        cluster.AuthDown = false;
        var backAt = time.GetUtcNow();
        await RunUntilAsync(time, provider, backAt + options.RetryMaxBackoff);
        Assert.Multiple(() =>
        {
            Assert.That(provider.Current!.Generation, Is.EqualTo(2), "renewed within one (capped) backoff step");
            Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That(provider.Status.ConsecutiveFailures, Is.Zero);
            Assert.That(cluster.GenerationMismatches, Is.Zero);
        });
    }

    [Test]
    public async Task Outage_past_expiry_turns_unhealthy_with_an_actionable_error_and_a_new_token_recovers()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var tokenFile = Path.Combine(dir, "token");
        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        await using var provider = CreateProvider(Options(Path.Combine(dir, "storage"), tokenFile), cluster, time);
        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();
        cluster.AuthDown = true;
        await RunUntilAsync(time, provider, joined.NotAfter + TimeSpan.FromMinutes(5));

        var status = provider.Status;
        Assert.That(status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
        var error = status.LastError as BotJoinRequiredException;
        Assert.That(error, Is.Not.Null, status.LastError?.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(error!.Reason, Is.EqualTo(BotJoinRequiredReason.Expired));
            Assert.That(error.Message, Does.Contain("new join token").And.Contain(tokenFile));
            Assert.That(status.Description, Does.Contain("expired"));
            Assert.That(cluster.Joins, Is.EqualTo(1), "the used token is never presented again");
        });

        // Recovery without restart: Auth back and a new token in the file.
        cluster.AuthDown = false;
        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        var rejoinStart = time.GetUtcNow();
        await RunUntilAsync(time, provider, rejoinStart + TimeSpan.FromMinutes(1));
        Assert.Multiple(() =>
        {
            Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That(provider.Current!.InstanceId, Is.Not.EqualTo(joined.InstanceId));
            Assert.That(cluster.Joins, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task Restart_on_the_same_storage_resumes_without_a_token()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var storage = Path.Combine(dir, "storage");
        var tokenFile = Path.Combine(dir, "token");
        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        var first = await StartUntilReadyThenStopAsync(Options(storage, tokenFile), cluster, time);

        File.Delete(tokenFile); // the cluster deleted the token on use; the operator removes the file
        time.Advance(TimeSpan.FromMinutes(10));
        await using var restarted = CreateProvider(Options(storage, tokenFile), cluster, time);
        var reasons = new ConcurrentQueue<BotIdentityChangeReason>();
        restarted.IdentityChanged += (_, e) => reasons.Enqueue(e.Reason);
        await restarted.StartAsync();
        Assert.That(restarted.Current?.InstanceId, Is.EqualTo(first.InstanceId), "loaded from storage at start");
        await EventuallyAsync(() => restarted.Current!.Generation == first.Generation + 1, "the loaded identity is renewed");

        // Handlers run on the renewal task after the identity is published (documented), so wait for them too.
        await EventuallyAsync(() => reasons.Count == 2, "the handlers saw the load and the renewal");
        Assert.Multiple(() =>
        {
            Assert.That(restarted.Current!.InstanceId, Is.EqualTo(first.InstanceId));
            Assert.That(cluster.Joins, Is.EqualTo(1));
            Assert.That(reasons, Is.EqualTo(new[] { BotIdentityChangeReason.LoadedFromStorage, BotIdentityChangeReason.Renewed }));
        });
    }

    [Test]
    public async Task A_changed_token_triggers_a_fresh_join()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var storage = Path.Combine(dir, "storage");
        var tokenFile = Path.Combine(dir, "token");
        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        var first = await StartUntilReadyThenStopAsync(Options(storage, tokenFile), cluster, time);

        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        await using var restarted = CreateProvider(Options(storage, tokenFile), cluster, time);
        var reasons = new ConcurrentQueue<BotIdentityChangeReason>();
        restarted.IdentityChanged += (_, e) => reasons.Enqueue(e.Reason);
        await restarted.StartAsync();
        var second = await restarted.WaitUntilReadyAsync();

        // WaitUntilReadyAsync may return before the handlers have run (they run on the renewal task after publication).
        await EventuallyAsync(() => !reasons.IsEmpty, "the handlers saw the re-join");
        Assert.Multiple(() =>
        {
            Assert.That(second.InstanceId, Is.Not.EqualTo(first.InstanceId));
            Assert.That(second.Generation, Is.EqualTo(1));
            Assert.That(cluster.Joins, Is.EqualTo(2));
            Assert.That(reasons, Is.EqualTo(new[] { BotIdentityChangeReason.Rejoined }));
        });
    }

    [Test]
    public async Task A_second_provider_on_the_same_storage_fails_fast_with_a_lock_error()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(Path.Combine(dir, "storage"), null);
        options.TokenFile = null;
        options.Token = cluster.AddToken();
        await using var first = CreateProvider(options, cluster, time);
        await first.StartAsync();
        await first.WaitUntilReadyAsync();

        await using var second = CreateProvider(options, cluster, time);
        var error = Assert.ThrowsAsync<DestinationException>(() => second.StartAsync());
        Assert.Multiple(() =>
        {
            Assert.That(error!.Failure, Is.EqualTo(DestinationFailure.Locked));
            Assert.That(error.Message, Does.Contain("locked").And.Contain(Path.Combine(dir, "storage")));
            Assert.That(error.Message, Does.Not.Contain(options.Token));
            Assert.That(cluster.Joins, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_lost_renewal_reply_is_never_followed_by_a_renewal_with_the_stale_generation()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var tokenFile = Path.Combine(dir, "token");
        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        var storage = Path.Combine(dir, "storage");
        await using (var provider = CreateProvider(Options(storage, tokenFile), cluster, time))
        {
            await provider.StartAsync();
            var joined = await provider.WaitUntilReadyAsync();
            cluster.LoseRenewalReplies = true;
            var error = Assert.ThrowsAsync<BotJoinRequiredException>(() => provider.RenewNowAsync());
            Assert.That(error!.Reason, Is.EqualTo(BotJoinRequiredReason.GenerationUncertain));
            cluster.LoseRenewalReplies = false;

            // Hours of simulated time: no further renewal is attempted with generation 1.
            await RunUntilAsync(time, provider, joined.NotAfter + TimeSpan.FromHours(2));
            Assert.Multiple(() =>
            {
                Assert.That(cluster.Renewals, Is.EqualTo(1));
                Assert.That(cluster.GenerationMismatches, Is.Zero);
                Assert.That(cluster.AnyInstanceLocked, Is.False);
                Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
                Assert.That(provider.Status.LastError, Is.TypeOf<BotJoinRequiredException>());
            });
        }

        // A restart remembers it (the in-flight record stayed), then a new token joins fresh.
        await using var restarted = CreateProvider(Options(storage, tokenFile), cluster, time);
        await restarted.StartAsync();
        var again = Assert.ThrowsAsync<BotJoinRequiredException>(() => restarted.WaitUntilReadyAsync());
        Assert.That(again!.Reason, Is.AnyOf(BotJoinRequiredReason.GenerationUncertain, BotJoinRequiredReason.Expired));
        await File.WriteAllTextAsync(tokenFile, cluster.AddToken());
        var rejoined = await restarted.RenewNowAsync();
        Assert.Multiple(() =>
        {
            Assert.That(rejoined.Generation, Is.EqualTo(1));
            Assert.That(cluster.GenerationMismatches, Is.Zero);
            Assert.That(restarted.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
        });
    }

    [Test]
    public async Task A_granted_ttl_shorter_than_requested_is_reported_and_followed()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time) { MaxSessionTtl = TimeSpan.FromMinutes(30) };
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        await using var provider = CreateProvider(options, cluster, time);
        var changes = new List<BotIdentityChangedEventArgs>();
        provider.IdentityChanged += (_, e) => changes.Add(e);
        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();
        await RunUntilAsync(time, provider, Start.AddHours(3));
        Assert.Multiple(() =>
        {
            Assert.That(changes[0].IsTtlShortened, Is.True);
            Assert.That(changes[0].GrantedTtl, Is.EqualTo(TimeSpan.FromMinutes(30)));
            Assert.That(changes[0].RequestedTtl, Is.EqualTo(TimeSpan.FromHours(1)));
            Assert.That(joined.Lifetime, Is.EqualTo(TimeSpan.FromMinutes(31)));

            // ~2/3 of 31 minutes: about 9 renewals in 3 hours, never a gap.
            Assert.That(changes.Count(c => c.Reason == BotIdentityChangeReason.Renewed), Is.InRange(7, 10));
            Assert.That(changes.All(c => c.IsTtlShortened), Is.True);
        });
    }

    [Test]
    public async Task Concurrent_renew_now_calls_share_one_renewal()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        await using var provider = CreateProvider(options, cluster, time);
        await provider.StartAsync();
        await provider.WaitUntilReadyAsync();
        using var gate = new ManualResetEventSlim(false);
        cluster.RenewalGate = gate;
        // Every call enters before the (gated) renewal can publish anything.
        var calls = Enumerable.Range(0, 16).Select(_ => provider.RenewNowAsync()).ToArray();
        await Task.Delay(100);
        gate.Set();
        var results = await Task.WhenAll(calls);
        Assert.Multiple(() =>
        {
            Assert.That(results.Distinct(), Has.Exactly(1).Items, "one renewal shared by every caller");
            Assert.That(results[0].Generation, Is.EqualTo(2));
            Assert.That(cluster.Renewals, Is.EqualTo(1));
            Assert.That(cluster.GenerationMismatches, Is.Zero);
        });
    }

    [Test]
    public async Task A_ca_rotation_triggers_one_debounced_renewal_and_init_is_ignored()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        await using var provider = CreateProvider(options, cluster, time);
        var changes = new List<BotIdentityChangedEventArgs>();
        provider.IdentityChanged += (_, e) => changes.Add(e);
        await provider.StartAsync();
        await provider.WaitUntilReadyAsync();
        await EventuallyAsync(() => cluster.WatcherCount == 1, "the CA watch is connected");

        cluster.PublishCaChange("host", "init");
        cluster.PublishCaChange("host", "update_clients");
        cluster.PublishCaChange("user", "update_clients");
        await EventuallyAsync(() => provider.Status.NextAttempt == Start + TeleportDefaults.CaRotationDebounce, "the renewal is scheduled after the debounce");
        await RunUntilAsync(time, provider, Start.AddMinutes(1));
        Assert.Multiple(() =>
        {
            Assert.That(changes.Select(c => c.Reason), Is.EqualTo(new[] { BotIdentityChangeReason.Joined, BotIdentityChangeReason.CertificateAuthorityRotation }));
            Assert.That(cluster.Renewals, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Fixed_interval_mode_renews_every_renewal_interval()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        options.RenewalMode = BotRenewalMode.FixedInterval;
        options.RenewalInterval = TimeSpan.FromMinutes(20);
        await using var provider = CreateProvider(options, cluster, time);
        var times = new List<DateTimeOffset>();
        provider.IdentityChanged += (_, e) => times.Add(time.GetUtcNow());
        await provider.StartAsync();
        await provider.WaitUntilReadyAsync();
        await RunUntilAsync(time, provider, Start.AddHours(2).AddMinutes(1));
        Assert.That(times, Has.Count.EqualTo(7));
        for (var i = 1; i < times.Count; i++)
        {
            Assert.That(times[i] - times[i - 1], Is.EqualTo(TimeSpan.FromMinutes(20)));
        }
    }

    [Test]
    public async Task Watchers_get_the_current_identity_first_then_each_change()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        await using var provider = CreateProvider(options, cluster, time);
        await provider.StartAsync();
        await provider.WaitUntilReadyAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = provider.WatchAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.That(await watch.MoveNextAsync(), Is.True);
        Assert.That(watch.Current.Reason, Is.EqualTo(BotIdentityChangeReason.Joined));
        var renewed = await provider.RenewNowAsync();
        Assert.That(await watch.MoveNextAsync(), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(watch.Current.Reason, Is.EqualTo(BotIdentityChangeReason.Renewed));
            Assert.That(watch.Current.Identity, Is.SameAs(renewed));
            Assert.That(watch.Current.Previous!.Generation, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task The_token_can_come_from_an_environment_variable_and_spans_are_recorded()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var variable = "TMID_TEST_TOKEN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, cluster.AddToken());
        var spans = new System.Collections.Concurrent.ConcurrentBag<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == MachineIdDiagnostics.ActivitySourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllData,
            ActivityStopped = spans.Add,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        try
        {
            var options = Options(null, null);
            options.TokenEnvironmentVariable = variable;
            await using var provider = CreateProvider(options, cluster, time);
            await provider.StartAsync();
            var joined = await provider.WaitUntilReadyAsync();
            var renewed = await provider.RenewNowAsync();
            Assert.Multiple(() =>
            {
                Assert.That(joined.Generation, Is.EqualTo(1));
                Assert.That(spans.Select(s => s.OperationName), Does.Contain("teleport.machineid.bot.join").And.Contain("teleport.machineid.bot.renew"));
                Assert.That(spans.Any(s => s.OperationName == "teleport.machineid.bot.renew" && (int?)s.GetTagItem("teleport.machineid.generation") == renewed.Generation), Is.True);
            });
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Test]
    public async Task Without_identity_or_token_waiting_fails_with_a_join_required_error()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        await using var provider = CreateProvider(Options(null, null), cluster, time);
        await provider.StartAsync();
        var error = Assert.ThrowsAsync<BotJoinRequiredException>(() => provider.WaitUntilReadyAsync());
        Assert.Multiple(() =>
        {
            Assert.That(error!.Reason, Is.EqualTo(BotJoinRequiredReason.NoIdentity));
            Assert.That(error.Message, Does.Contain("No join token is configured"));
            Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
        });
    }

    [Test]
    public async Task Join_or_renew_once_joins_then_renews_from_storage()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(Path.Combine(dir, "storage"), null);
        options.Token = cluster.AddToken();
        var first = await OnceAsync(options, cluster, time);
        var second = await OnceAsync(options, cluster, time);
        Assert.Multiple(() =>
        {
            Assert.That(first.Generation, Is.EqualTo(1));
            Assert.That(second.Generation, Is.EqualTo(2));
            Assert.That(second.InstanceId, Is.EqualTo(first.InstanceId));
            Assert.That(cluster.Joins, Is.EqualTo(1));
        });

        static async Task<BotIdentity> OnceAsync(MachineIdOptions options, SimulatedBotCluster cluster, TimeProvider time)
        {
            await using var provider = CreateProvider(options, cluster, time);
            await provider.OpenAsync(CancellationToken.None);
            return await provider.RenewNowAsync();
        }
    }
}
