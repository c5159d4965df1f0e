using System.Security.Cryptography;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>When to renew and how long to back off; pure functions of the options and a random source.</summary>
internal sealed class RenewalSchedule
{
    /// <summary>Adaptive mode renews at this fraction of the lifetime…</summary>
    public const double AdaptiveFraction = 2.0 / 3.0;

    /// <summary>…plus or minus this much of the lifetime, uniformly.</summary>
    public const double AdaptiveJitter = 0.05;

    /// <summary>Fixed-interval mode never renews later than this fraction of the lifetime.</summary>
    public const double FixedIntervalCeiling = 0.9;

    private readonly MachineIdOptions _options;
    private readonly Func<double> _random;

    public RenewalSchedule(MachineIdOptions options, Func<double>? random = null)
    {
        _options = options;
        _random = random ?? (() => RandomNumberGenerator.GetInt32(int.MaxValue) / (double)int.MaxValue);
    }

    /// <summary>The moment to renew <paramref name="identity"/>, obtained (renewed, joined or loaded) at <paramref name="obtainedAt"/>.</summary>
    public DateTimeOffset NextRenewal(BotIdentity identity, DateTimeOffset obtainedAt)
    {
        var lifetime = identity.NotAfter - identity.NotBefore;
        if (lifetime <= TimeSpan.Zero)
        {
            return obtainedAt;
        }

        if (_options.RenewalMode == BotRenewalMode.FixedInterval)
        {
            var ceiling = identity.NotBefore + (lifetime * FixedIntervalCeiling);
            var next = obtainedAt + _options.RenewalInterval;
            return next < ceiling ? next : ceiling;
        }

        var fraction = AdaptiveFraction + (((_random() * 2) - 1) * AdaptiveJitter);
        return identity.NotBefore + (lifetime * fraction);
    }

    /// <summary>
    /// The delay before retry number <paramref name="failures"/> (1 for the first retry): uniform in
    /// [0, min(max, min·2^(failures−1))] ("full jitter"), but at least a millisecond.
    /// </summary>
    public TimeSpan Backoff(int failures)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        var capTicks = Math.Min(_options.RetryMaxBackoff.Ticks, _options.RetryMinBackoff.Ticks * Math.Pow(2, exponent));
        var ticks = (long)(capTicks * _random());
        return TimeSpan.FromTicks(Math.Max(ticks, TimeSpan.TicksPerMillisecond));
    }

    /// <summary>The upper bound of <see cref="Backoff"/> for <paramref name="failures"/>.</summary>
    public TimeSpan BackoffCap(int failures)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        return TimeSpan.FromTicks((long)Math.Min(_options.RetryMaxBackoff.Ticks, _options.RetryMinBackoff.Ticks * Math.Pow(2, exponent)));
    }
}
