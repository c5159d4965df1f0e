using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Scheduling;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>
/// Drives background loops on a <see cref="FakeTimeProvider"/> deterministically: waits until the
/// loops tracked by a <see cref="LoopActivityTracker"/> are idle, then sets the clock exactly to the
/// next moment one of them waits for — no real-time sleeps, no "one step late".
/// </summary>
internal static class SimulatedTime
{
    /// <summary>Advances to <paramref name="until"/> through every due moment; <paramref name="onStep"/> runs after each step.</summary>
    public static async Task RunUntilAsync(FakeTimeProvider time, LoopActivityTracker activity, DateTimeOffset until, Action<DateTimeOffset>? onStep = null)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while (time.GetUtcNow() < until)
        {
            await StepAsync(time, activity, until, cts.Token);
            onStep?.Invoke(time.GetUtcNow());
        }
    }

    /// <summary>
    /// <see cref="RunUntilAsync(FakeTimeProvider, LoopActivityTracker, DateTimeOffset, Action{DateTimeOffset}?)"/>
    /// for fault drills: a fault can leave a call waiting for a timeout that only simulated time ends
    /// (the loops then never look idle), so when they stay busy for a second of real time the clock
    /// moves on by <paramref name="stalledStep"/>, as it would for a real daemon.
    /// </summary>
    public static async Task RunThroughStallsUntilAsync(FakeTimeProvider time, LoopActivityTracker activity, DateTimeOffset until, TimeSpan stalledStep, Action<DateTimeOffset>? onStep = null)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while (time.GetUtcNow() < until)
        {
            if (!await IdleWithinAsync(activity, TimeSpan.FromSeconds(1), cts.Token))
            {
                var remaining = until - time.GetUtcNow();
                time.Advance(remaining < stalledStep ? remaining : stalledStep);
            }
            else
            {
                var next = activity.NextDue ?? until;
                next = next > until ? until : next <= time.GetUtcNow() ? time.GetUtcNow().AddMilliseconds(1) : next;
                time.SetUtcNow(next);
            }

            onStep?.Invoke(time.GetUtcNow());
        }

        // Let what the last step started settle before the caller looks (bounded: a call may still hang).
        _ = await IdleWithinAsync(activity, TimeSpan.FromSeconds(5), cts.Token);
    }

    private static async Task<bool> IdleWithinAsync(LoopActivityTracker activity, TimeSpan within, CancellationToken cancellationToken)
    {
        using var step = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var idle = activity.WhenIdleAsync(step.Token);
        var done = await Task.WhenAny(idle, Task.Delay(within, cancellationToken)) == idle;
        await step.CancelAsync();
        cancellationToken.ThrowIfCancellationRequested();
        return done;
    }

    /// <summary>Advances through due moments until <paramref name="condition"/> holds (at most to <paramref name="limit"/>).</summary>
    /// <returns>Whether the condition holds.</returns>
    public static async Task<bool> RunUntilAsync(FakeTimeProvider time, LoopActivityTracker activity, Func<bool> condition, DateTimeOffset limit)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await activity.WhenIdleAsync(cts.Token);
        while (!condition() && time.GetUtcNow() < limit)
        {
            await StepAsync(time, activity, limit, cts.Token);
        }

        return condition();
    }

    private static async Task StepAsync(FakeTimeProvider time, LoopActivityTracker activity, DateTimeOffset limit, CancellationToken cancellationToken)
    {
        await activity.WhenIdleAsync(cancellationToken);
        var next = activity.NextDue ?? limit;
        if (next > limit)
        {
            next = limit;
        }

        if (next <= time.GetUtcNow())
        {
            next = time.GetUtcNow().AddMilliseconds(1);
        }

        time.SetUtcNow(next);
        await activity.WhenIdleAsync(cancellationToken);
    }
}
