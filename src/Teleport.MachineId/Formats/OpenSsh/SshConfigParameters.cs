using System.Text;

namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// What the generated <c>ssh_config</c> files need: the proxy, the destination directory holding
/// <c>key</c>, <c>key-cert.pub</c> and the known_hosts files, the clusters to cover and the
/// ProxyCommand. Validated once here so rendering stays cheap. Immutable.
/// </summary>
public sealed class SshConfigParameters
{
    private readonly string _generatorName = "tbot";
    private readonly int _nodePort = TeleportDefaults.NodeSshPort;

    /// <summary>Creates the parameters.</summary>
    /// <param name="proxyHost">The proxy host name (host part of the proxy SSH address).</param>
    /// <param name="proxyPort">The proxy port shown in the per-cluster header (the port the ProxyCommand dials).</param>
    /// <param name="destinationDirectory">The absolute path of the identity output directory.</param>
    /// <param name="clusterNames">The local cluster first, then leaf clusters.</param>
    /// <param name="proxyCommand">The ProxyCommand, e.g. <see cref="SshProxyCommand.ForTbot"/>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The proxy host, a cluster name or the directory cannot be written safely, the port is out of range, or there are no clusters.</exception>
    public SshConfigParameters(string proxyHost, int proxyPort, string destinationDirectory, IEnumerable<string> clusterNames, SshProxyCommand proxyCommand)
    {
        SshConfigText.EnsureValidHost(proxyHost, nameof(proxyHost));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proxyPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(proxyPort, 65535);
        SshConfigText.EnsureValidDirectory(destinationDirectory, nameof(destinationDirectory));
        ArgumentNullException.ThrowIfNull(clusterNames);
        ArgumentNullException.ThrowIfNull(proxyCommand);
        var clusters = clusterNames.ToList();
        if (clusters.Count == 0)
        {
            throw new ArgumentException("At least one cluster is needed.", nameof(clusterNames));
        }

        foreach (var cluster in clusters)
        {
            SshConfigText.EnsureValidClusterName(cluster, nameof(clusterNames));
        }

        ProxyHost = proxyHost;
        ProxyPort = proxyPort;
        DestinationDirectory = destinationDirectory;
        ClusterNames = clusters;
        ProxyCommand = proxyCommand;
        QuotedKnownHostsPath = QuotePath(Path.Join(destinationDirectory, KnownHostsRenderer.FileName));
        QuotedIdentityFilePath = QuotePath(Path.Join(destinationDirectory, IdentityFileName));
        QuotedCertificateFilePath = QuotePath(Path.Join(destinationDirectory, CertificateFileName));
    }

    /// <summary>Name of the private key file in the destination.</summary>
    internal const string IdentityFileName = "key";

    /// <summary>Name of the SSH certificate file in the destination.</summary>
    internal const string CertificateFileName = "key-cert.pub";

    /// <summary>The proxy host name.</summary>
    public string ProxyHost { get; }

    /// <summary>The proxy port.</summary>
    public int ProxyPort { get; }

    /// <summary>The absolute path of the destination directory.</summary>
    public string DestinationDirectory { get; }

    /// <summary>The clusters, local first.</summary>
    public IReadOnlyList<string> ClusterNames { get; }

    /// <summary>The ProxyCommand for nodes.</summary>
    public SshProxyCommand ProxyCommand { get; }

    /// <summary>The program named in the generated comments; <c>tbot</c> by default.</summary>
    /// <exception cref="ArgumentException">Empty or contains a line break.</exception>
    public string GeneratorName
    {
        get => _generatorName;
        init => _generatorName = SshConfigText.CheckedGeneratorName(value, nameof(value));
    }

    /// <summary>The SSH port of Teleport nodes; 3022 by default.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a TCP port.</exception>
    public int NodePort
    {
        get => _nodePort;
        init => _nodePort = SshConfigText.CheckedTcpPort(value, nameof(value));
    }

    internal string QuotedKnownHostsPath { get; }

    internal string QuotedIdentityFilePath { get; }

    internal string QuotedCertificateFilePath { get; }

    internal static string QuotePath(string path)
    {
        var sb = new StringBuilder(path.Length + 4);
        SshConfigText.AppendQuotedPath(sb, path);
        return sb.ToString();
    }
}
