using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Outputs.Internal;

/// <summary>Log messages of identity outputs and SSH access (event ids 4000–4099). Never keys or certificate bytes.</summary>
internal static partial class OutputsLog
{
    [LoggerMessage(EventId = MachineIdEventIds.OutputRenewing, EventName = "OutputRenewing", Level = LogLevel.Debug,
        Message = "Identity output {Output}: renewing ({Reason})")]
    public static partial void Renewing(ILogger logger, string output, string reason);

    // Seven arguments: the generator formats this one itself and writes each list as [a, b] (with six or
    // fewer it uses LoggerMessage.Define, which writes a, b — those templates bracket their lists).
    [LoggerMessage(EventId = MachineIdEventIds.OutputWritten, EventName = "OutputWritten", Level = LogLevel.Information,
        Message = "Identity output {Output}: wrote {Count} files to {Destination} for {User} roles {Roles} logins {Logins}, valid until {NotAfter:o}")]
    public static partial void Written(ILogger logger, string output, int count, string destination, string user, IEnumerable<string> roles, IEnumerable<string> logins, DateTimeOffset notAfter);

    [LoggerMessage(EventId = MachineIdEventIds.OutputRenewalFailed, EventName = "OutputRenewalFailed", Level = LogLevel.Warning,
        Message = "{Output}: renewal failed ({Failures} in a row), retrying in {Delay}: {Reason}")]
    public static partial void RenewalFailed(ILogger logger, string output, int failures, TimeSpan delay, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.OutputRolesResolved, EventName = "OutputRolesResolved", Level = LogLevel.Debug,
        Message = "No roles configured: {User} may impersonate [{Roles}]")]
    public static partial void RolesResolved(ILogger logger, string user, IEnumerable<string> roles);

    [LoggerMessage(EventId = MachineIdEventIds.OutputSuiteFallback, EventName = "OutputSuiteFallback", Level = LogLevel.Debug,
        Message = "Could not read the cluster's auth preference ({Reason}); using the signature algorithm suite from discovery")]
    public static partial void SuiteFallback(ILogger logger, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.OutputRenewalScheduled, EventName = "OutputRenewalScheduled", Level = LogLevel.Debug,
        Message = "{Output}: next renewal at {Next:o}")]
    public static partial void Scheduled(ILogger logger, string output, DateTimeOffset next);

    [LoggerMessage(EventId = MachineIdEventIds.OutputTtlShortened, EventName = "OutputTtlShortened", Level = LogLevel.Information,
        Message = "Identity output {Output}: asked for {Requested} but the credentials are valid until {NotAfter:o} (capped by the bot identity or the roles' max_session_ttl)")]
    public static partial void TtlShortened(ILogger logger, string output, TimeSpan requested, DateTimeOffset notAfter);

    [LoggerMessage(EventId = MachineIdEventIds.SshNodeConnected, EventName = "SshNodeConnected", Level = LogLevel.Debug,
        Message = "Connected to {Node}:{Port} in cluster {Cluster} through proxy {Proxy}")]
    public static partial void NodeConnected(ILogger logger, string node, int port, string cluster, Wire.HostPort proxy);

    [LoggerMessage(EventId = MachineIdEventIds.MultiplexerListening, EventName = "MultiplexerListening", Level = LogLevel.Information,
        Message = "{Output}: listening on {Socket} (agent {AgentSocket})")]
    public static partial void MultiplexerListening(ILogger logger, string output, string socket, string agentSocket);

    [LoggerMessage(EventId = MachineIdEventIds.MultiplexerRequest, EventName = "MultiplexerRequest", Level = LogLevel.Debug,
        Message = "{Output}: connecting to {Node}:{Port} in cluster {Cluster}")]
    public static partial void MultiplexerRequest(ILogger logger, string output, string node, int port, string cluster);

    [LoggerMessage(EventId = MachineIdEventIds.MultiplexerConnectionFailed, EventName = "MultiplexerConnectionFailed", Level = LogLevel.Warning,
        Message = "{Output}: connection failed: {Reason}")]
    public static partial void MultiplexerConnectionFailed(ILogger logger, string output, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.MultiplexerConnectionClosed, EventName = "MultiplexerConnectionClosed", Level = LogLevel.Debug,
        Message = "{Output}: connection to {Node}:{Port} closed after {Duration}")]
    public static partial void MultiplexerConnectionClosed(ILogger logger, string output, string node, int port, TimeSpan duration);

    [LoggerMessage(EventId = MachineIdEventIds.MultiplexerRenewed, EventName = "MultiplexerRenewed", Level = LogLevel.Information,
        Message = "{Output}: in-memory credentials for {User} roles [{Roles}] logins [{Logins}], valid until {NotAfter:o}")]
    public static partial void MultiplexerRenewed(ILogger logger, string output, string user, IEnumerable<string> roles, IEnumerable<string> logins, DateTimeOffset notAfter);

    [LoggerMessage(EventId = MachineIdEventIds.MultiplexerAgentFailed, EventName = "MultiplexerAgentFailed", Level = LogLevel.Debug,
        Message = "{Output}: agent connection ended: {Reason}")]
    public static partial void MultiplexerAgentFailed(ILogger logger, string output, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.SshHostOutputWritten, EventName = "SshHostOutputWritten", Level = LogLevel.Information,
        Message = "{Output}: wrote a host certificate for [{Principals}] to {Destination}, valid until {NotAfter:o}")]
    public static partial void SshHostOutputWritten(ILogger logger, string output, IEnumerable<string> principals, string destination, DateTimeOffset notAfter);
}
