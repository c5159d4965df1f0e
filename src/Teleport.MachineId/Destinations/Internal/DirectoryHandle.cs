namespace Teleport.MachineId.Destinations.Internal;

/// <summary>What a directory entry is, without following it.</summary>
internal enum EntryKind
{
    None,
    File,
    Directory,
    Symlink,
    Other,
}

/// <summary>How the components of a directory path are resolved when it is opened.</summary>
internal enum PathResolution
{
    /// <summary>Follow symbolic links (<c>symlinks: insecure</c>).</summary>
    Follow,

    /// <summary>Refuse symbolic links with <c>openat2(RESOLVE_NO_SYMLINKS)</c> on each component.</summary>
    Openat2NoSymlinks,

    /// <summary>Refuse symbolic links with <c>O_NOFOLLOW</c> on each component (Linux without openat2) or <c>lstat</c> checks (elsewhere).</summary>
    NoFollow,
}

/// <summary>
/// An open directory on which all operations take single entry names (never paths), so nothing
/// outside it is reached through a symbolic link planted inside it. Operations never follow a
/// symbolic link at the final name: links are read, replaced or removed as links.
/// </summary>
/// <remarks>
/// <see cref="LinuxDirectoryHandle"/> holds a descriptor and uses <c>*at</c> calls (race-free);
/// <see cref="PortableDirectoryHandle"/> uses paths and .NET file APIs (other platforms).
/// Errors are <see cref="IOException"/>s whose <see cref="Exception.HResult"/> is the errno where
/// there is one. Not thread-safe; callers own a handle for one operation.
/// </remarks>
internal abstract class DirectoryHandle : IDisposable
{
    protected DirectoryHandle(string displayPath)
    {
        DisplayPath = displayPath;
    }

    /// <summary>The path of this directory as configured, for messages.</summary>
    public string DisplayPath { get; }

    /// <summary>Whether <see cref="SetAcl"/> and the ACL argument of <see cref="WriteNewFile"/> can work on this platform.</summary>
    public abstract bool SupportsAcls { get; }

    public string PathOf(string name) => DisplayPath.EndsWith('/') ? DisplayPath + name : DisplayPath + "/" + name;

    /// <summary>Opens the child directory <paramref name="name"/> without following a link.</summary>
    /// <exception cref="IOException">ENOENT when missing, ELOOP/ENOTDIR when it is a link or not a directory.</exception>
    public abstract DirectoryHandle OpenDirectory(string name);

    /// <summary>Creates the child directory <paramref name="name"/> with mode exactly 0700; fails if it exists.</summary>
    public abstract void CreateDirectory(string name);

    /// <summary>
    /// Creates the file <paramref name="name"/> (failing if anything exists there), with mode
    /// exactly 0600, then the ACL <paramref name="acl"/> if given, writes <paramref name="content"/>
    /// and fsyncs it.
    /// </summary>
    public abstract void WriteNewFile(string name, ReadOnlySpan<byte> content, byte[]? acl);

    /// <summary>Reads the regular file <paramref name="name"/>; <see langword="null"/> when it does not exist.</summary>
    /// <exception cref="IOException">It is a link or not a regular file, is larger than <paramref name="maxLength"/>, or cannot be read.</exception>
    public abstract byte[]? ReadFile(string name, int maxLength);

    public abstract EntryKind GetEntryKind(string name);

    /// <summary>
    /// A path that names <paramref name="name"/> inside this directory for <c>bind</c>/<c>connect</c> of a
    /// Unix socket: by default the full path.
    /// </summary>
    public virtual string SocketPathOf(string name) => PathOf(name);

    /// <summary>The target of the link <paramref name="name"/>; <see langword="null"/> when it is missing or not a link.</summary>
    public abstract string? ReadLink(string name);

    public abstract void CreateSymlink(string target, string name);

    /// <summary>Atomically renames <paramref name="from"/> over <paramref name="to"/> within this directory (rename(2)).</summary>
    public abstract void Rename(string from, string to);

    /// <summary>Removes the non-directory entry <paramref name="name"/>; false when it did not exist.</summary>
    public abstract bool DeleteFile(string name);

    /// <summary>Removes the empty directory <paramref name="name"/>; false when it did not exist.</summary>
    public abstract bool DeleteDirectory(string name);

    /// <summary>The names of all entries.</summary>
    public abstract IReadOnlyList<string> List();

    /// <summary>fsyncs this directory so creations and renames in it are durable.</summary>
    public abstract void Flush();

    /// <summary>The <c>system.posix_acl_access</c> value of this directory (empty when it has none).</summary>
    public abstract byte[] GetAcl();

    /// <summary>Sets the <c>system.posix_acl_access</c> value of this directory.</summary>
    /// <exception cref="IOException">EOPNOTSUPP when the file system has no ACLs, EPERM when not the owner.</exception>
    /// <exception cref="PlatformNotSupportedException">This platform has no POSIX ACL support here.</exception>
    public abstract void SetAcl(byte[] acl);

    /// <summary>
    /// Takes <c>flock(LOCK_EX|LOCK_NB)</c> on the file <paramref name="name"/> (created 0600 if
    /// missing, never through a link); <see langword="null"/> when someone else holds it.
    /// </summary>
    public abstract IDisposable? TryLock(string name);

    /// <summary>The permission bits (e.g. 0b111_000_000) of this directory.</summary>
    public abstract int GetPermissions();

    /// <summary>The owner's user id, or <see langword="null"/> where this code cannot tell (portable code).</summary>
    public abstract uint? GetOwner();

    /// <summary>Sets the directory's permission bits (chmod).</summary>
    public abstract void SetPermissions(int mode);

    public abstract void Dispose();
}
