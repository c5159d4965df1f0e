using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Hosting;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Teleport.MachineId.Testing;

/// <summary>
/// The emulator's YAML configuration for <see cref="EmulatorHost"/> (what <c>tbot-dotnet emulator -c emulator.yaml</c>
/// reads): cluster settings, listen ports, resources, join tokens, and nodes whose host keys get
/// certificates. See <c>examples/emulator.yaml</c> and the package README for the format.
/// </summary>
public sealed class EmulatorConfiguration
{
    /// <summary>The cluster name (<c>cluster_name</c>). Default <c>example.teleport.test</c>.</summary>
    public string ClusterName { get; set; } = "example.teleport.test";

    /// <summary>The proxy's public host name (<c>public_host</c>). Default <c>localhost</c>.</summary>
    public string PublicHostName { get; set; } = "localhost";

    /// <summary>The address to listen on (<c>listen_address</c>). Default <c>127.0.0.1</c>.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>The proxy web port (<c>proxy_port</c>). Default 3080, Teleport's; 0 picks a free port.</summary>
    public int ProxyPort { get; set; } = 3080;

    /// <summary>The proxy SSH port without TLS routing (<c>ssh_proxy_port</c>). Default 3023.</summary>
    public int SshProxyPort { get; set; } = TeleportDefaults.SshProxyPort;

    /// <summary>The Auth port (<c>auth_port</c>). Default 3025.</summary>
    public int AuthPort { get; set; } = TeleportDefaults.AuthPort;

    /// <summary>TLS routing (<c>tls_routing</c>). Default true.</summary>
    public bool TlsRouting { get; set; } = true;

    /// <summary>The signature algorithm suite (<c>signature_algorithm_suite</c>). Default <c>balanced-v1</c>.</summary>
    public string SignatureAlgorithmSuite { get; set; } = "balanced-v1";

    /// <summary>The server version (<c>server_version</c>). Default <c>18.0.0</c>.</summary>
    public string ServerVersion { get; set; } = "18.0.0";

    /// <summary>The join APIs (<c>join_apis: legacy | legacy_and_unified</c>); null derives them from the version.</summary>
    public EmulatorJoinApis? JoinApis { get; set; }

    /// <summary>Resource files (<c>resource_files</c>), relative to the configuration file.</summary>
    public IList<string> ResourceFiles { get; } = new List<string>();

    /// <summary>Join tokens to create (<c>tokens</c>); their secrets are written to the output directory.</summary>
    public IList<EmulatorTokenConfiguration> Tokens { get; } = new List<EmulatorTokenConfiguration>();

    /// <summary>OpenSSH nodes to register (<c>nodes</c>).</summary>
    public IList<EmulatorNodeConfiguration> Nodes { get; } = new List<EmulatorNodeConfiguration>();

    /// <summary>The directory relative paths are resolved against.</summary>
    public string BaseDirectory { get; set; } = Directory.GetCurrentDirectory();

    /// <summary>Inline resources (<c>resources:</c>), already parsed.</summary>
    internal ResourceSet InlineResources { get; } = new();

    /// <summary>Parses a configuration.</summary>
    /// <param name="yaml">The YAML text.</param>
    /// <param name="baseDirectory">Where relative paths point; the current directory when null.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="TeleportFormatException">The YAML is malformed or a value is invalid; the message names the key.</exception>
    public static EmulatorConfiguration Parse(string yaml, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var stream = ResourceYaml.LoadStream(yaml, "emulator configuration");

        var configuration = new EmulatorConfiguration { BaseDirectory = baseDirectory ?? Directory.GetCurrentDirectory() };
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return configuration;
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw Error("(top level)", "expected a mapping");
        }

