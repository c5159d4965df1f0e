using System.Security.Cryptography;

namespace Teleport.MachineId.Scheduling;

/// <summary>
/// Exponential backoff with full jitter, shared by every retry loop (bot renewals, heartbeats, the CA
/// watch, identity outputs): retry <c>n</c> waits a uniform random time in
/// <c>[0, min(max, min·2^(n−1))]</c>, at least a millisecond. Deterministic when given a seeded
/// random source (tests).
/// </summary>
/// <remarks>Full jitter spreads the retries of many bots after a shared outage instead of synchronising them.</remarks>
internal sealed class Backoff
{
    private readonly TimeSpan _min;
    private readonly TimeSpan _max;
    private readonly Func<double> _random;

    /// <param name="min">The cap of the first retry.</param>
    /// <param name="max">The largest cap.</param>
    /// <param name="random">Uniform values in [0, 1); a cryptographic source by default.</param>
    public Backoff(TimeSpan min, TimeSpan max, Func<double>? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(min, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, min);
        _min = min;
        _max = max;
        _random = random ?? SharedRandom;
    }

    /// <summary>Uniform values in [0, 1) from the cryptographic generator (no shared mutable state).</summary>
    public static Func<double> SharedRandom { get; } = static () => RandomNumberGenerator.GetInt32(int.MaxValue) / (double)int.MaxValue;

    /// <summary>The delay before retry number <paramref name="failures"/> (1 for the first retry).</summary>
    public TimeSpan Next(int failures)
    {
        var ticks = (long)(Cap(failures).Ticks * _random());
        return TimeSpan.FromTicks(Math.Max(ticks, TimeSpan.TicksPerMillisecond));
    }

    /// <summary>The upper bound of <see cref="Next"/> for <paramref name="failures"/>.</summary>
    public TimeSpan Cap(int failures)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        return TimeSpan.FromTicks((long)Math.Min(_max.Ticks, _min.Ticks * Math.Pow(2, exponent)));
    }
}
