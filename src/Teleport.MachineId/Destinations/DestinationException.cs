namespace Teleport.MachineId.Destinations;

/// <summary>Why a destination (or a storage directory) operation failed.</summary>
public enum DestinationFailure
{
    /// <summary>
    /// The configuration cannot work on this system, for example <c>symlinks: secure</c> without
    /// <c>openat2</c>, or an ACL reader name that does not exist with <c>acls: required</c>.
    /// </summary>
    InvalidConfiguration,

    /// <summary>
    /// The directory cannot be written: permissions, ownership, a read-only or immutable file
    /// system, or no space left.
    /// </summary>
    NotWritable,

    /// <summary>
    /// The destination path, or an entry the destination manages, is a symbolic link that the
    /// configured <c>symlinks</c> mode refuses.
    /// </summary>
    SymlinkRefused,

    /// <summary>POSIX ACLs for the configured readers could not be applied and <c>acls: required</c> is set.</summary>
    AclFailed,

    /// <summary>
    /// The destination holds something it cannot use: the path is not a directory, an artifact
    /// name is taken by a directory, or the managed layout was modified by someone else.
    /// </summary>
    UnexpectedContent,

    /// <summary>The directory is locked by another holder (another tbot or tbot-dotnet process, or this one).</summary>
    Locked,

    /// <summary>Any other input/output error; the inner exception has the details.</summary>
    IOError,
}

/// <summary>
/// A destination could not be initialized, verified, written or read. <see cref="Failure"/> says
/// why and the message says what to change.
/// </summary>
/// <remarks>
/// Messages name paths and reasons, never file contents. The underlying
/// <see cref="IOException"/> (whose <see cref="Exception.HResult"/> is the <c>errno</c> on Unix)
/// is the <see cref="Exception.InnerException"/> where there is one.
/// </remarks>
public class DestinationException : TeleportException
{
    /// <summary>Creates an exception.</summary>
    /// <param name="failure">Why the operation failed.</param>
    /// <param name="path">The file or directory concerned, or <see langword="null"/>.</param>
    /// <param name="message">What failed and what to do about it.</param>
    public DestinationException(DestinationFailure failure, string? path, string message)
        : base(message)
    {
        Failure = failure;
        Path = path;
    }

    /// <summary>Creates an exception with an underlying cause.</summary>
    /// <param name="failure">Why the operation failed.</param>
    /// <param name="path">The file or directory concerned, or <see langword="null"/>.</param>
    /// <param name="message">What failed and what to do about it.</param>
    /// <param name="innerException">The underlying cause.</param>
    public DestinationException(DestinationFailure failure, string? path, string message, Exception? innerException)
        : base(message, innerException)
    {
        Failure = failure;
        Path = path;
    }

    /// <summary>Why the operation failed.</summary>
    public DestinationFailure Failure { get; }

    /// <summary>The file or directory concerned, when known.</summary>
    public string? Path { get; }
}
