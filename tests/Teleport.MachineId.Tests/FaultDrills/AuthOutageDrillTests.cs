using Microsoft.Extensions.Diagnostics.HealthChecks;
using Teleport.MachineId.Hosting;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Tests.Cli.Torture;
using Teleport.MachineId.Tests.Identity;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.FaultDrills;

/// <summary>
/// Fault drill (issue 13): Auth goes offline for longer than the renewal margin while the bot and
/// an identity output serve — the old identity and the output's files stay in use while valid, the
/// health check turns degraded, then unhealthy past expiry; when Auth returns the bot recovers
/// within one backoff step (past expiry with the new token an operator configured) and the output
/// is rewritten, one consistent set throughout. Real sockets to the emulator, simulated time.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class AuthOutageDrillTests
{
    [Test]
    public async Task Auth_back_before_expiry_the_bot_renews_within_one_backoff_step_and_the_output_follows()
    {
        await using var drill = await ServingBotDrill.StartAsync();
        await drill.OfflinePastTheRenewalMarginAsync();

        drill.Fixture.Emulator.Faults.BringAuthOnline();
        await RunThroughStallsUntilAsync(drill.Fixture.Time, drill.Provider, drill.Fixture.Time.GetUtcNow() + drill.Options.RetryMaxBackoff);

        Assert.Multiple(async () =>
        {
            Assert.That(drill.Provider.Current!.Generation, Is.EqualTo(2), "renewed, not re-joined");
            Assert.That(drill.Provider.Current.InstanceId, Is.EqualTo(drill.Joined.InstanceId));
            Assert.That(drill.Provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That((await drill.HealthAsync()).Status, Is.EqualTo(HealthStatus.Healthy));
        });
        await drill.OutputRewrittenAsync();
        drill.AssertNoLockOrMismatch();
    }

    [Test]
    public async Task Auth_back_after_expiry_the_bot_is_unhealthy_until_a_new_token_then_rejoins_within_one_backoff_step()
    {
        await using var drill = await ServingBotDrill.StartAsync();
        await drill.OfflinePastTheRenewalMarginAsync();

        await RunThroughStallsUntilAsync(drill.Fixture.Time, drill.Provider, drill.Joined.NotAfter + TimeSpan.FromMinutes(2));
        var status = drill.Provider.Status;
        Assert.Multiple(async () =>
        {
            Assert.That(status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
            Assert.That(status.LastError, Is.TypeOf<BotJoinRequiredException>().With.Property(nameof(BotJoinRequiredException.Reason)).EqualTo(BotJoinRequiredReason.Expired));
            Assert.That((await drill.HealthAsync()).Status, Is.EqualTo(HealthStatus.Unhealthy));
            Assert.That(drill.DataTarget(), Is.EqualTo(drill.FirstDataTarget), "the expired set stays in place, whole");
            Assert.That(TortureChecks.DestinationProblem(drill.OutputDirectory), Is.Null);
        });

        // The operator's part: a new token (the old one is spent), then Auth returns.
        await drill.Fixture.WriteNewTokenAsync();
        drill.Fixture.Emulator.Faults.BringAuthOnline();
        await RunThroughStallsUntilAsync(drill.Fixture.Time, drill.Provider, drill.Fixture.Time.GetUtcNow() + drill.Options.RetryMaxBackoff);

        Assert.Multiple(async () =>
        {
            Assert.That(drill.Provider.Current!.IsExpiredAt(drill.Fixture.Time.GetUtcNow()), Is.False, "joined again");
            Assert.That(drill.Provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That((await drill.HealthAsync()).Status, Is.EqualTo(HealthStatus.Healthy));
        });
        await drill.OutputRewrittenAsync();
        drill.AssertNoLockOrMismatch();
    }
}
