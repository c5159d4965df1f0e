namespace Teleport.MachineId.Identity.Internal;

/// <summary>When to renew the bot identity; a pure function of the options and a random source.</summary>
internal sealed class RenewalSchedule(MachineIdOptions options, Func<double> random)
{
    /// <summary>Adaptive mode renews at this fraction of the lifetime…</summary>
    public const double AdaptiveFraction = 2.0 / 3.0;

    /// <summary>…plus or minus this much of the lifetime, uniformly.</summary>
    public const double AdaptiveJitter = 0.05;

    /// <summary>Fixed-interval mode never renews later than this fraction of the lifetime.</summary>
    public const double FixedIntervalCeiling = 0.9;

    /// <summary>The moment to renew <paramref name="identity"/>, obtained (renewed, joined or loaded) at <paramref name="obtainedAt"/>.</summary>
    public DateTimeOffset NextRenewal(BotIdentity identity, DateTimeOffset obtainedAt)
    {
        var lifetime = identity.NotAfter - identity.NotBefore;
        if (lifetime <= TimeSpan.Zero)
        {
            return obtainedAt;
        }

        if (options.RenewalMode == BotRenewalMode.FixedInterval)
        {
            var ceiling = identity.NotBefore + (lifetime * FixedIntervalCeiling);
            var next = obtainedAt + options.RenewalInterval;
            return next < ceiling ? next : ceiling;
        }

        var fraction = AdaptiveFraction + (((random() * 2) - 1) * AdaptiveJitter);
        return identity.NotBefore + (lifetime * fraction);
    }
}
