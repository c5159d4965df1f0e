using Teleport.MachineId.Identity.Joining;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// The errors that need an operator, each one message saying what happened and what to do (the
/// README's "Recovering a bot" section explains the same). Never a secret: the token source is
/// described, not read.
/// </summary>
internal sealed class BotRecoveryMessages(JoinSecretSource secret)
{
    /// <summary>The identity expired; a <c>token</c> identity cannot be renewed after expiry.</summary>
    public BotJoinRequiredException Expired(BotIdentity identity) => new(
        BotJoinRequiredReason.Expired,
        $"The bot identity expired at {identity.NotAfter:u} and a token-joined identity cannot be renewed after it expires. "
        + NewTokenAdvice(identity.BotName));

    /// <summary>A renewal from the stored generation may have reached the cluster (a crash or a lost answer).</summary>
    public BotJoinRequiredException GenerationUncertain(BotIdentity identity, DateTimeOffset? startedAt, Exception? cause = null) => new(
        BotJoinRequiredReason.GenerationUncertain,
        $"A renewal of bot '{identity.BotName}' from generation {identity.Generation}"
        + (startedAt is { } at && at != DateTimeOffset.MinValue ? $" (started {at:u})" : string.Empty)
        + " was interrupted after its request may have reached the cluster, so the cluster may already be at a newer generation; "
        + "renewing from the stored generation would make Teleport lock the bot, so it is not attempted"
        + (cause is null ? ". " : $" (the identity stays usable until {identity.NotAfter:u}). ")
        + NewTokenAdvice(identity.BotName),
        cause);

    /// <summary>The cluster issued renewed certificates this client cannot use: the cluster moved past the stored generation.</summary>
    public BotJoinRequiredException UnusableRenewal(Exception cause) => new(
        BotJoinRequiredReason.GenerationUncertain,
        "The cluster issued renewed certificates that this client cannot use, so the cluster has moved past the stored generation. "
        + NewTokenAdvice(null),
        cause);

    /// <summary>The renewed identity could not be stored: the cluster already expects the new generation.</summary>
    public BotJoinRequiredException NotStored(string storage, Exception cause) => new(
        BotJoinRequiredReason.GenerationUncertain,
        $"The renewed identity could not be stored durably in {storage} ({cause.Message}), so it is not used; the cluster already "
        + "expects the new generation. Fix the storage; then: " + NewTokenAdvice(null),
        cause);

    /// <summary>The cluster refused to renew (locked or deleted bot).</summary>
    public BotJoinRequiredException RenewalRefused(BotIdentity identity, Exception cause) => new(
        BotJoinRequiredReason.RenewalRefused,
        $"The cluster refused to renew bot '{identity.BotName}' (generation {identity.Generation}): {cause.Message} "
        + "The bot may be locked or deleted; check 'tctl get locks' and 'tctl bots ls', then configure a new join token.",
        cause);

    /// <summary>
    /// No usable token for a join that is needed: <paramref name="pending"/> says why a join is
    /// needed (if known), <paramref name="used"/> whether the configured token is the one already spent.
    /// </summary>
    public BotJoinRequiredException NoUsableToken(BotJoinRequiredException? pending, BotIdentity? current, DateTimeOffset now, bool used)
    {
        var reason = pending?.Reason
            ?? (current is null ? BotJoinRequiredReason.NoIdentity : current.IsExpiredAt(now) ? BotJoinRequiredReason.Expired : BotJoinRequiredReason.RenewalRefused);
        if (pending is not null && used)
        {
            // The pending message already says to configure a new token; the configured one is the spent one.
            return new BotJoinRequiredException(reason, pending.Message + $" The token configured now ({secret.Description}) is the one already used.", pending.InnerException);
        }

        if (pending is not null)
        {
            return new BotJoinRequiredException(reason, pending.Message, pending.InnerException);
        }

        var why = current is null
            ? "The bot has no stored identity, so it must join the cluster."
            : current.IsExpiredAt(now)
                ? Expired(current).Message
                : "The bot identity cannot be renewed.";
        var tokenProblem = used
            ? $" The configured token ({secret.Description}) was already used to join and cannot be used again; configure a new one."
            : secret.IsConfigured
                ? $" No token is available from {secret.Description}; write a new join token there."
                : " No join token is configured; set Token, TokenFile or TokenEnvironmentVariable.";
        return new BotJoinRequiredException(reason, why + tokenProblem);
    }

    private string NewTokenAdvice(string? botName) =>
        (botName is null
            ? "Create a new join token for the bot"
            : $"Create a new join token for bot '{botName}' (tctl bots instances add {botName})")
        + $" and configure it ({secret.Description}); the bot then joins again with it, keeping its storage and its outputs' destinations.";
}
