using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.SshNet;

/// <summary>Log messages of the SSH.NET helpers (event ids in <see cref="MachineIdEventIds"/>).</summary>
internal static partial class SshNetLog
{
    [LoggerMessage(EventId = MachineIdEventIds.SshHostCertificateRejected, EventName = "SshHostCertificateRejected", Level = LogLevel.Warning,
        Message = "Refused the host key of {Host}: {Reason}")]
    public static partial void HostCertificateRejected(ILogger logger, string host, string reason);
}
