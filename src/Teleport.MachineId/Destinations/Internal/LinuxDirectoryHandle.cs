using System.Globalization;

namespace Teleport.MachineId.Destinations.Internal;

/// <summary>
/// A directory held by a file descriptor; every operation is relative to it (<c>openat</c>,
/// <c>mkdirat</c>, <c>renameat</c>, …), so a path component swapped for a link after the directory
/// was opened cannot redirect anything.
/// </summary>
internal sealed class LinuxDirectoryHandle : DirectoryHandle
{
    private const string AclXattrName = "system.posix_acl_access";

    private readonly SafeFileDescriptor _fd;
    private readonly bool _useOpenat2;

    private LinuxDirectoryHandle(SafeFileDescriptor fd, string displayPath, bool useOpenat2)
        : base(displayPath)
    {
        _fd = fd;
        _useOpenat2 = useOpenat2;
    }

    public override bool SupportsAcls => true;

    /// <summary>
    /// Opens <paramref name="fullPath"/> (absolute, normalized) walking it one component at a time
    /// from <c>/</c>, each component opened relative to its parent with the given resolution, and
    /// creating missing components with mode 0700 when <paramref name="create"/> is set.
    /// </summary>
    /// <param name="fullPath">An absolute, normalized path.</param>
    /// <param name="resolution">How links in the path are treated.</param>
    /// <param name="create">Whether missing components are created.</param>
    /// <param name="onCreated">Called with the path of each directory created.</param>
    /// <exception cref="DestinationException">A component is a link (refused) or not a directory.</exception>
    /// <exception cref="IOException">Any other failure (ENOENT when missing and not creating).</exception>
    public static LinuxDirectoryHandle OpenPath(string fullPath, PathResolution resolution, bool create, Action<string>? onCreated)
    {
        var useOpenat2 = resolution == PathResolution.Openat2NoSymlinks;
        var rootFd = LinuxNative.OpenAt(LinuxNative.AtFdCwd, "/", LinuxNative.ODirectory, 0);
        if (rootFd < 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "open", "/");
        }

