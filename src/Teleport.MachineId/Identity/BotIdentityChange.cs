namespace Teleport.MachineId;

/// <summary>Why the bot identity changed.</summary>
public enum BotIdentityChangeReason
{
    /// <summary>A valid identity was read from storage at start-up (it is renewed right after).</summary>
    LoadedFromStorage = 0,

    /// <summary>The bot joined the cluster for the first time (no usable identity was stored).</summary>
    Joined = 1,

    /// <summary>The identity was renewed (scheduled or requested through <see cref="IBotIdentityProvider.RenewNowAsync"/>).</summary>
    Renewed = 2,

    /// <summary>
    /// The bot joined again: its identity expired, could not be renewed safely, its join method
    /// is not renewable, or the configured token changed.
    /// </summary>
    Rejoined = 3,

    /// <summary>The identity was renewed because the cluster rotated a certificate authority.</summary>
    CertificateAuthorityRotation = 4,
}

/// <summary>Describes one change of the bot identity.</summary>
/// <remarks>Immutable; the same instance is passed to the event and to every async-enumerable watcher.</remarks>
public sealed class BotIdentityChangedEventArgs : EventArgs
{
    /// <summary>Creates the description of a change.</summary>
    /// <param name="identity">The new identity.</param>
    /// <param name="previous">The identity it replaces, if any.</param>
    /// <param name="reason">Why it changed.</param>
    /// <param name="requestedTtl">The lifetime requested from the cluster (zero for <see cref="BotIdentityChangeReason.LoadedFromStorage"/>).</param>
    /// <param name="grantedTtl">The lifetime the cluster granted, measured from the moment of issue.</param>
    public BotIdentityChangedEventArgs(BotIdentity identity, BotIdentity? previous, BotIdentityChangeReason reason, TimeSpan requestedTtl, TimeSpan grantedTtl)
    {
        ArgumentNullException.ThrowIfNull(identity);
        Identity = identity;
        Previous = previous;
        Reason = reason;
        RequestedTtl = requestedTtl;
        GrantedTtl = grantedTtl;
    }

    /// <summary>The new identity.</summary>
    public BotIdentity Identity { get; }

    /// <summary>The identity it replaces, or <see langword="null"/> for the first one.</summary>
    public BotIdentity? Previous { get; }

    /// <summary>Why the identity changed.</summary>
    public BotIdentityChangeReason Reason { get; }

    /// <summary>The lifetime requested (<see cref="MachineIdOptions.CredentialTtl"/>); zero when nothing was requested.</summary>
    public TimeSpan RequestedTtl { get; }

    /// <summary>The lifetime granted, from the moment of issue to the identity's <see cref="BotIdentity.NotAfter"/>.</summary>
    public TimeSpan GrantedTtl { get; }

    /// <summary>
    /// Whether the cluster granted noticeably less than requested (more than a minute less), for
    /// example because of the bot role's <c>max_session_ttl</c>. Renewals then follow the shorter lifetime.
    /// </summary>
    public bool IsTtlShortened => RequestedTtl > TimeSpan.Zero && GrantedTtl < RequestedTtl - TimeSpan.FromMinutes(1);
}

/// <summary>The health of a bot identity provider.</summary>
public enum BotIdentityHealth
{
    /// <summary>Started, no identity yet (joining or loading).</summary>
    Initializing = 0,

    /// <summary>A valid identity is served and the last join or renewal succeeded.</summary>
    Healthy = 1,

    /// <summary>A valid identity is still served, but the last renewal failed; retries continue.</summary>
    Degraded = 2,

    /// <summary>
    /// No valid identity: it expired, cannot be renewed safely, or no join is possible. The
    /// <see cref="BotIdentityStatus.LastError"/> says what to do.
    /// </summary>
    Unhealthy = 3,
}

/// <summary>A snapshot of a provider's state, for health checks and diagnostics.</summary>
/// <param name="Health">The overall health.</param>
/// <param name="Description">A one-line explanation (no secrets).</param>
/// <param name="Identity">The identity served, possibly expired, or <see langword="null"/>.</param>
/// <param name="LastError">The last failure since the last success, or <see langword="null"/>.</param>
/// <param name="ConsecutiveFailures">Failed attempts since the last success.</param>
/// <param name="NextAttempt">When the next renewal or join attempt is due, if scheduled.</param>
/// <param name="UpdatedAt">When this status was computed (provider clock).</param>
public sealed record BotIdentityStatus(
    BotIdentityHealth Health,
    string Description,
    BotIdentity? Identity,
    Exception? LastError,
    int ConsecutiveFailures,
    DateTimeOffset? NextAttempt,
    DateTimeOffset UpdatedAt);
