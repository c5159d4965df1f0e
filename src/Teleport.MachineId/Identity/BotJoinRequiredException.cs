namespace Teleport.MachineId;

/// <summary>Why the bot cannot continue without joining the cluster again.</summary>
public enum BotJoinRequiredReason
{
    /// <summary>There is no stored identity and no join token is configured.</summary>
    NoIdentity = 0,

    /// <summary>The stored identity expired; a token-joined identity cannot be renewed after expiry.</summary>
    Expired = 1,

    /// <summary>
    /// A renewal was interrupted after it may have reached the cluster (crash or lost reply), so
    /// the cluster may already hold a newer generation than the stored one. Renewing with the
    /// stored generation would make Teleport lock the bot, so it is not attempted.
    /// </summary>
    GenerationUncertain = 2,

    /// <summary>The cluster refused to renew the identity (for example the bot was locked or deleted).</summary>
    RenewalRefused = 3,

    /// <summary>The stored identity cannot be read or does not verify.</summary>
    StoredIdentityUnusable = 4,
}

/// <summary>
/// The bot needs a fresh join with a new join token before it can get a valid identity again.
/// The message says why and what to do.
/// </summary>
/// <remarks>
/// Raised (and reported through <see cref="BotIdentityStatus.LastError"/>) when the stored identity
/// expired, when a renewal may have advanced the cluster's generation past the stored one, or when
/// no identity and no token exist. A provider keeps checking its token source, so writing a new
/// token to <see cref="MachineIdOptions.TokenFile"/> (or the environment variable) recovers
/// without a restart.
/// </remarks>
public sealed class BotJoinRequiredException : TeleportException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why a join is needed.</param>
    /// <param name="message">What happened and what to do.</param>
    public BotJoinRequiredException(BotJoinRequiredReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception with an underlying cause.</summary>
    /// <param name="reason">Why a join is needed.</param>
    /// <param name="message">What happened and what to do.</param>
    /// <param name="innerException">The underlying cause.</param>
    public BotJoinRequiredException(BotJoinRequiredReason reason, string message, Exception? innerException)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>Why a join is needed.</summary>
    public BotJoinRequiredReason Reason { get; }
}