        foreach (var (keyNode, value) in root.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
            switch (key)
            {
                case "cluster_name":
                    configuration.ClusterName = Text(value, key);
                    break;
                case "public_host":
                    configuration.PublicHostName = Text(value, key);
                    break;
                case "listen_address":
                    configuration.ListenAddress = Text(value, key);
                    break;
                case "proxy_port":
                    configuration.ProxyPort = Port(value, key);
                    break;
                case "ssh_proxy_port":
                    configuration.SshProxyPort = Port(value, key);
                    break;
                case "auth_port":
                    configuration.AuthPort = Port(value, key);
                    break;
                case "tls_routing":
                    configuration.TlsRouting = Text(value, key) switch
                    {
                        "true" or "yes" or "on" => true,
                        "false" or "no" or "off" => false,
                        _ => throw Error(key, "expected true or false"),
                    };
                    break;
                case "signature_algorithm_suite":
                    configuration.SignatureAlgorithmSuite = Text(value, key);
                    break;
                case "server_version":
                    configuration.ServerVersion = Text(value, key);
                    break;
                case "join_apis":
                    configuration.JoinApis = Text(value, key) switch
                    {
                        "legacy" => EmulatorJoinApis.Legacy,
                        "legacy_and_unified" or "unified" => EmulatorJoinApis.LegacyAndUnified,
                        _ => throw Error(key, "expected legacy or legacy_and_unified"),
                    };
                    break;
                case "resource_files":
                    foreach (var item in Sequence(value, key))
                    {
                        configuration.ResourceFiles.Add(Text(item, key));
                    }

                    break;
                case "resources":
                    ResourceYaml.ParseNode(value, "resources", configuration.InlineResources);
                    break;
                case "tokens":
                    foreach (var item in Sequence(value, key))
                    {
                        configuration.Tokens.Add(ParseToken(item));
                    }

                    break;
                case "nodes":
                    foreach (var item in Sequence(value, key))
                    {
                        configuration.Nodes.Add(ParseNode(item));
                    }

                    break;
                default:
                    throw Error(key, "unknown key");
            }
        }

