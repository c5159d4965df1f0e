using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Tests.Infrastructure;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Identity.Internal;

/// <summary>
/// Issue 13 defect 1: nothing durable may claim a renewal was sent before its request can leave.
/// A crash or a stop while the request is still being prepared (connection, key, request) must not
/// leave the in-flight record, which would strand the bot until an operator issues a new token.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RenewalTransactionTests
{
    [Test]
    public async Task A_crash_while_the_request_is_still_being_prepared_does_not_strand_the_bot()
    {
        using var temp = new TempDirectory("tmid-renewal-");
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(temp.Combine("storage"), null);
        options.Token = cluster.AddToken();
        await using (var provider = CreateProvider(options, cluster, time))
        {
            await provider.StartAsync();
            await provider.WaitUntilReadyAsync();
            cluster.Connecting = _ => throw new SimulatedCrashException(RenewalFaultPoint.BeforeInFlightRecord);
            try
            {
                await provider.RenewNowAsync();
            }
            catch (Exception) when (provider.Crashed)
            {
            }

            Assert.That(provider.Crashed, Is.True);
        }

        cluster.Connecting = null;
        Assert.Multiple(() =>
        {
            Assert.That(cluster.RenewalRequestsSent, Is.Zero, "nothing left the client");
            Assert.That(File.Exists(temp.Combine("storage", DirectoryBotIdentityStore.InFlightFileName)), Is.False, "no record claims a request was sent");
        });

        await using var restarted = CreateProvider(options, cluster, time);
        await restarted.OpenAsync(CancellationToken.None);
        var renewed = await restarted.RenewNowAsync();
        Assert.Multiple(() =>
        {
            Assert.That(renewed.Generation, Is.EqualTo(2), "the restart renews from the stored generation, no new token needed");
            Assert.That(cluster.Joins, Is.EqualTo(1));
            Assert.That(restarted.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That(cluster.GenerationMismatches, Is.Zero);
        });
    }

    [Test]
    public async Task A_stop_while_the_renewal_is_still_connecting_ends_it_after_the_grace_period_without_a_record()
    {
        using var temp = new TempDirectory("tmid-renewal-");
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(temp.Combine("storage"), null);
        options.Token = cluster.AddToken();
        var provider = CreateProvider(options, cluster, time);
        await provider.StartAsync();
        await provider.WaitUntilReadyAsync();
        var connecting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.Connecting = async token =>
        {
            connecting.TrySetResult();
            await Task.Delay(Timeout.Infinite, token); // Auth never answers the connection
        };
        var renewal = provider.RenewNowAsync();
        await connecting.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var stopped = provider.DisposeAsync().AsTask();
        await EventuallyAsync(() => stopped.IsCompleted, "the stop grace period ends on the fake clock", () => time.Advance(TimeSpan.FromSeconds(1)));
        await stopped.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.CatchAsync<OperationCanceledException>(() => renewal);
        cluster.Connecting = null;
        Assert.That(File.Exists(temp.Combine("storage", DirectoryBotIdentityStore.InFlightFileName)), Is.False, "a request that never left is not recorded as sent");

        await using var restarted = CreateProvider(options, cluster, time);
        await restarted.OpenAsync(CancellationToken.None);
        Assert.That((await restarted.RenewNowAsync()).Generation, Is.EqualTo(2), "renewed from storage, no new token needed");
    }

    [Test]
    public async Task A_request_that_may_have_left_keeps_the_record_and_the_restart_reports_one_actionable_error()
    {
        using var temp = new TempDirectory("tmid-renewal-");
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(temp.Combine("storage"), null);
        options.Token = cluster.AddToken();
        await using (var provider = CreateProvider(options, cluster, time))
        {
            await provider.StartAsync();
            await provider.WaitUntilReadyAsync();
            provider.FaultInjector = p =>
            {
                if (p == RenewalFaultPoint.AfterInFlightRecord)
                {
                    throw new SimulatedCrashException(p);
                }
            };
            try
            {
                await provider.RenewNowAsync();
            }
            catch (Exception) when (provider.Crashed)
            {
            }
        }

        // The record is written at the last moment before sending: a crash after it is the
        // protocol's genuinely uncertain window, and the guard against a generation lock holds.
        Assert.That(File.Exists(temp.Combine("storage", DirectoryBotIdentityStore.InFlightFileName)), Is.True);
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var restarted = CreateProvider(options, cluster, time, loggerFactory);
        await restarted.StartAsync();
        var error = Assert.ThrowsAsync<BotJoinRequiredException>(() => restarted.RenewNowAsync());
        await RunUntilAsync(time, restarted, time.GetUtcNow().AddMinutes(10));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Reason, Is.EqualTo(BotJoinRequiredReason.GenerationUncertain));
            Assert.That(error.Message, Does.Contain("tctl bots instances add robot").And.Contain("new join token"));
            Assert.That(logs.Entries.Count(e => e.EventId.Id == MachineIdEventIds.BotJoinRequired), Is.EqualTo(1), "one message, however often it is retried:\n" + logs.AllText);
            Assert.That(cluster.GenerationMismatches, Is.Zero);
            Assert.That(cluster.AnyInstanceLocked, Is.False);
        });
    }
}
