using Teleport.MachineId.Destinations;

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

    /// <summary><c>symlinks</c>: how symbolic links in the path are treated; default <see cref="SymlinkMode.TrySecure"/>.</summary>
    public SymlinkMode Symlinks { get; init; } = SymlinkMode.TrySecure;

    /// <summary>
    /// <c>acls</c>: whether POSIX ACLs for <see cref="Readers"/> are managed. When not written, tbot
    /// uses <see cref="AclMode.Try"/> on Linux and <see cref="AclMode.Off"/> elsewhere, and
    /// the reader resolves it the same way for the platform it runs on.
    /// </summary>
    public AclMode Acls { get; init; } = AclMode.Off;

    /// <summary><c>readers</c>: users and groups granted read access through ACLs (a name, or a numeric id as written).</summary>
    public IReadOnlyList<AclReader> Readers { get; init; } = [];

    /// <summary>The options of a <see cref="DirectoryDestination"/> that writes where and how this destination says.</summary>
    /// <returns>New options.</returns>
    public DirectoryDestinationOptions ToDirectoryDestinationOptions()
    {
        var options = new DirectoryDestinationOptions { Path = Path, Symlinks = Symlinks, Acls = Acls };
        foreach (var reader in Readers)
        {
            options.Readers.Add(reader);
        }

        return options;
    }
}

/// <summary><c>type: memory</c>: kept in process memory only; nothing persists across restarts.</summary>
public sealed record TbotMemoryDestination : TbotDestination;
