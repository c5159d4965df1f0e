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
