using System.Globalization;

namespace Teleport.MachineId.Destinations;

/// <summary>How a <see cref="DirectoryDestination"/> treats symbolic links (tbot's <c>symlinks</c> setting).</summary>
public enum SymlinkMode
{
    /// <summary>
    /// <c>try-secure</c> (the default): refuse symbolic links in the destination path using
    /// <c>openat2(RESOLVE_NO_SYMLINKS)</c>; where that is unavailable, log a warning and fall back to
    /// the strongest check the platform has (per-component <c>O_NOFOLLOW</c> opens on Linux,
    /// <c>lstat</c> checks elsewhere).
    /// </summary>
    TrySecure,

    /// <summary>
    /// <c>secure</c>: like <see cref="TrySecure"/> but <c>openat2</c> is required (Linux 5.6 or later);
    /// initialization fails with <see cref="DestinationFailure.InvalidConfiguration"/> without it.
    /// </summary>
    Secure,

    /// <summary>
    /// <c>insecure</c>: the destination path may contain (and be) symbolic links, which are followed.
    /// Entries inside the destination are still replaced, never written through.
    /// </summary>
    Insecure,
}

/// <summary>Whether a <see cref="DirectoryDestination"/> manages POSIX ACLs for its readers (tbot's <c>acls</c> setting).</summary>
public enum AclMode
{
    /// <summary><c>off</c>: no ACLs are managed; configured readers are ignored (logged). The default off Linux.</summary>
    Off,

    /// <summary>
    /// <c>try</c> (the default on Linux): apply reader ACLs when readers are configured; if the file
    /// system does not support ACLs or the directory is not owned by this user, log a warning and
    /// continue without them.
    /// </summary>
    Try,

    /// <summary><c>required</c>: like <see cref="Try"/> but failing to apply the ACLs is an error.</summary>
    Required,
}

/// <summary>Whether an <see cref="AclReader"/> names a user or a group.</summary>
public enum AclReaderKind
{
    /// <summary>A user (<c>user:</c> ACL entry).</summary>
    User,

    /// <summary>A group (<c>group:</c> ACL entry).</summary>
    Group,
}

/// <summary>
/// A user or group that may read a <see cref="DirectoryDestination"/> through a POSIX ACL entry
/// (tbot's <c>readers: [{user: …} | {group: …}]</c>), by name or by numeric id.
/// </summary>
/// <remarks>
/// Names are resolved with the system's user database (<c>getpwnam_r</c>/<c>getgrnam_r</c>, so
/// NSS sources such as LDAP work) when the destination is initialized. Numeric ids are used as
/// they are and need not exist, which suits containers. Immutable; compares by value.
/// </remarks>
public sealed class AclReader : IEquatable<AclReader>
{
    private AclReader(AclReaderKind kind, string? name, uint? id)
    {
        Kind = kind;
        Name = name;
        Id = id;
    }

    /// <summary>User or group.</summary>
    public AclReaderKind Kind { get; }

    /// <summary>The user or group name, or <see langword="null"/> when the reader is given by <see cref="Id"/>.</summary>
    public string? Name { get; }

    /// <summary>The numeric uid or gid, or <see langword="null"/> when the reader is given by <see cref="Name"/>.</summary>
    public uint? Id { get; }

    /// <summary>A user reader by name, or by uid when <paramref name="nameOrId"/> is all digits (as in tbot's YAML).</summary>
    /// <param name="nameOrId">A user name such as <c>alice</c>, or a uid such as <c>1000</c>.</param>
    /// <returns>The reader.</returns>
    /// <exception cref="ArgumentException"><paramref name="nameOrId"/> is empty or contains whitespace, <c>:</c> or control characters.</exception>
    public static AclReader User(string nameOrId) => Parse(AclReaderKind.User, nameOrId);

