namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// The trusted SSH host CA public keys of one cluster (active and additional trusted keys of its
/// <c>host</c> certificate authority), which known_hosts and identity files list. Immutable.
/// </summary>
public sealed class ClusterHostCaKeys
{
    /// <summary>Creates the key set.</summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <param name="publicKeys">The CA public keys as authorized_keys lines (<c>&lt;type&gt; &lt;base64&gt;</c>; a comment is dropped). Order and duplicates are kept.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The cluster name cannot be written to known_hosts.</exception>
    /// <exception cref="TeleportFormatException">A key is not a well-formed OpenSSH public key.</exception>
    public ClusterHostCaKeys(string clusterName, IEnumerable<string> publicKeys)
    {
        SshConfigText.EnsureValidClusterName(clusterName, nameof(clusterName));
        ArgumentNullException.ThrowIfNull(publicKeys);
        ClusterName = clusterName;
        PublicKeys = publicKeys
            .Select(static k => SshKeyText.NormalizePublicKey(k ?? throw new ArgumentException("A public key is null.", nameof(publicKeys)), "host CA public key"))
            .ToList();
    }

    /// <summary>The cluster name.</summary>
    public string ClusterName { get; }

    /// <summary>The CA public keys, <c>&lt;type&gt; &lt;base64&gt;</c>.</summary>
    public IReadOnlyList<string> PublicKeys { get; }
}
