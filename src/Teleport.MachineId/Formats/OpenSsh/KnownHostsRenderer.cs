namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// Renders the <c>known_hosts</c> files of tbot's identity output (teleport-protocol.md §6.3),
/// byte-identical to tbot v18: the main file trusts each cluster's host CA keys for
/// <c>&lt;proxyHost&gt;,&lt;cluster&gt;,*.&lt;cluster&gt;</c>; the per-cluster file trusts them for any host. Thread-safe.
/// </summary>
public static class KnownHostsRenderer
{
    /// <summary>The name of the main file.</summary>
    public const string FileName = "known_hosts";

    /// <summary>The name of a cluster's file: <c>&lt;cluster&gt;.known_hosts</c>.</summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <returns>The file name.</returns>
    /// <exception cref="ArgumentException">The cluster name cannot be part of a file name.</exception>
    public static string GetClusterFileName(string clusterName)
    {
        SshConfigText.EnsureValidClusterName(clusterName, nameof(clusterName));
        return clusterName + "." + FileName;
    }

    /// <summary>Renders the main <c>known_hosts</c>: one <c>@cert-authority</c> line per key per cluster, in order.</summary>
    /// <param name="proxyHost">The proxy host name.</param>
    /// <param name="clusters">The clusters and their host CA keys, local first.</param>
    /// <returns>The file content (empty when there are no keys).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="proxyHost"/> is not a host name.</exception>
    public static string RenderKnownHosts(string proxyHost, IReadOnlyList<ClusterHostCaKeys> clusters)
    {
        SshConfigText.EnsureValidHost(proxyHost, nameof(proxyHost));
        ArgumentNullException.ThrowIfNull(clusters);
        var capacity = 0;
        foreach (var cluster in clusters)
        {
            foreach (var key in cluster.PublicKeys)
            {
                capacity += key.Length + proxyHost.Length + (2 * cluster.ClusterName.Length) + 32;
            }
        }

        var sb = StringBuilderCache.Acquire(capacity);
        foreach (var cluster in clusters)
        {
            foreach (var key in cluster.PublicKeys)
            {
                sb.Append("@cert-authority ").Append(proxyHost).Append(',').Append(cluster.ClusterName)
                    .Append(",*.").Append(cluster.ClusterName).Append(' ').Append(key).Append(" type=host\n");
            }
        }

        return StringBuilderCache.GetStringAndRelease(sb);
    }

    /// <summary>Renders <c>&lt;cluster&gt;.known_hosts</c>: a header comment, then <c>@cert-authority *</c> per key.</summary>
    /// <param name="cluster">The cluster and its host CA keys.</param>
    /// <returns>The file content.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cluster"/> is null.</exception>
    public static string RenderClusterKnownHosts(ClusterHostCaKeys cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var capacity = 96 + cluster.ClusterName.Length;
        foreach (var key in cluster.PublicKeys)
        {
            capacity += key.Length + 32;
        }

        var sb = StringBuilderCache.Acquire(capacity);
        sb.Append("# Cluster specific known_hosts generated for cluster '").Append(cluster.ClusterName).Append("'\n");
        foreach (var key in cluster.PublicKeys)
        {
            sb.Append("@cert-authority * ").Append(key).Append(" type=host\n");
        }

        return StringBuilderCache.GetStringAndRelease(sb);
    }
}
