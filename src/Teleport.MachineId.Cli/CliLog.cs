using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Cli;

/// <summary>The CLI's own log messages (event ids 4050–4069 of the outputs range).</summary>
internal static partial class CliLog
{
    [LoggerMessage(EventId = 4050, EventName = "CliBotReady", Level = LogLevel.Information, Message = "Bot identity ready: {Identity}")]
    public static partial void BotReady(ILogger logger, BotIdentity identity);

    [LoggerMessage(EventId = 4051, EventName = "CliOneshotDone", Level = LogLevel.Information, Message = "One-shot run complete: {Count} identity output(s) written")]
    public static partial void OneshotDone(ILogger logger, int count);

    [LoggerMessage(EventId = 4052, EventName = "CliRunning", Level = LogLevel.Information, Message = "All {Count} output(s) written; renewing until stopped")]
    public static partial void Running(ILogger logger, int count);

    [LoggerMessage(EventId = 4053, EventName = "CliStopping", Level = LogLevel.Information, Message = "Stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 4054, EventName = "CliConfigurationWarning", Level = LogLevel.Warning, Message = "{Source}: {Warning}")]
    public static partial void ConfigurationWarning(ILogger logger, string source, string warning);

    [LoggerMessage(EventId = 4055, EventName = "CliFailed", Level = LogLevel.Error, Message = "{Message}")]
    public static partial void Failed(ILogger logger, string message, Exception exception);

    [LoggerMessage(EventId = 4057, EventName = "CliRetrying", Level = LogLevel.Warning, Message = "Attempt {Attempt} of {Attempts} failed, retrying: {Reason}")]
    public static partial void Retrying(ILogger logger, int attempt, int attempts, string reason);

    [LoggerMessage(EventId = 4058, EventName = "CliStartupRenewalFailed", Level = LogLevel.Warning, Message = "Renewing the stored bot identity at start-up failed; the outputs use the stored identity while it is valid: {Reason}")]
    public static partial void StartupRenewalFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4059, EventName = "CliOneshotSkipped", Level = LogLevel.Warning, Message = "{Service} does not run in one-shot mode (it is a long-running service); skipped")]
    public static partial void OneshotSkipped(ILogger logger, string service);
}
