using System.Globalization;
using System.Text;

namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// What the <c>ssh_config</c> of tbot's <c>ssh-multiplexer</c> service needs: the clusters, the
/// destination's <c>known_hosts</c>, <c>v1.sock</c> and <c>agent.sock</c>, and the base ProxyCommand
/// (the socket path and <c>'%h:%p|&lt;cluster&gt;'</c> are appended). Immutable.
/// </summary>
public sealed class MultiplexerSshConfigParameters
{
    private readonly string _generatorName = "tbot";
    private readonly int _nodePort = 3022;

    /// <summary>Creates the parameters.</summary>
    /// <param name="destinationDirectory">The absolute path of the multiplexer's directory.</param>
    /// <param name="clusterNames">The local cluster first, then leaf clusters.</param>
    /// <param name="proxyCommand">The program and its leading arguments, e.g. <c>["/usr/local/bin/tbot", "ssh-multiplexer-proxy-command"]</c> or <c>["/usr/local/bin/fdpass-teleport"]</c>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The directory is not absolute, a cluster name cannot be written, or the command is empty or spans lines.</exception>
    public MultiplexerSshConfigParameters(string destinationDirectory, IEnumerable<string> clusterNames, IEnumerable<string> proxyCommand)
    {
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

        var command = proxyCommand.ToList();
        if (command.Count == 0 || string.IsNullOrEmpty(command[0]))
        {
            throw new ArgumentException("The ProxyCommand needs a program.", nameof(proxyCommand));
        }

        foreach (var argument in command)
        {
            ArgumentNullException.ThrowIfNull(argument, nameof(proxyCommand));
            SshConfigText.EnsureSingleLine(argument, nameof(proxyCommand));
        }

        DestinationDirectory = destinationDirectory;
        ClusterNames = clusters;
        ProxyCommand = command;
    }

    /// <summary>The file name of the multiplexer socket in the destination.</summary>
    public const string SocketFileName = "v1.sock";

    /// <summary>The file name of the SSH agent socket in the destination.</summary>
    public const string AgentSocketFileName = "agent.sock";

    /// <summary>The absolute path of the destination directory.</summary>
    public string DestinationDirectory { get; }

    /// <summary>The clusters, local first.</summary>
    public IReadOnlyList<string> ClusterNames { get; }

    /// <summary>The base ProxyCommand (program first).</summary>
    public IReadOnlyList<string> ProxyCommand { get; }

    /// <summary>The program named in the header comment; <c>tbot</c> by default.</summary>
    /// <exception cref="ArgumentException">Empty or contains a line break.</exception>
    public string GeneratorName
    {
        get => _generatorName;
        init => _generatorName = SshConfigText.CheckedGeneratorName(value, nameof(value));
    }

    /// <summary>The SSH port of nodes; 3022 by default (Teleport's).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a TCP port.</exception>
    public int NodePort
    {
        get => _nodePort;
        init => _nodePort = SshConfigText.CheckedTcpPort(value, nameof(value));
    }
}

/// <summary>
/// Renders the <c>ssh_config</c> of tbot's <c>ssh-multiplexer</c> service, byte-identical to tbot's
/// (<c>lib/config/openssh</c>, <c>TestWriteMuxedSSHConfig</c> goldens) for the same inputs: per cluster a
/// <c>Host *.&lt;cluster&gt;</c> block with <c>Port</c>, <c>UserKnownHostsFile</c>, <c>IdentityFile none</c>,
/// <c>IdentityAgent</c> (the in-memory agent), and a <c>ProxyCommand</c> that hands ssh a connected
/// socket (<c>ProxyUseFDPass yes</c>). Thread-safe.
/// </summary>
/// <remarks>
/// Every path and command argument is single-quoted with tbot's ProxyCommand quoting
/// (<see cref="SshProxyCommand.Quote"/>, which also keeps backslashes balanced); the cluster inside
/// <c>'%h:%p|&lt;cluster&gt;'</c> gets the same escaping, which leaves ordinary cluster names unchanged.
/// </remarks>
public static class MultiplexerSshConfigRenderer
{
    /// <summary>Renders the file.</summary>
    /// <param name="parameters">The inputs.</param>
    /// <returns>The file content.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    public static string Render(MultiplexerSshConfigParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var directory = parameters.DestinationDirectory;
        var knownHosts = SshProxyCommand.Quote(Path.Join(directory, KnownHostsRenderer.FileName));
        var agent = SshProxyCommand.Quote(Path.Join(directory, MultiplexerSshConfigParameters.AgentSocketFileName));
        var socket = SshProxyCommand.Quote(Path.Join(directory, MultiplexerSshConfigParameters.SocketFileName));
        var command = new StringBuilder();
        foreach (var argument in parameters.ProxyCommand)
        {
            SshConfigText.AppendProxyCommandArgument(command, argument);
            command.Append(' ');
        }

        command.Append(socket);
        var commandText = command.ToString();
        var port = parameters.NodePort.ToString(CultureInfo.InvariantCulture);

        var sb = StringBuilderCache.Acquire(256 + (parameters.ClusterNames.Count * (512 + commandText.Length)));
        sb.Append("# Begin generated Teleport configuration by ").Append(parameters.GeneratorName)
            .Append(" for the ssh-multiplexer service\n\n");
        foreach (var cluster in parameters.ClusterNames)
        {
            sb.Append("Host ");
            if (cluster.AsSpan().IndexOfAny("'\"\\#") < 0)
            {
                sb.Append("*.").Append(cluster);
            }
            else
            {
                SshConfigText.AppendHostPattern(sb, "*." + cluster);
            }

            sb.Append('\n');
            sb.Append("    Port ").Append(port).Append('\n');
            sb.Append("    UserKnownHostsFile ").Append(knownHosts).Append('\n');
            sb.Append("    IdentityFile none\n");
            sb.Append("    IdentityAgent ").Append(agent).Append('\n');
            sb.Append("    ProxyCommand ").Append(commandText).Append(' ');

            // '%h:%p|<cluster>': the tokens stay for ssh to expand; the cluster is escaped like an argument.
            var target = new StringBuilder();
            SshConfigText.AppendProxyCommandArgument(target, cluster);
            sb.Append("'%h:%p|").Append(target, 1, target.Length - 1).Append('\n');
            sb.Append("    ProxyUseFDPass yes\n");
        }

        sb.Append("# End generated Teleport configuration\n");
        return StringBuilderCache.GetStringAndRelease(sb);
    }
}
