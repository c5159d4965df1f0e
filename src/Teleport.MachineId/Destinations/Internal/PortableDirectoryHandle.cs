namespace Teleport.MachineId.Destinations.Internal;

/// <summary>
/// A directory addressed by path through .NET file APIs, for platforms without the Linux
/// descriptor-relative code path (macOS, the BSDs, Windows, unusual Linux architectures).
/// </summary>
/// <remarks>
/// Link checks here are <c>lstat</c>-then-use and so cannot exclude a race with an attacker who can
/// write to the directory; <see cref="DirectoryDestination"/> logs that when <c>try-secure</c> falls
/// back to this class. Creating files still never follows a link (<see cref="FileMode.CreateNew"/>
/// is <c>O_CREAT|O_EXCL</c>) and renames replace links rather than following them.
/// </remarks>
internal sealed class PortableDirectoryHandle : DirectoryHandle
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _path;

    private PortableDirectoryHandle(string path)
        : base(path)
    {
        _path = path;
    }

    public override bool SupportsAcls => false;

    /// <summary>Opens (and with <paramref name="create"/> creates, mode 0700) <paramref name="fullPath"/>.</summary>
    /// <exception cref="DestinationException">A component is a refused link or not a directory.</exception>
    /// <exception cref="IOException">Any other failure; <see cref="DirectoryNotFoundException"/> when missing.</exception>
    public static PortableDirectoryHandle OpenPath(string fullPath, bool refuseSymlinks, bool create, Action<string>? onCreated)
    {
        var root = Path.GetPathRoot(fullPath) ?? "/";
        var walked = root;
        foreach (var component in fullPath[root.Length..].Split(
                     [Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries))
        {
            walked = Path.Combine(walked, component);
            var info = new DirectoryInfo(walked);
            if (refuseSymlinks && info.LinkTarget is not null)
            {
                throw new DestinationException(
                    DestinationFailure.SymlinkRefused,
                    walked,
                    $"'{walked}' is a symbolic link, which the destination's symlinks mode refuses. Use the real path, or set "
                    + "symlinks: insecure if the link is trusted.");
            }

            if (info.Exists)
            {
                continue;
            }

            if (File.Exists(walked))
            {
                throw new DestinationException(DestinationFailure.UnexpectedContent, walked, $"'{walked}' exists but is not a directory.");
            }

            if (!create)
            {
                throw new DirectoryNotFoundException($"'{walked}' does not exist.");
            }

            CreateExactDirectory(walked);
            onCreated?.Invoke(walked);
        }

        return new PortableDirectoryHandle(fullPath);
    }

    public override DirectoryHandle OpenDirectory(string name)
    {
        var path = PathOf(name);
        switch (GetEntryKind(name))
        {
            case EntryKind.Directory:
                return new PortableDirectoryHandle(path);
            case EntryKind.None:
                throw new IOException($"'{path}' does not exist.", PosixNative.ENOENT);
            default:
                throw new IOException($"'{path}' is not a directory.", LinuxNative.ENOTDIR);
        }
    }

    public override void CreateDirectory(string name)
    {
        var path = PathOf(name);
        if (GetEntryKind(name) != EntryKind.None)
        {
            throw new IOException($"'{path}' already exists.", PosixNative.EEXIST);
        }

        CreateExactDirectory(path);
    }

    public override void WriteNewFile(string name, ReadOnlySpan<byte> content, byte[]? acl)
    {
        if (acl is not null)
        {
            throw new PlatformNotSupportedException("POSIX ACLs are only managed on Linux.");
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode0600;
        }

        using var stream = new FileStream(PathOf(name), options);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(stream.SafeFileHandle, FileMode0600);
        }

        stream.Write(content);
        stream.Flush(flushToDisk: true);
    }

    public override byte[]? ReadFile(string name, int maxLength)
    {
        var path = PathOf(name);
        switch (GetEntryKind(name))
        {
            case EntryKind.None:
                return null;
            case EntryKind.File:
                break;
            default:
                throw new IOException($"'{path}' is not a regular file.", LinuxNative.EINVAL);
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (stream.Length > maxLength)
        {
            throw new IOException($"'{path}' is larger than {maxLength} bytes.", LinuxNative.E2BIG);
        }

        var buffer = new byte[stream.Length];
        stream.ReadExactly(buffer);
        return buffer;
    }

    public override EntryKind GetEntryKind(string name)
    {
        var path = PathOf(name);
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            return EntryKind.Symlink;
        }

        if (info.Exists)
        {
            return EntryKind.File;
        }

        return Directory.Exists(path) ? EntryKind.Directory : EntryKind.None;
    }

    public override string? ReadLink(string name) => new FileInfo(PathOf(name)).LinkTarget;

    public override void CreateSymlink(string target, string name) => File.CreateSymbolicLink(PathOf(name), target);

    public override void Rename(string from, string to)
    {
        if (OperatingSystem.IsWindows())
        {
            File.Move(PathOf(from), PathOf(to), overwrite: true);
            return;
        }

        // rename(2) itself: File.Move inspects the source through the link, which is wrong for links to directories.
        if (PosixNative.Rename(PathOf(from), PathOf(to)) != 0)
        {
            throw PosixNative.Error(LinuxNative.LastError, "rename to", PathOf(to));
        }
    }

    public override bool DeleteFile(string name)
    {
        if (GetEntryKind(name) == EntryKind.None)
        {
            return false;
        }

        File.Delete(PathOf(name));
        return true;
    }

    public override bool DeleteDirectory(string name)
    {
        if (GetEntryKind(name) != EntryKind.Directory)
        {
            return false;
        }

        Directory.Delete(PathOf(name), recursive: false);
        return true;
    }

    public override IReadOnlyList<string> List() =>
        Directory.EnumerateFileSystemEntries(_path).Select(entry => Path.GetFileName(entry)).ToList();

    public override void Flush() => PosixNative.SyncDirectory(_path);

    public override byte[] GetAcl() => throw new PlatformNotSupportedException("POSIX ACLs are only managed on Linux.");

    public override void SetAcl(byte[] acl) => throw new PlatformNotSupportedException("POSIX ACLs are only managed on Linux.");

    public override IDisposable? TryLock(string name)
    {
        if (GetEntryKind(name) is EntryKind.Symlink or EntryKind.Directory)
        {
            throw new IOException($"'{PathOf(name)}' is not a regular file.", LinuxNative.EINVAL);
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None, // flock(LOCK_EX|LOCK_NB) on Unix, a sharing lock on Windows
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode0600;
        }

        try
        {
            return new FileStream(PathOf(name), options);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            return null; // held by another writer
        }
    }

    public override int GetPermissions() =>
        OperatingSystem.IsWindows() ? 0b111_000_000 : (int)File.GetUnixFileMode(_path) & 0xFFF;

    public override uint? GetOwner() => null;

    public override void SetPermissions(int mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_path, (UnixFileMode)mode);
        }
    }

    public override void Dispose()
    {
        // Nothing is held open.
    }

    private static void CreateExactDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, DirectoryMode);
        File.SetUnixFileMode(path, DirectoryMode); // umask can only have narrowed it
    }
}
