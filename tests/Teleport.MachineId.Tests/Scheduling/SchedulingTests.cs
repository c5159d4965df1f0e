using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Scheduling;

namespace Teleport.MachineId.Tests.Scheduling;

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class BackoffTests
{
    [Test]
    public void Backoff_is_full_jitter_below_a_doubling_cap()
    {
        var high = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), () => 0.999999);
        var low = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), () => 0.0);
        Assert.Multiple(() =>
        {
            Assert.That(high.Cap(1), Is.EqualTo(TimeSpan.FromSeconds(1)));
            Assert.That(high.Cap(4), Is.EqualTo(TimeSpan.FromSeconds(8)));
            Assert.That(high.Cap(7), Is.EqualTo(TimeSpan.FromMinutes(1)));
            Assert.That(high.Cap(1000), Is.EqualTo(TimeSpan.FromMinutes(1)));
            Assert.That(high.Next(4), Is.LessThanOrEqualTo(TimeSpan.FromSeconds(8)).And.GreaterThan(TimeSpan.FromSeconds(7.9)));
            Assert.That(low.Next(4), Is.EqualTo(TimeSpan.FromMilliseconds(1)));
        });
    }

    [Test]
    public void The_same_seed_gives_the_same_delays()
    {
        var first = new Random(42);
        var second = new Random(42);
        var a = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), first.NextDouble);
        var b = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), second.NextDouble);
        Assert.That(Enumerable.Range(1, 20).Select(a.Next), Is.EqualTo(Enumerable.Range(1, 20).Select(b.Next)));
    }
}

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class WaitOrWakeTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task A_wait_ends_at_its_due_time_on_the_fake_clock_and_the_tracker_knows_when()
    {
        var time = new FakeTimeProvider(Start);
        var activity = new LoopActivityTracker(time);
        var wait = new WaitOrWake(time, activity);
        var woken = (bool?)null;
        var loop = activity.Run(async () => woken = await wait.WaitAsync(Start.AddMinutes(5), CancellationToken.None));
        await activity.WhenIdleAsync(CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That(activity.NextDue, Is.EqualTo(Start.AddMinutes(5)));
            Assert.That(loop.IsCompleted, Is.False);
        });

        time.Advance(TimeSpan.FromMinutes(5));
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(woken, Is.False, "the time came");
    }

    [Test]
    public async Task A_wake_ends_the_wait_and_one_that_came_while_busy_ends_the_next_wait_at_once()
    {
        var time = new FakeTimeProvider(Start);
        var activity = new LoopActivityTracker(time);
        var wait = new WaitOrWake(time, activity);
        var first = activity.Run(async () => Assert.That(await wait.WaitAsync(Start.AddDays(1), CancellationToken.None), Is.True));
        await activity.WhenIdleAsync(CancellationToken.None);
        wait.Wake();
        await first.WaitAsync(TimeSpan.FromSeconds(30));

        wait.Wake(); // while nobody waits
        var second = activity.Run(async () => Assert.That(await wait.WaitAsync(Start.AddDays(1), CancellationToken.None), Is.True));
        await second.WaitAsync(TimeSpan.FromSeconds(30));

        wait.Wake();
        wait.Clear(); // the loop is about to do the work anyway
        var third = activity.Run(async () => Assert.That(await wait.WaitAsync(Start.AddMinutes(1), CancellationToken.None), Is.False));
        await activity.WhenIdleAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        await third.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task Cancellation_ends_the_wait_without_throwing()
    {
        var time = new FakeTimeProvider(Start);
        var activity = new LoopActivityTracker(time);
        var wait = new WaitOrWake(time, activity);
        using var stop = new CancellationTokenSource();
        var loop = activity.Run(async () => Assert.That(await wait.WaitAsync(Start.AddDays(3), stop.Token), Is.False));
        await activity.WhenIdleAsync(CancellationToken.None);
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