        var current = new SafeFileDescriptor(rootFd);
        var walked = string.Empty;
        try
        {
            foreach (var component in fullPath.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                walked += "/" + component;
                var fd = OpenChildDirectory(current, component, resolution);
                if (fd < 0 && LinuxNative.LastError == PosixNative.ENOENT && create)
                {
                    if (LinuxNative.MkdirAt(current.Fd, component, 0b111_000_000) != 0 && LinuxNative.LastError != PosixNative.EEXIST)
                    {
                        throw PosixNative.Error(LinuxNative.LastError, "mkdir", walked);
                    }

                    fd = OpenChildDirectory(current, component, resolution);
                    if (fd >= 0)
                    {
                        // umask can only have narrowed the mode; make it exactly 0700.
                        if (LinuxNative.FChmod(fd, 0b111_000_000) != 0)
                        {
                            var errno = LinuxNative.LastError;
                            PosixNative.Close(fd);
                            throw PosixNative.Error(errno, "chmod", walked);
                        }

                        onCreated?.Invoke(walked);
                    }
                }

                if (fd < 0)
                {
                    var errno = LinuxNative.LastError;
                    ThrowForFailedDirectoryOpen(current, component, walked, errno, resolution);
                }

                current.Dispose();
                current = new SafeFileDescriptor(fd);
            }

            var handle = new LinuxDirectoryHandle(current, fullPath, useOpenat2);
            current = null!;
            return handle;
        }
        finally
        {
            current?.Dispose();
        }
    }

    public override DirectoryHandle OpenDirectory(string name)
    {
        var fd = OpenChildDirectory(_fd, name, _useOpenat2 ? PathResolution.Openat2NoSymlinks : PathResolution.NoFollow);
        if (fd < 0)
        {
            var errno = LinuxNative.LastError;
            ThrowForFailedDirectoryOpen(_fd, name, PathOf(name), errno, PathResolution.NoFollow);
        }

        return new LinuxDirectoryHandle(new SafeFileDescriptor(fd), PathOf(name), _useOpenat2);
    }

    public override void CreateDirectory(string name)
    {
        if (LinuxNative.MkdirAt(_fd.Fd, name, 0b111_000_000) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "mkdir", PathOf(name));
        }

        using var child = OpenDirectory(name);
        if (LinuxNative.FChmod(((LinuxDirectoryHandle)child)._fd.Fd, 0b111_000_000) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "chmod", PathOf(name));
        }
    }

    public override void WriteNewFile(string name, ReadOnlySpan<byte> content, byte[]? acl)
    {
        var path = PathOf(name);

        // O_EXCL never follows a link at the name and fails if anything is there.
        var fd = OpenChild(name, LinuxNative.OWrOnly | LinuxNative.OCreat | LinuxNative.OExcl | LinuxNative.ONoCtty, 0b110_000_000);
        if (fd < 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "create", path);
        }

        using var file = new SafeFileDescriptor(fd);
        if (LinuxNative.FChmod(file.Fd, 0b110_000_000) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "chmod", path);
        }

        if (acl is not null && !LinuxNative.FSetXattr(file, AclXattrName, acl))
        {
            throw PosixNative.Error(LinuxNative.LastError, "set ACL of", path);
        }

        LinuxNative.WriteAll(file, content, path);
        if (PosixNative.FSync(file.Fd) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "fsync", path);
        }
    }

    public override byte[]? ReadFile(string name, int maxLength)
    {
        var path = PathOf(name);

        // O_NONBLOCK: opening a FIFO planted here must not hang; regular files ignore it.
        var fd = OpenChild(name, LinuxNative.ONonBlock | LinuxNative.ONoCtty, 0);
        if (fd < 0)
        {
            var errno = LinuxNative.LastError;
            if (errno == PosixNative.ENOENT)
            {
                return null;
            }

            throw PosixNative.Error(errno, "open", path);
        }

        using var file = new SafeFileDescriptor(fd);
        if (!LinuxNative.Statx(file.Fd, string.Empty, out var status))
        {
            throw PosixNative.Error(LinuxNative.LastError, "stat", path);
        }

        if (!status.IsRegularFile)
        {
            throw new IOException($"'{path}' is not a regular file.", LinuxNative.EINVAL);
        }

        if (status.Size > (ulong)maxLength)
        {
            throw new IOException($"'{path}' is larger than {maxLength} bytes.", LinuxNative.E2BIG);
        }

        var buffer = new byte[(int)status.Size];
        var read = LinuxNative.ReadUpTo(file, buffer, path);
        return read == buffer.Length ? buffer : buffer.AsSpan(0, read).ToArray();
    }

    public override EntryKind GetEntryKind(string name)
    {
        if (!LinuxNative.Statx(_fd.Fd, name, out var status))
        {
            var errno = LinuxNative.LastError;
            if (errno == PosixNative.ENOENT)
            {
                return EntryKind.None;
            }

            throw PosixNative.Error(errno, "stat", PathOf(name));
        }

        return status switch
        {
            { IsSymlink: true } => EntryKind.Symlink,
            { IsDirectory: true } => EntryKind.Directory,
            { IsRegularFile: true } => EntryKind.File,
            _ => EntryKind.Other,
        };
    }

    /// <summary>
    /// Through <c>/proc/self/fd/&lt;fd&gt;</c> when available: the socket lands in exactly this directory
    /// (no path walk, no symbolic link in between) and the path fits <c>sun_path</c> however long the
    /// directory's path is.
    /// </summary>
    public override string SocketPathOf(string name) =>
        Directory.Exists("/proc/self/fd") ? "/proc/self/fd/" + _fd.Fd.ToString(CultureInfo.InvariantCulture) + "/" + name : PathOf(name);

    public override string? ReadLink(string name)
    {
        var target = LinuxNative.ReadLinkAt(_fd.Fd, name);
        if (target is null)
        {
            var errno = LinuxNative.LastError;
            if (errno is PosixNative.ENOENT or LinuxNative.EINVAL)
            {
                return null; // missing, or not a link
            }

            throw PosixNative.Error(errno, "readlink", PathOf(name));
        }

        return target;
    }

    public override void CreateSymlink(string target, string name)
    {
        if (LinuxNative.SymlinkAt(target, _fd.Fd, name) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "symlink", PathOf(name));
        }
    }

    public override void Rename(string from, string to)
    {
        if (LinuxNative.RenameAt(_fd.Fd, from, _fd.Fd, to) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "rename to", PathOf(to));
        }
    }

    public override bool DeleteFile(string name)
    {
        if (LinuxNative.UnlinkAt(_fd.Fd, name, 0) != 0)
        {
            var errno = LinuxNative.LastError;
            if (errno == PosixNative.ENOENT)
            {
                return false;
            }

            throw PosixNative.Error(errno, "unlink", PathOf(name));
        }

        return true;
    }

    public override bool DeleteDirectory(string name)
    {
        if (LinuxNative.UnlinkAt(_fd.Fd, name, LinuxNative.AtRemoveDir) != 0)
        {
            var errno = LinuxNative.LastError;
            if (errno == PosixNative.ENOENT)
            {
                return false;
            }

            throw PosixNative.Error(errno, "rmdir", PathOf(name));
        }

        return true;
    }

    public override IReadOnlyList<string> List()
    {
        // /proc/self/fd/N names exactly the directory this descriptor holds, so listing it cannot be
        // redirected by a path component changed after the open.
        var procPath = "/proc/self/fd/" + _fd.Fd.ToString(CultureInfo.InvariantCulture);
        var path = Directory.Exists(procPath) ? procPath : DisplayPath;
        return Directory.EnumerateFileSystemEntries(path)
            .Select(entry => System.IO.Path.GetFileName(entry))
            .ToList();
    }

    public override void Flush()
    {
        if (PosixNative.FSync(_fd.Fd) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "fsync", DisplayPath);
        }
    }

    public override byte[] GetAcl() =>
        LinuxNative.FGetXattr(_fd, AclXattrName) ?? throw PosixNative.Error(LinuxNative.LastError, "get ACL of", DisplayPath);

    public override void SetAcl(byte[] acl)
    {
        if (!LinuxNative.FSetXattr(_fd, AclXattrName, acl))
        {
            throw PosixNative.Error(LinuxNative.LastError, "set ACL of", DisplayPath);
        }
    }

    public override IDisposable? TryLock(string name)
    {
        var fd = OpenChild(name, LinuxNative.ORdWr | LinuxNative.OCreat | LinuxNative.ONoCtty, 0b110_000_000);
        if (fd < 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "open", PathOf(name));
        }

        var handle = new SafeFileDescriptor(fd);
        if (PosixNative.Flock(fd, PosixNative.LockEx | PosixNative.LockNb) != 0)
        {
            var errno = LinuxNative.LastError;
            handle.Dispose();
            if (errno == LinuxNative.EWOULDBLOCK)
            {
                return null;
            }

            throw PosixNative.Error(errno, "flock", PathOf(name));
        }

        return handle;
    }

    public override int GetPermissions()
    {
        if (!LinuxNative.Statx(_fd.Fd, string.Empty, out var status))
        {
            throw PosixNative.Error(LinuxNative.LastError, "stat", DisplayPath);
        }

        return status.Permissions;
    }

    public override uint? GetOwner()
    {
        if (!LinuxNative.Statx(_fd.Fd, string.Empty, out var status))
        {
            throw PosixNative.Error(LinuxNative.LastError, "stat", DisplayPath);
        }

        return status.Uid;
    }

    public override void SetPermissions(int mode)
    {
        if (LinuxNative.FChmod(_fd.Fd, (uint)mode) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "chmod", DisplayPath);
        }
    }

    public override void Dispose() => _fd.Dispose();

    private int OpenChild(string name, int flags, uint mode) =>
        _useOpenat2
            ? LinuxNative.OpenAt2(_fd.Fd, name, flags, mode, LinuxNative.ResolveNoSymlinks | LinuxNative.ResolveBeneath | LinuxNative.ResolveNoMagicLinks)
            : LinuxNative.OpenAt(_fd.Fd, name, flags | LinuxNative.ONoFollow, mode);

    private static int OpenChildDirectory(SafeFileDescriptor parent, string name, PathResolution resolution)
    {
        var flags = LinuxNative.ODirectory; // O_RDONLY: fsync and fsetxattr work on it, unlike O_PATH
        return resolution switch
        {
            PathResolution.Openat2NoSymlinks => LinuxNative.OpenAt2(
                parent.Fd, name, flags, 0, LinuxNative.ResolveNoSymlinks | LinuxNative.ResolveBeneath | LinuxNative.ResolveNoMagicLinks),
            PathResolution.NoFollow => LinuxNative.OpenAt(parent.Fd, name, flags | LinuxNative.ONoFollow, 0),
            _ => LinuxNative.OpenAt(parent.Fd, name, flags, 0),
        };
    }

    private static void ThrowForFailedDirectoryOpen(SafeFileDescriptor parent, string name, string path, int errno, PathResolution resolution)
    {
        // O_NOFOLLOW|O_DIRECTORY on a link gives ENOTDIR, openat2 gives ELOOP: look at the entry itself.
        if (errno is LinuxNative.ELOOP or LinuxNative.ENOTDIR
            && LinuxNative.Statx(parent.Fd, name, out var status))
        {
            if (status.IsSymlink && resolution != PathResolution.Follow)
            {
                throw new DestinationException(
                    DestinationFailure.SymlinkRefused,
                    path,
                    $"'{path}' is a symbolic link, which the destination's symlinks mode refuses (a link in the path could redirect "
                    + "credentials to a place an attacker chose). Use the real path, or set symlinks: insecure if the link is trusted.",
                    PosixNative.Error(errno, "open", path));
            }

            if (!status.IsDirectory && !status.IsSymlink)
            {
                throw new DestinationException(
                    DestinationFailure.UnexpectedContent,
                    path,
                    $"'{path}' exists but is not a directory.",
                    PosixNative.Error(errno, "open", path));
            }
        }

        throw PosixNative.Error(errno, "open directory", path);
    }
}
