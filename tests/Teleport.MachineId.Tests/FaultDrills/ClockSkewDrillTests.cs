using Teleport.MachineId.Tests.Cli.Torture;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.FaultDrills;

/// <summary>
/// Fault drill (issue 13): the cluster's clock is 10 minutes ahead of or behind the bot's machine
/// (<see cref="Testing.EmulatorFaults.ClockSkew"/>: Auth issues and checks certificates on its own
/// clock). Over several renewal cycles of default options the bot joins, renews in time by the
/// cluster's clock (the identity it serves is never one the cluster considers expired), stays
/// healthy without re-joining, and its output keeps certificates the cluster issued and accepts.
/// Real sockets to the emulator, simulated time.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class ClockSkewDrillTests
{
    [TestCase(10)]
    [TestCase(-10)]
    public async Task With_the_cluster_clock_ten_minutes_off_the_bot_renews_in_time_by_the_clusters_clock_and_the_output_follows(int skewMinutes)
    {
        var skew = TimeSpan.FromMinutes(skewMinutes);
        await using var drill = await ServingBotDrill.StartAsync(clusterClockSkew: skew);
        var time = drill.Fixture.Time;
        DateTimeOffset ClusterNow() => time.GetUtcNow() + skew;
        Assert.That(drill.Joined.NotBefore, Is.EqualTo(ClusterNow()).Within(TimeSpan.FromMinutes(2)), "the certificate carries the cluster's clock");

        // Four default lifetimes (1 h): renewals at the cluster's pace, every step checked.
        var generations = new SortedSet<long>();
        await RunUntilAsync(time, drill.Provider, time.GetUtcNow() + TimeSpan.FromHours(4), _ =>
        {
            var current = drill.Provider.Current!;
            generations.Add(current.Generation);
            Assert.That(current.NotAfter, Is.GreaterThan(ClusterNow()), $"the bot serves generation {current.Generation}, which the cluster considers expired ({current.NotAfter:u} at cluster time {ClusterNow():u})");
            Assert.That(drill.Provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy), drill.Provider.Status.Description);
        });

        Assert.Multiple(() =>
        {
            Assert.That(generations.Max, Is.GreaterThanOrEqualTo(5), "renewed at least once per lifetime");
            Assert.That(drill.Provider.Current!.InstanceId, Is.EqualTo(drill.Joined.InstanceId), "renewed, never re-joined");
            Assert.That(drill.Provider.Status.ConsecutiveFailures, Is.Zero);
        });

        // The output follows the latest identity with certificates the cluster accepts right now.
        await drill.OutputRewrittenAsync();
        Assert.Multiple(() =>
        {
            Assert.That(drill.Output.Current!.Certificates.NotAfter, Is.GreaterThan(ClusterNow()));
            Assert.That(drill.Output.LastError, Is.Null);
            Assert.That(TortureChecks.DestinationProblem(drill.OutputDirectory), Is.Null);
        });
        drill.AssertNoLockOrMismatch();
    }
}
