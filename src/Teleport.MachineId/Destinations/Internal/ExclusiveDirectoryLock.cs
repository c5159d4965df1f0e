using System.Runtime.InteropServices;

namespace Teleport.MachineId.Destinations.Internal;

/// <summary>
/// A non-blocking exclusive lock on <c>&lt;directory&gt;/lock</c>, held until disposed, so two
/// processes (tbot included) never use the same storage directory at once.
/// </summary>
/// <remarks>
/// <para>
/// On Unix this is <c>flock(LOCK_EX|LOCK_NB)</c> on the lock file — the lock tbot takes on its
/// storage directory and that <c>flock(1)</c> sees. flock locks belong to the open file
/// description, so a second <see cref="Acquire"/> in the same process fails too. The kernel
/// releases the lock when the process dies; the lock file itself is never deleted (deleting it
/// would let two processes lock two different files).
/// </para>
/// <para>
/// On Linux the lock file is opened with <c>O_NOFOLLOW</c>, so a link planted at <c>lock</c> is
/// refused. On Windows the file is opened with <see cref="FileShare.None"/>.
/// </para>
/// <para>Thread safety: <see cref="Dispose"/> may be called from any thread, more than once.</para>
/// </remarks>
internal sealed class ExclusiveDirectoryLock : IDisposable
{
    /// <summary>The lock file's name inside the directory (the name tbot uses).</summary>
    public const string LockFileName = "lock";

    private readonly IDisposable _owner;
    private readonly SafeHandle _handle;

    private ExclusiveDirectoryLock(IDisposable owner, SafeHandle handle, string lockFilePath)
    {
        _owner = owner;
        _handle = handle;
        LockFilePath = lockFilePath;
    }

    /// <summary>The full path of the lock file.</summary>
    public string LockFilePath { get; }

    /// <summary>Whether the lock is still held (not disposed).</summary>
    public bool IsHeld => !_handle.IsClosed;

    /// <summary>Takes the lock on <paramref name="directory"/> or fails at once.</summary>
    /// <param name="directory">The directory to lock; it must exist.</param>
    /// <returns>The held lock; dispose it to release.</returns>
    /// <exception cref="DestinationException">
    /// <see cref="DestinationFailure.Locked"/> when someone else holds the lock;
    /// <see cref="DestinationFailure.SymlinkRefused"/> when <c>lock</c> is a symbolic link;
    /// <see cref="DestinationFailure.NotWritable"/> or <see cref="DestinationFailure.IOError"/> when the lock file cannot be opened.
    /// </exception>
    public static ExclusiveDirectoryLock Acquire(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var lockFilePath = Path.Combine(Path.GetFullPath(directory), LockFileName);
        if (LinuxNative.IsSupported)
        {
            return AcquireLinux(lockFilePath);
        }

        return AcquirePortable(lockFilePath);
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose() => _owner.Dispose();

    private static ExclusiveDirectoryLock AcquireLinux(string lockFilePath)
    {
        var fd = LinuxNative.OpenAt(
            LinuxNative.AtFdCwd, lockFilePath, LinuxNative.ORdWr | LinuxNative.OCreat | LinuxNative.ONoFollow | LinuxNative.ONoCtty, 0b110_000_000);
        if (fd < 0)
        {
            var errno = LinuxNative.LastError;
            throw OpenFailure(lockFilePath, PosixNative.Error(errno, "open", lockFilePath), errno);
        }

        var handle = new SafeFileDescriptor(fd);
        if (PosixNative.Flock(fd, PosixNative.LockEx | PosixNative.LockNb) != 0)
        {
            var errno = LinuxNative.LastError;
            handle.Dispose();
            if (errno == LinuxNative.EWOULDBLOCK)
            {
                throw LockedFailure(lockFilePath, null);
            }

            throw new DestinationException(
                DestinationFailure.IOError, lockFilePath, $"Could not lock '{lockFilePath}'.", PosixNative.Error(errno, "flock", lockFilePath));
        }

        LinuxNative.FChmod(fd, 0b110_000_000); // best effort: umask may have narrowed a new file to unreadable

        return new ExclusiveDirectoryLock(handle, handle, lockFilePath);
    }

    private static ExclusiveDirectoryLock AcquirePortable(string lockFilePath)
    {
        if (new FileInfo(lockFilePath).LinkTarget is not null)
        {
            throw OpenFailure(lockFilePath, null, LinuxNative.ELOOP);
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None, // .NET takes flock(LOCK_EX|LOCK_NB) for this on Unix
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            var stream = new FileStream(lockFilePath, options);
            return new ExclusiveDirectoryLock(stream, stream.SafeFileHandle, lockFilePath);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw OpenFailure(lockFilePath, ex, PosixNative.EACCES);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw LockedFailure(lockFilePath, ex);
        }
        catch (IOException ex)
        {
            throw OpenFailure(lockFilePath, ex, PosixNative.ENOENT);
        }
    }

    private static DestinationException LockedFailure(string lockFilePath, Exception? inner) => new(
        DestinationFailure.Locked,
        lockFilePath,
        $"'{lockFilePath}' is locked: another tbot or tbot-dotnet process (or another instance in this process) may be using "
        + $"'{Path.GetDirectoryName(lockFilePath)}'. Stop it, or give each bot its own storage directory.",
        inner);

    private static DestinationException OpenFailure(string lockFilePath, Exception? inner, int errno)
    {
        var (failure, advice) = errno switch
        {
            LinuxNative.ELOOP => (DestinationFailure.SymlinkRefused, " It is a symbolic link, which is refused; remove it."),
            PosixNative.EACCES or PosixNative.EPERM or PosixNative.EROFS => (DestinationFailure.NotWritable, " Check the directory's owner and permissions."),
            PosixNative.ENOENT => (DestinationFailure.IOError, " Create the directory first."),
            _ => (DestinationFailure.IOError, string.Empty),
        };
        return new DestinationException(failure, lockFilePath, $"Could not open the lock file '{lockFilePath}'.{advice}", inner);
    }
}
