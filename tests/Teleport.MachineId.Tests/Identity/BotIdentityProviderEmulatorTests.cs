using Teleport.MachineId.Destinations;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Identity;

/// <summary>
/// Acceptance of the provider against the cluster emulator over the real wire client (TLS routing
/// proxy on loopback), with simulated time shared by both sides.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class BotIdentityProviderEmulatorTests
{
    [Test]
    public async Task Seven_simulated_days_renew_on_schedule_with_no_gap_in_validity()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        await fixture.WriteNewTokenAsync();
        await using var provider = fixture.CreateProvider();
        var renewals = 0;
        provider.IdentityChanged += (_, e) =>
        {
            if (e.Reason == BotIdentityChangeReason.Renewed)
            {
                renewals++;
            }
        };
        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();
        Assert.That(fixture.Emulator.JoinTokenExists(await File.ReadAllTextAsync(fixture.TokenFile)), Is.False, "the token was used up");

        var start = fixture.Time.GetUtcNow();
        await RunUntilAsync(fixture.Time, provider, start.AddDays(7), now =>
        {
            var current = provider.Current!;
            Assert.That(current.NotBefore, Is.LessThanOrEqualTo(now));
            Assert.That(current.NotAfter, Is.GreaterThan(now), $"gap in validity at {now:u}");
        });

        var instance = fixture.Emulator.BotInstances.Single();
        Assert.Multiple(() =>
        {
            Assert.That(renewals, Is.InRange(7 * 24 * 60 / 43, (7 * 24 * 60 / 37) + 1));
            Assert.That(provider.Current!.Generation, Is.EqualTo(1 + renewals));
            Assert.That(instance.Generation, Is.EqualTo(provider.Current.Generation), "the cluster and the bot agree on the generation");
            Assert.That(instance.InstanceId, Is.EqualTo(joined.InstanceId));
            Assert.That(fixture.GenerationMismatches, Is.Zero);
            Assert.That(fixture.Emulator.Locks, Is.Empty);
            Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That(instance.Heartbeats.Count(h => h.IsStartup), Is.EqualTo(1));
            Assert.That(instance.Heartbeats, Has.Count.InRange(7 * 48, (7 * 48) + 2));
        });
    }

    [Test]
    public async Task An_auth_outage_past_the_margin_degrades_then_recovers_within_one_backoff_step()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        await fixture.WriteNewTokenAsync();
        var options = fixture.Options();
        await using var provider = fixture.CreateProvider(options);
        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();

        fixture.Emulator.Faults.TakeAuthOffline();
        await RunUntilAsync(fixture.Time, provider, joined.NotAfter - TimeSpan.FromMinutes(5), _ => Assert.That(provider.Current, Is.SameAs(joined)));
        var status = provider.Status;
        Assert.Multiple(() =>
        {
            Assert.That(status.Health, Is.EqualTo(BotIdentityHealth.Degraded));
            Assert.That(status.LastError, Is.InstanceOf<TeleportException>().With.Property(nameof(TeleportException.IsTransient)).True);
            Assert.That(status.ConsecutiveFailures, Is.GreaterThan(1));
        });

        fixture.Emulator.Faults.BringAuthOnline();
        await RunUntilAsync(fixture.Time, provider, fixture.Time.GetUtcNow() + options.RetryMaxBackoff);
        Assert.Multiple(() =>
        {
            Assert.That(provider.Current!.Generation, Is.EqualTo(2));
            Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That(fixture.GenerationMismatches, Is.Zero);
            Assert.That(fixture.Emulator.BotInstances.Single().Generation, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task An_outage_past_expiry_is_unhealthy_with_an_actionable_error()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        await fixture.WriteNewTokenAsync();
        await using var provider = fixture.CreateProvider();
        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();
        fixture.Emulator.Faults.TakeAuthOffline();
        await RunUntilAsync(fixture.Time, provider, joined.NotAfter + TimeSpan.FromMinutes(2));

        var status = provider.Status;
        Assert.That(status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
        Assert.That(status.LastError, Is.TypeOf<BotJoinRequiredException>());
        var error = (BotJoinRequiredException)status.LastError!;
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(BotJoinRequiredReason.Expired));
            Assert.That(error.Message, Does.Contain("tctl bots instances add robot").And.Contain(fixture.TokenFile));
        });
    }

    [Test]
    public async Task A_restart_resumes_from_storage_without_a_token_and_a_changed_token_joins_fresh()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        await fixture.WriteNewTokenAsync();
        BotIdentity first;
        await using (var provider = fixture.CreateProvider())
        {
            await provider.StartAsync();
            first = await provider.WaitUntilReadyAsync();
        }

        File.Delete(fixture.TokenFile);
        fixture.Time.Advance(TimeSpan.FromMinutes(5));
        await using (var resumed = fixture.CreateProvider())
        {
            await resumed.StartAsync();
            Assert.That(resumed.Current!.Generation, Is.EqualTo(1));
            var renewed = await resumed.RenewNowAsync();
            Assert.Multiple(() =>
            {
                Assert.That(renewed.InstanceId, Is.EqualTo(first.InstanceId));
                Assert.That(renewed.Generation, Is.EqualTo(2));
            });
        }

        await fixture.WriteNewTokenAsync();
        await using var rejoined = fixture.CreateProvider();
        await rejoined.StartAsync();
        var fresh = await rejoined.WaitUntilReadyAsync();
        Assert.Multiple(() =>
        {
            Assert.That(fresh.InstanceId, Is.Not.EqualTo(first.InstanceId));
            Assert.That(fresh.Generation, Is.EqualTo(1));
            Assert.That(fixture.Emulator.BotInstances, Has.Count.EqualTo(2));
            Assert.That(fixture.GenerationMismatches, Is.Zero);
        });
    }

    [Test]
    public async Task A_second_provider_on_the_same_storage_fails_fast()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        await fixture.WriteNewTokenAsync();
        await using var first = fixture.CreateProvider();
        await first.StartAsync();
        await first.WaitUntilReadyAsync();
        await using var second = fixture.CreateProvider();
        var error = Assert.ThrowsAsync<DestinationException>(() => second.StartAsync());
        Assert.That(error!.Failure, Is.EqualTo(DestinationFailure.Locked));
        Assert.That(fixture.Emulator.BotInstances.Single().Generation, Is.EqualTo(first.Current!.Generation));
    }

    [Test]
    public async Task Two_hundred_crashes_never_cause_a_generation_mismatch_and_uncertain_generations_are_reported()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        await fixture.WriteNewTokenAsync();
        var random = new Random(20261127);
        var points = Enum.GetValues<RenewalFaultPoint>();
        var uncertain = 0;
        for (var crash = 0; crash < 200; crash++)
        {
            var point = points[random.Next(points.Length)];
            var provider = fixture.CreateProvider(seed: crash);
            var armed = true;
            provider.FaultInjector = p =>
            {
                if (armed && p == point)
                {
                    armed = false;
                    throw new SimulatedCrashException(p);
                }
            };
            await provider.StartAsync();
            if (provider.Status.LastError is BotJoinRequiredException { Reason: BotJoinRequiredReason.GenerationUncertain })
            {
                // The last crash left the generation uncertain: the provider said so instead of renewing.
                uncertain++;
                Assert.That(provider.Status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
                await JoinWithNewTokenAsync(fixture, provider);
            }

            // Crash somewhere inside a renewal (the start-up renewal may have crashed already).
            for (var attempt = 0; attempt < 3 && !provider.Crashed; attempt++)
            {
                try
                {
                    await provider.RenewNowAsync(); // may follow a join or start-up renewal still in flight
                }
                catch (Exception) when (provider.Crashed)
                {
                    // The crash, or a call that arrived just after it (the process state is gone).
                }
            }

            Assert.That(provider.Crashed, Is.True, $"crash {crash} at {point}");
            var (storedInstance, storedGeneration) = ReadStored(fixture);
            var serverGeneration = fixture.Emulator.BotInstances.SingleOrDefault(i => i.InstanceId == storedInstance)?.Generation ?? 0;
            await provider.DisposeAsync(); // process state dropped; the lock is released as by process exit

            // Restart: if the cluster moved past what was stored, the new process must know it.
            if (serverGeneration > storedGeneration)
            {
                await using var restarted = fixture.CreateProvider(seed: 1000 + crash);
                await restarted.StartAsync();
                Assert.That(restarted.Status.LastError, Is.TypeOf<BotJoinRequiredException>()
                    .With.Property(nameof(BotJoinRequiredException.Reason)).EqualTo(BotJoinRequiredReason.GenerationUncertain), $"crash {crash} at {point}");
                Assert.That(restarted.Status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
            }

            Assert.Multiple(() =>
            {
                Assert.That(fixture.GenerationMismatches, Is.Zero, $"crash {crash} at {point}");
                Assert.That(fixture.Emulator.Locks, Is.Empty, $"crash {crash} at {point}");
            });
        }

        TestContext.Out.WriteLine($"{uncertain} of 200 restarts needed a fresh join; {fixture.Emulator.BotInstances.Count} bot instances.");
        Assert.That(uncertain, Is.GreaterThan(0));
    }

    private static async Task JoinWithNewTokenAsync(EmulatorBotFixture fixture, BotIdentityProvider provider)
    {
        await fixture.WriteNewTokenAsync();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                await provider.RenewNowAsync(); // joins fresh with the new token
                return;
            }
            catch (Exception) when (provider.Crashed)
            {
                // Crashed while storing the joined identity (mid-write): the next restart reports it again.
                return;
            }
            catch (TeleportException)
            {
                // A join started before the new token was written (with a token a crashed join had
                // consumed) shares this call; the next attempt reads the new token.
            }
        }

        Assert.Fail("The provider did not join with a new token.");
    }

    private static (string? Instance, int Generation) ReadStored(EmulatorBotFixture fixture)
    {
        var path = Path.Combine(fixture.StoragePath, DirectoryBotIdentityStore.IdentityFileName);
        if (!File.Exists(path))
        {
            return (null, 0);
        }

        var stored = BotIdentityStoreFormat.DecodeIdentity(File.ReadAllBytes(path));
        var tls = Tls.TeleportTlsIdentity.FromPem(stored.Material.TlsCertificatePem);
        return (tls.BotInstanceId, tls.Generation);
    }
}
