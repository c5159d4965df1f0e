using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>Log messages of the identity provider (event ids 1000s and 2000s). Never tokens, keys or certificate bytes.</summary>
internal static partial class IdentityLog
{
    [LoggerMessage(EventId = MachineIdEventIds.BotStorageOpened, EventName = "BotStorageOpened", Level = LogLevel.Debug,
        Message = "Bot storage {Storage} opened")]
    public static partial void StorageOpened(ILogger logger, string storage);

    [LoggerMessage(EventId = MachineIdEventIds.BotIdentityLoaded, EventName = "BotIdentityLoaded", Level = LogLevel.Information,
        Message = "Loaded bot identity {Username}@{Cluster} generation {Generation} (valid until {NotAfter:o}) from {Storage}")]
    public static partial void IdentityLoaded(ILogger logger, string username, string cluster, int generation, DateTimeOffset notAfter, string storage);

    [LoggerMessage(EventId = MachineIdEventIds.BotStoredIdentityDiscarded, EventName = "BotStoredIdentityDiscarded", Level = LogLevel.Warning,
        Message = "Not using the identity stored in {Storage}: {Reason}")]
    public static partial void StoredIdentityDiscarded(ILogger logger, string storage, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.BotStaleRenewalRecordCleared, EventName = "BotStaleRenewalRecordCleared", Level = LogLevel.Information,
        Message = "Removed a stale renewal record (from generation {FromGeneration}; the stored identity has generation {Generation})")]
    public static partial void StaleRecordCleared(ILogger logger, int fromGeneration, int generation);

    [LoggerMessage(EventId = MachineIdEventIds.BotJoining, EventName = "BotJoining", Level = LogLevel.Information,
        Message = "Joining the cluster through {Address} with join method {JoinMethod}, token from {TokenSource}")]
    public static partial void Joining(ILogger logger, string address, string joinMethod, string tokenSource);

    [LoggerMessage(EventId = MachineIdEventIds.BotJoined, EventName = "BotJoined", Level = LogLevel.Information,
        Message = "Joined as {Username}@{Cluster}, bot instance {InstanceId}, generation {Generation}, valid until {NotAfter:o}")]
    public static partial void Joined(ILogger logger, string username, string cluster, string? instanceId, int generation, DateTimeOffset notAfter);

    [LoggerMessage(EventId = MachineIdEventIds.BotJoinFailed, EventName = "BotJoinFailed", Level = LogLevel.Warning,
        Message = "Joining failed (attempt {Attempt}); retrying in {RetryIn}")]
    public static partial void JoinFailed(ILogger logger, Exception exception, int attempt, TimeSpan retryIn);

    [LoggerMessage(EventId = MachineIdEventIds.BotAttemptFailed, EventName = "BotAttemptFailed", Level = LogLevel.Debug,
        Message = "The one-shot join or renewal failed (attempt {Attempt}); the caller reports it")]
    public static partial void AttemptFailed(ILogger logger, Exception exception, int attempt);

    [LoggerMessage(EventId = MachineIdEventIds.BotJoinRequired, EventName = "BotJoinRequired", Level = LogLevel.Error,
        Message = "{Message}")]
    public static partial void JoinRequired(ILogger logger, string message);

    [LoggerMessage(EventId = MachineIdEventIds.BotTokenChanged, EventName = "BotTokenChanged", Level = LogLevel.Information,
        Message = "The configured join token differs from the one that produced the stored identity; joining again")]
    public static partial void TokenChanged(ILogger logger);

    [LoggerMessage(EventId = MachineIdEventIds.BotRejoiningUnattended, EventName = "BotRejoiningUnattended", Level = LogLevel.Warning,
        Message = "A renewal from generation {Generation} was interrupted after it may have reached the cluster; joining again with join method {JoinMethod}, which needs no new secret")]
    public static partial void RejoiningAfterUncertainRenewal(ILogger logger, int generation, string joinMethod);

    [LoggerMessage(EventId = MachineIdEventIds.BotRenewing, EventName = "BotRenewing", Level = LogLevel.Debug,
        Message = "Renewing bot identity generation {Generation} (valid until {NotAfter:o}), reason {Reason}")]
    public static partial void Renewing(ILogger logger, int generation, DateTimeOffset notAfter, BotIdentityChangeReason reason);

    [LoggerMessage(EventId = MachineIdEventIds.BotRenewed, EventName = "BotRenewed", Level = LogLevel.Information,
        Message = "Renewed bot identity {Username}@{Cluster}: generation {Generation}, valid until {NotAfter:o}")]
    public static partial void Renewed(ILogger logger, string username, string cluster, int generation, DateTimeOffset notAfter);

    [LoggerMessage(EventId = MachineIdEventIds.BotRenewalFailed, EventName = "BotRenewalFailed", Level = LogLevel.Warning,
        Message = "Renewing the bot identity failed (attempt {Attempt}); still serving generation {Generation} valid until {NotAfter:o}; retrying in {RetryIn}")]
    public static partial void RenewalFailed(ILogger logger, Exception exception, int attempt, int generation, DateTimeOffset notAfter, TimeSpan retryIn);

    [LoggerMessage(EventId = MachineIdEventIds.BotTtlShortened, EventName = "BotTtlShortened", Level = LogLevel.Warning,
        Message = "The cluster granted {Granted} instead of the requested {Requested} (the bot role's max_session_ttl, or Teleport's 7-day limit); renewals follow the shorter lifetime")]
    public static partial void TtlShortened(ILogger logger, TimeSpan granted, TimeSpan requested);

    [LoggerMessage(EventId = MachineIdEventIds.BotRenewalScheduled, EventName = "BotRenewalScheduled", Level = LogLevel.Debug,
        Message = "Next renewal at {At:o}")]
    public static partial void RenewalScheduled(ILogger logger, DateTimeOffset at);

    [LoggerMessage(EventId = MachineIdEventIds.BotRenewalOutcomeUnknown, EventName = "BotRenewalOutcomeUnknown", Level = LogLevel.Debug,
        Message = "The renewal from generation {Generation} got no answer after its request may have reached the cluster")]
    public static partial void RenewalOutcomeUnknown(ILogger logger, Exception exception, int generation);

    [LoggerMessage(EventId = MachineIdEventIds.BotIdentityExpired, EventName = "BotIdentityExpired", Level = LogLevel.Error,
        Message = "The bot identity expired at {NotAfter:o} before it could be renewed")]
    public static partial void IdentityExpired(ILogger logger, DateTimeOffset notAfter);

    [LoggerMessage(EventId = MachineIdEventIds.BotCaRotationDetected, EventName = "BotCaRotationDetected", Level = LogLevel.Information,
        Message = "The {CaType} certificate authority of {Cluster} entered rotation phase {Phase}; renewing in {Debounce}")]
    public static partial void CaRotationDetected(ILogger logger, string caType, string cluster, string phase, TimeSpan debounce);

    [LoggerMessage(EventId = MachineIdEventIds.BotCaWatchFailed, EventName = "BotCaWatchFailed", Level = LogLevel.Debug,
        Message = "The certificate authority watch ended; reconnecting in {RetryIn}")]
    public static partial void CaWatchFailed(ILogger logger, Exception? exception, TimeSpan retryIn);

    [LoggerMessage(EventId = MachineIdEventIds.BotCaWatchNotSupported, EventName = "BotCaWatchNotSupported", Level = LogLevel.Information,
        Message = "The cluster does not support watching certificate authorities; CA rotations are picked up at the next renewal")]
    public static partial void CaWatchNotSupported(ILogger logger);

    [LoggerMessage(EventId = MachineIdEventIds.BotHeartbeatSubmitted, EventName = "BotHeartbeatSubmitted", Level = LogLevel.Debug,
        Message = "Submitted a bot instance heartbeat (startup: {IsStartup})")]
    public static partial void HeartbeatSubmitted(ILogger logger, bool isStartup);

    [LoggerMessage(EventId = MachineIdEventIds.BotHeartbeatFailed, EventName = "BotHeartbeatFailed", Level = LogLevel.Debug,
        Message = "Submitting a bot instance heartbeat failed (attempt {Attempt})")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception, int attempt);

    [LoggerMessage(EventId = MachineIdEventIds.BotHeartbeatsNotSupported, EventName = "BotHeartbeatsNotSupported", Level = LogLevel.Information,
        Message = "The cluster does not implement bot instance heartbeats; not sending them")]
    public static partial void HeartbeatsNotSupported(ILogger logger);

    [LoggerMessage(EventId = MachineIdEventIds.BotIdentityChangedHandlerFailed, EventName = "BotIdentityChangedHandlerFailed", Level = LogLevel.Warning,
        Message = "An IdentityChanged handler threw; ignored")]
    public static partial void ChangedHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = MachineIdEventIds.BotUnexpectedGeneration, EventName = "BotUnexpectedGeneration", Level = LogLevel.Warning,
        Message = "The renewed identity has generation {Generation}; expected {Expected}")]
    public static partial void UnexpectedGeneration(ILogger logger, int generation, int expected);

    [LoggerMessage(EventId = MachineIdEventIds.BotRenewalRecordClearFailed, EventName = "BotRenewalRecordClearFailed", Level = LogLevel.Warning,
        Message = "Could not remove the renewal record after a renewal; it is stale and will be removed at the next start")]
    public static partial void RecordClearFailed(ILogger logger, Exception exception);
}
