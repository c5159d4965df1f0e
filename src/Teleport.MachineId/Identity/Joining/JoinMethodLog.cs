using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>Log messages of the delegated and bound keypair join methods (event ids 1020–1039). Never a token, secret or key.</summary>
internal static partial class JoinMethodLog
{
    [LoggerMessage(EventId = MachineIdEventIds.BotBoundKeypairHistoryUnreadable, EventName = "BotBoundKeypairHistoryUnreadable", Level = LogLevel.Warning,
        Message = "The bound keypair key history in {Storage} is unreadable ({Error}); joining with the active key only (recovery after a cluster rollback may be impossible)")]
    public static partial void HistoryUnreadable(ILogger logger, string storage, string error);

    [LoggerMessage(EventId = MachineIdEventIds.BotIdTokenObtained, EventName = "BotIdTokenObtained", Level = LogLevel.Debug,
        Message = "Obtained an ID token for the {JoinMethod} join method from {Source}")]
    public static partial void IdTokenObtained(ILogger logger, string joinMethod, string source);

    [LoggerMessage(EventId = MachineIdEventIds.BotBoundKeypairJoined, EventName = "BotBoundKeypairJoined", Level = LogLevel.Information,
        Message = "Bound keypair join with token {Token} complete: bound key {PublicKey}; {NewKeys} new key(s) requested by the cluster")]
    public static partial void BoundKeypairJoined(ILogger logger, string token, Crypto.PublicKeyInfo publicKey, int newKeys);
}