    /// <summary>A user reader by uid.</summary>
    /// <param name="uid">The numeric user id; it need not exist.</param>
    /// <returns>The reader.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="uid"/> is 4294967295, which means "no id".</exception>
    public static AclReader User(uint uid)
    {
        ArgumentOutOfRangeException.ThrowIfEqual(uid, uint.MaxValue);
        return new(AclReaderKind.User, null, uid);
    }

    /// <summary>A group reader by name, or by gid when <paramref name="nameOrId"/> is all digits.</summary>
    /// <param name="nameOrId">A group name such as <c>deploy</c>, or a gid such as <c>1000</c>.</param>
    /// <returns>The reader.</returns>
    /// <exception cref="ArgumentException"><paramref name="nameOrId"/> is empty or contains whitespace, <c>:</c> or control characters.</exception>
    public static AclReader Group(string nameOrId) => Parse(AclReaderKind.Group, nameOrId);

    /// <summary>A group reader by gid.</summary>
    /// <param name="gid">The numeric group id; it need not exist.</param>
    /// <returns>The reader.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gid"/> is 4294967295, which means "no id".</exception>
    public static AclReader Group(uint gid)
    {
        ArgumentOutOfRangeException.ThrowIfEqual(gid, uint.MaxValue);
        return new(AclReaderKind.Group, null, gid);
    }

    /// <inheritdoc />
    public bool Equals(AclReader? other) =>
        other is not null && other.Kind == Kind && other.Id == Id && string.Equals(other.Name, Name, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as AclReader);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Name, Id);

    /// <summary>The reader as <c>user:alice</c>, <c>group:1000</c>, … (the <c>getfacl</c> spelling).</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        $"{(Kind == AclReaderKind.User ? "user" : "group")}:{Name ?? Id!.Value.ToString(CultureInfo.InvariantCulture)}";

    private static AclReader Parse(AclReaderKind kind, string nameOrId)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrId);
        if (nameOrId.All(char.IsAsciiDigit))
        {
            if (!uint.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == uint.MaxValue)
            {
                throw new ArgumentException($"'{nameOrId}' is not a valid numeric id.", nameof(nameOrId));
            }

            return new AclReader(kind, null, id);
        }

        if (nameOrId.Any(c => c == ':' || char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new ArgumentException("A user or group name must not contain ':', whitespace or control characters.", nameof(nameOrId));
        }

        return new AclReader(kind, nameOrId, null);
    }
}

/// <summary>Options of a <see cref="DirectoryDestination"/> (tbot's <c>directory</c> destination).</summary>
/// <remarks>The destination copies the options when it is created; later changes have no effect on it.</remarks>
public sealed class DirectoryDestinationOptions
{
    /// <summary>
    /// The destination directory. A relative path is resolved against the current directory when the
    /// destination is created. It is created (with missing parents) with mode 0700 if needed. Required.
    /// </summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>How symbolic links in the destination path are treated. Defaults to <see cref="SymlinkMode.TrySecure"/>.</summary>
    public SymlinkMode Symlinks { get; set; } = SymlinkMode.TrySecure;

    /// <summary>
    /// Whether POSIX ACLs are managed for <see cref="Readers"/>. Defaults to <see cref="AclMode.Try"/> on
    /// Linux and <see cref="AclMode.Off"/> elsewhere.
    /// </summary>
    public AclMode Acls { get; set; } = OperatingSystem.IsLinux() ? AclMode.Try : AclMode.Off;

    /// <summary>
    /// Users and groups that get read access through POSIX ACLs (Linux only). Empty by default: then
    /// the files are readable by the owner only.
    /// </summary>
    public IList<AclReader> Readers { get; } = new List<AclReader>();

    /// <summary>Test hook: behave as if <c>openat2</c> did not exist.</summary>
    internal bool SimulateMissingOpenat2 { get; set; }

    /// <summary>Test hook: use the portable (path-based) file-system code even on Linux.</summary>
    internal bool ForcePortableFileSystem { get; set; }
}