        return configuration;
    }

    /// <summary>Reads and parses a configuration file; relative paths in it are resolved against its directory.</summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="TeleportFormatException">The file is larger than <see cref="InputLimits.ConfigurationFileBytes"/>, or the configuration is invalid.</exception>
    public static async Task<EmulatorConfiguration> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var text = await BoundedFile.ReadAllTextAsync(path, InputLimits.ConfigurationFileBytes, "emulator configuration file", cancellationToken).ConfigureAwait(false);
        return Parse(text, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>The emulator options this configuration describes.</summary>
    /// <param name="loggerFactory">Where to log; none when null.</param>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    /// <returns>New options.</returns>
    /// <exception cref="TeleportFormatException">The listen address or suite is invalid.</exception>
    public TeleportEmulatorOptions ToOptions(ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        if (!IPAddress.TryParse(ListenAddress, out var address))
        {
            throw Error("listen_address", "expected an IP address such as 127.0.0.1 or 0.0.0.0");
        }

        return new TeleportEmulatorOptions
        {
            ClusterName = ClusterName,
            PublicHostName = PublicHostName,
            ListenAddress = address,
            ProxyPort = ProxyPort,
            SshProxyPort = SshProxyPort,
            AuthPort = AuthPort,
            TlsRoutingEnabled = TlsRouting,
            SignatureAlgorithmSuite = Crypto.SignatureAlgorithmSuite.Parse(SignatureAlgorithmSuite),
            ServerVersion = ServerVersion,
            JoinApis = JoinApis,
            LoggerFactory = loggerFactory,
            TimeProvider = timeProvider ?? TimeProvider.System,
        };
    }

    internal string Resolve(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(BaseDirectory, path));

    private static EmulatorTokenConfiguration ParseToken(YamlNode node)
    {
        var mapping = node as YamlMappingNode ?? throw Error("tokens", "expected a list of mappings with bot, name, ttl");
        var token = new EmulatorTokenConfiguration();
        foreach (var (keyNode, value) in mapping.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
            switch (key)
            {
                case "bot":
                    token.Bot = Text(value, "tokens.bot");
                    break;
                case "name":
                    token.Name = Text(value, "tokens.name");
                    break;
                case "ttl":
                    token.Ttl = Configuration.GoDuration.Parse(Text(value, "tokens.ttl"));
                    break;
                default:
                    throw Error("tokens." + key, "unknown key");
            }
        }

        return string.IsNullOrEmpty(token.Bot) ? throw Error("tokens.bot", "is required") : token;
    }

    private static EmulatorNodeConfiguration ParseNode(YamlNode node)
    {
        var mapping = node as YamlMappingNode ?? throw Error("nodes", "expected a list of mappings with name, address, labels, host_key, principals");
        var result = new EmulatorNodeConfiguration();
        foreach (var (keyNode, value) in mapping.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
            switch (key)
            {
                case "name":
                    result.Name = Text(value, "nodes.name");
                    break;
                case "address":
                    result.Address = Text(value, "nodes.address");
                    break;
                case "host_key":
                    result.HostKeyPath = Text(value, "nodes.host_key");
                    break;
                case "labels":
                    var labels = value as YamlMappingNode ?? throw Error("nodes.labels", "expected a mapping");
                    foreach (var (labelKey, labelValue) in labels.Children)
                    {
                        result.Labels[Text(labelKey, "nodes.labels")] = Text(labelValue, "nodes.labels");
                    }

                    break;
                case "principals":
                    foreach (var item in Sequence(value, "nodes.principals"))
                    {
                        result.Principals.Add(Text(item, "nodes.principals"));
                    }

                    break;
                default:
                    throw Error("nodes." + key, "unknown key");
            }
        }

        if (string.IsNullOrEmpty(result.Name) || string.IsNullOrEmpty(result.Address))
        {
            throw Error("nodes", "every node needs a name and an address");
        }

        return result;
    }

    private static string Text(YamlNode node, string key) =>
        node is YamlScalarNode scalar ? scalar.Value ?? string.Empty : throw Error(key, "expected a single value");

    private static IEnumerable<YamlNode> Sequence(YamlNode node, string key) => node switch
    {
        YamlSequenceNode sequence => sequence.Children,
        YamlScalarNode { Value: null or "" } => [],
        _ => throw Error(key, "expected a list"),
    };

    private static int Port(YamlNode node, string key) =>
        int.TryParse(Text(node, key), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535
            ? port
            : throw Error(key, "expected a port number (0 picks a free port)");

    private static TeleportFormatException Error(string key, string message) => new($"Emulator configuration, {key}: {message}");
}

/// <summary>A join token to create at start-up (<c>tokens:</c> entry).</summary>
public sealed class EmulatorTokenConfiguration
{
    /// <summary>The bot the token is for (<c>bot</c>).</summary>
    public string Bot { get; set; } = string.Empty;

    /// <summary>The token name, which is its secret (<c>name</c>); random when null.</summary>
    public string? Name { get; set; }

    /// <summary>How long it is valid (<c>ttl</c>, Go duration); 1 hour when null.</summary>
    public TimeSpan? Ttl { get; set; }
}

/// <summary>An OpenSSH node to register at start-up (<c>nodes:</c> entry).</summary>
public sealed class EmulatorNodeConfiguration
{
    /// <summary>The node name (<c>name</c>).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The sshd address, <c>host:port</c> (<c>address</c>).</summary>
    public string Address { get; set; } = string.Empty;

    /// <summary>Labels (<c>labels</c>).</summary>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// The node's host key (<c>host_key</c>): a <c>.pub</c> file or a private key file; when set, a host
    /// certificate is signed and written to the output directory as <c>&lt;name&gt;-cert.pub</c>.
    /// </summary>
    public string? HostKeyPath { get; set; }

    /// <summary>Host certificate principals (<c>principals</c>); default <c>&lt;name&gt;</c> and <c>&lt;name&gt;.&lt;cluster&gt;</c>.</summary>
    public IList<string> Principals { get; } = new List<string>();
}
