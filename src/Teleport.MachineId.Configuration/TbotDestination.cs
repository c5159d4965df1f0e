namespace Teleport.MachineId.Configuration;

/// <summary>
/// A tbot destination (<c>storage</c>, or a service's <c>destination</c>): a tagged union on its
/// <c>type</c> key, either <see cref="TbotDirectoryDestination"/> or <see cref="TbotMemoryDestination"/>.
/// </summary>
/// <remarks><c>kubernetes_secret</c> destinations are not supported and are rejected by the reader.</remarks>
public abstract record TbotDestination
{
    private protected TbotDestination()
    {
    }
}

/// <summary><c>type: directory</c>: files in a local directory.</summary>
public sealed record TbotDirectoryDestination : TbotDestination
{
    /// <summary><c>path</c>: the directory (created if missing).</summary>
    public required string Path { get; init; }

    /// <summary><c>symlinks</c>: how symbolic links in the path are treated; default <see cref="TbotSymlinksMode.TrySecure"/>.</summary>
    public TbotSymlinksMode Symlinks { get; init; } = TbotSymlinksMode.TrySecure;

    /// <summary>
    /// <c>acls</c>: whether POSIX ACLs for <see cref="Readers"/> are managed. When not written, tbot
    /// uses <see cref="TbotAclMode.Try"/> on Linux and <see cref="TbotAclMode.Off"/> elsewhere, and
    /// the reader resolves it the same way for the platform it runs on.
    /// </summary>
    public TbotAclMode Acls { get; init; } = TbotAclMode.Off;

    /// <summary><c>readers</c>: users and groups granted read access through ACLs.</summary>
    public IReadOnlyList<TbotDirectoryReader> Readers { get; init; } = [];
}

/// <summary><c>type: memory</c>: kept in process memory only; nothing persists across restarts.</summary>
public sealed record TbotMemoryDestination : TbotDestination;

/// <summary>A directory destination's <c>symlinks</c> mode.</summary>
public enum TbotSymlinksMode
{
    /// <summary><c>try-secure</c> (default): refuse symbolic links where the OS can enforce it, else follow them with a warning.</summary>
    TrySecure = 0,

    /// <summary><c>secure</c>: refuse symbolic links; fail where the OS cannot enforce it (Linux before 5.6).</summary>
    Secure,

    /// <summary><c>insecure</c>: follow symbolic links.</summary>
    Insecure,
}

/// <summary>A directory destination's <c>acls</c> mode.</summary>
public enum TbotAclMode
{
    /// <summary><c>off</c>: manage no ACLs.</summary>
    Off = 0,

    /// <summary><c>try</c>: manage ACLs for the readers if the file system allows, else warn.</summary>
    Try,

    /// <summary><c>required</c>: fail when ACLs cannot be managed.</summary>
    Required,
}

/// <summary>Whether a <see cref="TbotDirectoryReader"/> names a user or a group.</summary>
public enum TbotReaderKind
{
    /// <summary><c>user: &lt;name|uid&gt;</c>.</summary>
    User = 0,

    /// <summary><c>group: &lt;name|gid&gt;</c>.</summary>
    Group,
}

/// <summary>An entry of <c>readers</c>: one user or one group, by name or numeric id.</summary>
/// <param name="Kind">User or group.</param>
/// <param name="Name">The user or group name, or its numeric id as written (e.g. <c>"1000"</c>).</param>
public sealed record TbotDirectoryReader(TbotReaderKind Kind, string Name);
