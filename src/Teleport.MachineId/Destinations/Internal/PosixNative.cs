using System.Runtime.InteropServices;

namespace Teleport.MachineId.Destinations.Internal;

/// <summary>
/// libc calls whose signatures and constants are the same on every Unix .NET runs on (Linux,
/// macOS, the BSDs). Linux-only calls and per-architecture flags are in <see cref="LinuxNative"/>.
/// </summary>
internal static partial class PosixNative
{
    internal const string Libc = "libc";

    internal const int ORdOnly = 0;
    internal const int LockEx = 2;
    internal const int LockNb = 4;

    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EACCES = 13;
    internal const int EEXIST = 17;
    internal const int ENOSPC = 28;
    internal const int EROFS = 30;

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int OpenReadOnly(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    internal static partial int FSync(int fd);

    [LibraryImport(Libc, EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Rename(string oldPath, string newPath);

    [LibraryImport(Libc, EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    /// <summary>An <see cref="IOException"/> for a failed call whose <see cref="Exception.HResult"/> is <paramref name="errno"/>.</summary>
    internal static IOException Error(int errno, string operation, string path) =>
        new($"{operation} '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);

    /// <summary>fsyncs a directory so renames and creations inside it are durable. A no-op on Windows.</summary>
    internal static void SyncDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd;
        do
        {
            fd = OpenReadOnly(path, ORdOnly);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);

        if (fd < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "open directory", path);
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw Error(Marshal.GetLastPInvokeError(), "fsync directory", path);
            }
        }
        finally
        {
            Close(fd);
        }
    }
}
