using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Destinations.Internal;

/// <summary>Log messages of the destinations layer (event ids 3000–3099, see <see cref="MachineIdEventIds"/>). Never file contents.</summary>
internal static partial class DestinationLog
{
    [LoggerMessage(EventId = MachineIdEventIds.DestinationInitialized, EventName = "DestinationInitialized", Level = LogLevel.Information,
        Message = "Destination {Destination} is ready (symlinks: {Symlinks}, reader ACLs: {Acls})")]
    public static partial void Initialized(ILogger logger, string destination, string symlinks, string acls);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationDirectoryCreated, EventName = "DestinationDirectoryCreated", Level = LogLevel.Information,
        Message = "Created directory {Path} with mode 0700")]
    public static partial void DirectoryCreated(ILogger logger, string path);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationArtifactsWritten, EventName = "DestinationArtifactsWritten", Level = LogLevel.Debug,
        Message = "Wrote {Count} artifacts ({Bytes} bytes) to {Destination} as generation {Generation}")]
    public static partial void ArtifactsWritten(ILogger logger, int count, long bytes, string destination, string generation);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationSecureSymlinksFallback, EventName = "DestinationSecureSymlinksFallback", Level = LogLevel.Warning,
        Message = "symlinks: try-secure for {Destination}: openat2(RESOLVE_NO_SYMLINKS) is not available on this system; falling back to {Fallback}. Use Linux 5.6 or later for the full protection")]
    public static partial void SecureSymlinksFallback(ILogger logger, string destination, string fallback);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationUnexpectedSymlinkReplaced, EventName = "DestinationUnexpectedSymlinkReplaced", Level = LogLevel.Warning,
        Message = "Replaced an unexpected symbolic link {Name} in {Destination} that pointed to {Target}; nothing was written through it")]
    public static partial void UnexpectedSymlinkReplaced(ILogger logger, string name, string destination, string target);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationAclsUnavailable, EventName = "DestinationAclsUnavailable", Level = LogLevel.Warning,
        Message = "Readers {Readers} are configured for {Destination} but ACLs could not be applied ({Reason}); continuing without them, so the readers cannot read the files. Use a file system with ACL support and a directory owned by this user, remove the readers, or set acls: off")]
    public static partial void AclsUnavailable(ILogger logger, string readers, string destination, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationAclCorrected, EventName = "DestinationAclCorrected", Level = LogLevel.Warning,
        Message = "The ACL of {Path} did not match the configured readers and was corrected")]
    public static partial void AclCorrected(ILogger logger, string path);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationAclsIgnored, EventName = "DestinationAclsIgnored", Level = LogLevel.Information,
        Message = "Readers are configured for {Destination} but acls is off; no ACLs are managed")]
    public static partial void AclsIgnored(ILogger logger, string destination);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationGenerationRemoved, EventName = "DestinationGenerationRemoved", Level = LogLevel.Debug,
        Message = "Removed old generation {Generation} from {Destination}")]
    public static partial void GenerationRemoved(ILogger logger, string generation, string destination);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationCleanupFailed, EventName = "DestinationCleanupFailed", Level = LogLevel.Warning,
        Message = "Could not remove {Entry} from {Destination}; it will be retried on the next write")]
    public static partial void CleanupFailed(ILogger logger, Exception exception, string entry, string destination);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationPlainFileReplaced, EventName = "DestinationPlainFileReplaced", Level = LogLevel.Information,
        Message = "Replaced the plain file {Name} in {Destination} with a link into the current generation")]
    public static partial void PlainFileReplaced(ILogger logger, string name, string destination);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationStaleLinkRemoved, EventName = "DestinationStaleLinkRemoved", Level = LogLevel.Debug,
        Message = "Removed the link {Name} from {Destination}; it is no longer part of the artifact set")]
    public static partial void StaleLinkRemoved(ILogger logger, string name, string destination);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationReadRetried, EventName = "DestinationReadRetried", Level = LogLevel.Debug,
        Message = "Generation {Generation} of {Destination} was replaced while it was being read; retrying")]
    public static partial void ReadRetried(ILogger logger, string generation, string destination);

    [LoggerMessage(EventId = MachineIdEventIds.DestinationDirectoryPermissive, EventName = "DestinationDirectoryPermissive", Level = LogLevel.Warning,
        Message = "Destination directory {Path} was writable by its group or by others (mode {Mode}), so another user could have replaced its contents; changed it to mode {NewMode}")]
    public static partial void DirectoryPermissive(ILogger logger, string path, string mode, string newMode);
}
