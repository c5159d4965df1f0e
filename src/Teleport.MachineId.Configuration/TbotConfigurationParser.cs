using System.Buffers;
using System.Globalization;

namespace Teleport.MachineId.Configuration;

/// <summary>
/// Walks a loaded tbot v2 document, collects every problem with its path, applies overrides and
/// builds the <see cref="TbotConfiguration"/> model.
/// </summary>
internal sealed class TbotConfigurationParser
{
    /// <summary>tbot's default storage directory (<c>defaults.DataDir</c> + <c>/bot</c>).</summary>
    internal const string DefaultStoragePath = "/var/lib/teleport/bot";

    /// <summary>The longest credential TTL a bot may request in Teleport 18 (<c>MaxRenewableCertTTL</c>).</summary>

    private const string OverrideProxy = "TELEPORT_PROXY or --proxy-server";
    private const string OverrideAuth = "TELEPORT_AUTH_SERVER or --auth-server";
    private const string OverrideToken = "TELEPORT_BOT_TOKEN or --token";

    private static readonly string[] TopLevelKeys =
    [
        "version", "proxy_server", "auth_server", "credential_ttl", "certificate_ttl", "renewal_interval",
        "oneshot", "insecure", "fips", "debug", "diag_addr", "onboarding", "storage", "services", "outputs",
    ];

    private static readonly Dictionary<string, string> TopLevelHints = new(StringComparer.Ordinal)
    {
        ["token"] = "under 'onboarding'",
        ["join_method"] = "under 'onboarding'",
        ["ca_pins"] = "under 'onboarding'",
        ["ca_path"] = "under 'onboarding'",
        ["destination"] = "in an entry of 'services'",
        ["roles"] = "in an entry of 'services'",
        ["destinations"] = "to tbot's v1 format; v2 uses 'services' (convert with 'tbot migrate')",
    };

    private static readonly string[] OnboardingKeys =
    [
        "join_method", "token", "ca_pins", "ca_path", "azure", "terraform", "gitlab", "bound_keypair", "generic_oidc", "kubernetes",
    ];

    private static readonly Dictionary<string, string> OnboardingHints = new(StringComparer.Ordinal)
    {
        ["proxy_server"] = "at the top level, not under 'onboarding'",
        ["auth_server"] = "at the top level, not under 'onboarding'",
        ["insecure"] = "at the top level, not under 'onboarding'",
    };

    /// <summary>The keys tbot knows in each join method's own block; their values are not used here.</summary>
    private static readonly Dictionary<string, string[]> JoinMethodBlocks = new(StringComparer.Ordinal)
    {
        ["azure"] = ["client_id"],
        ["terraform"] = ["audience_tag"],
        ["gitlab"] = ["token_env_var_name"],
        ["bound_keypair"] = ["registration_secret", "registration_secret_path", "static_private_key_path"],
        ["generic_oidc"] = ["env", "command", "timeout"],
        ["kubernetes"] = ["token_path"],
    };

    /// <summary>tbot's bot join methods (Teleport 18 and the 18.x additions).</summary>
    private static readonly string[] KnownJoinMethods =
    [
        "token", "azure", "azure_devops", "bitbucket", "circleci", "gcp", "github", "gitlab", "iam", "kubernetes",
        "spacelift", "tpm", "terraform_cloud", "oracle", "bound_keypair", "env0", "generic_oidc",
    ];

    /// <summary>The join methods Teleport.MachineId implements.</summary>
    private static readonly Dictionary<string, TbotJoinMethod> SupportedJoinMethods = new(StringComparer.Ordinal)
    {
        ["token"] = TbotJoinMethod.Token,
        ["bound_keypair"] = TbotJoinMethod.BoundKeypair,
        ["github"] = TbotJoinMethod.GitHub,
        ["gitlab"] = TbotJoinMethod.GitLab,
        ["kubernetes"] = TbotJoinMethod.Kubernetes,
    };

    private const string SupportedMethodList = "'token', 'bound_keypair', 'github', 'gitlab' and 'kubernetes'";

    /// <summary>tbot's service and output types other than <c>identity</c>.</summary>
    private static readonly string[] UnsupportedServiceTypes =
    [
        "application", "application-tunnel", "application-proxy", "database", "database-tunnel", "example",
        "kubernetes", "kubernetes/v2", "kubernetes/argo-cd", "spiffe-svid", "spiffe-workload-api",
        "workload-identity-x509", "workload-identity-jwt", "workload-identity-api",
        "workload-identity-aws-roles-anywhere",
    ];

    /// <summary>The service types Teleport.MachineId runs.</summary>
    private static readonly string[] SupportedServiceTypes = ["identity", "ssh-multiplexer", "ssh_host"];

    private static readonly string[] MultiplexerKeys =
    [
        "type", "name", "destination", "enable_resumption", "proxy_templates_path", "proxy_command", "relay_addr", "credential_ttl", "renewal_interval",
    ];

    private static readonly string[] SshHostKeys =
    [
        "type", "name", "destination", "roles", "principals", "ca_type", "credential_ttl", "renewal_interval",
    ];

    private static readonly string[] IdentityKeys =
    [
        "type", "name", "destination", "roles", "cluster", "ssh_config", "allow_reissue", "credential_ttl", "renewal_interval",
    ];

    private static readonly Dictionary<string, string> IdentityHints = new(StringComparer.Ordinal)
    {
        ["path"] = "under 'destination'",
        ["symlinks"] = "under 'destination'",
        ["acls"] = "under 'destination'",
        ["readers"] = "under 'destination'",
        ["certificate_ttl"] = "only at the top level; services use 'credential_ttl'",
    };

    private static readonly string[] DirectoryKeys = ["type", "path", "symlinks", "acls", "readers"];

    private static readonly Dictionary<string, string> DirectoryHints = new(StringComparer.Ordinal)
    {
        ["roles"] = "to the service, not to its destination",
        ["ssh_config"] = "to the service, not to its destination",
        ["cluster"] = "to the service, not to its destination",
    };

    private static readonly string[] DestinationTypes = ["directory", "memory", "kubernetes_secret"];

    private static readonly string[] ReservedServiceNames =
        ["ca-rotation", "crl-cache", "heartbeat", "identity", "spiffe-trust-bundle-cache"];

    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");

    private readonly List<TbotConfigurationIssue> errors = [];
    private readonly List<TbotConfigurationIssue> warnings = [];
    private readonly List<DirectoryUse> directoryUses = [];

    // Top level, as read (and then overridden).
    private Located? proxyServer;
    private Located? authServer;
    private Located? diagAddr;
    private LocatedDuration? credentialTtl;
    private LocatedDuration? certificateTtl;
    private LocatedDuration? renewalInterval;
    private bool oneshot;
    private bool insecure;
    private bool debug;
    private ConfigYamlNode? fipsTrue;

    // Onboarding.
    private ConfigYamlNode? onboardingNode;
    private Located? joinMethod;
    private Located? token;
    private List<string> caPins = [];
    private ConfigYamlNode? caPinsNode;
    private int caPinsWritten;
    private Located? caPath;
    private readonly Dictionary<string, (string[] Keys, Dictionary<string, Located> Values, ConfigYamlNode Node)> methodBlocks = new(StringComparer.Ordinal);

    private TbotDestination? storage;
    private readonly List<ServiceDraft> services = [];
    private readonly List<ServiceDraft> outputs = [];

    private TbotConfigurationParser()
    {
    }

    /// <summary>Reads a whole configuration; see <see cref="TbotConfigurationReader.Read"/>.</summary>
    internal static TbotConfigurationResult ParseConfiguration(string text, TbotConfigurationOverrides? overrides, string? sourceName)
    {
        var parser = new TbotConfigurationParser();
        var root = parser.LoadRoot(text, sourceName);
        parser.CheckVersion(root, sourceName);
        parser.ReadTopLevel(root);
        if (overrides is not null)
        {
            parser.ApplyOverrides(overrides);
        }

        var configuration = parser.Build();
        parser.ThrowIfErrors(sourceName);
        return new TbotConfigurationResult(configuration!, parser.warnings.AsReadOnly());
    }

    /// <summary>Reads a single identity service entry, e.g. tbot's identity-output golden files.</summary>
    internal static TbotIdentityService ParseServiceFragment(string text) =>
        ParseAnyServiceFragment(text) as TbotIdentityService
        ?? throw new TbotConfigurationException([new TbotConfigurationIssue("type", "the service is not of type identity")]);

    /// <summary>Reads a single service entry of any supported type, e.g. tbot's service golden files.</summary>
    internal static TbotService ParseAnyServiceFragment(string text)
    {
        var parser = new TbotConfigurationParser();
        var root = parser.LoadRoot(text, null);
        var draft = parser.ReadService(root, string.Empty);
        if (draft is not null)
        {
            parser.ValidateLifetime(draft.Service.CredentialLifetime, draft.Path, draft.Node);
        }

        parser.ThrowIfErrors(null);
        return draft!.Service;
    }

    /// <summary>Reads a single destination mapping, e.g. tbot's destination golden files.</summary>
    internal static TbotDestination ParseDestinationFragment(string text)
    {
        var parser = new TbotConfigurationParser();
        var root = parser.LoadRoot(text, null);
        var destination = parser.ReadDestination(root, string.Empty);
        parser.ThrowIfErrors(null);
        return destination!;
    }

    private ConfigYamlMapping LoadRoot(string text, string? sourceName)
    {
        if (text.Length > TbotConfigurationReader.MaxLength)
        {
            Fail(string.Empty, $"the configuration is larger than {TbotConfigurationReader.MaxLength / 1024} KiB; is it a tbot configuration?", null);
            ThrowIfErrors(sourceName);
        }

        ConfigYamlLoader.Document document;
        try
        {
            document = ConfigYamlLoader.Load(text);
        }
        catch (ConfigYamlLoadException ex)
        {
            errors.Add(new TbotConfigurationIssue(string.Empty, ex.Message, ex.Line, ex.Column));
            ThrowIfErrors(sourceName);
            throw; // unreachable
        }

        if (document.HasMoreDocuments)
        {
            warnings.Add(new TbotConfigurationIssue(string.Empty, "the file holds more than one YAML document; only the first is read, as tbot does"));
        }

        switch (document.Root)
        {
            case ConfigYamlMapping mapping:
                return mapping;
            case null:
            case ConfigYamlScalar { IsNull: true }:
                Fail(string.Empty, "the configuration is empty; a tbot v2 configuration starts with 'version: v2'", document.Root);
                break;
            default:
                Fail(string.Empty, $"the configuration must be a mapping of keys (version, proxy_server, onboarding, …), not {document.Root.Describe()}", document.Root);
                break;
        }

        ThrowIfErrors(sourceName);
        throw new InvalidOperationException("unreachable");
    }

    private void CheckVersion(ConfigYamlMapping root, string? sourceName)
    {
        var node = root.Find("version");
        var version = node is null ? null : ReadString(node, "version");
        switch (version)
        {
            case "v2":
                return;
            case null:
                if (errors.Count == 0)
                {
                    Fail(
                        "version",
                        "'version' is missing; tbot reads a file without it as a v1 configuration. Add 'version: v2' at the top "
                        + "(a v1 file must first be converted with 'tbot migrate -c <file> -o <new file>')",
                        node ?? root);
                }

                break;
            case "v1":
                Fail(
                    "version",
                    "version v1 is not supported; convert the file to v2 with 'tbot migrate -c <file> -o <new file>' and use the result",
                    node);
                break;
            default:
                Fail("version", $"unrecognized configuration version {Quote(version)}; Teleport.MachineId reads tbot's 'version: v2'", node);
                break;
        }

        // A wrong version makes every other key suspect: report only this.
        ThrowIfErrors(sourceName);
    }

    private void ReadTopLevel(ConfigYamlMapping root)
    {
        foreach (var (key, value) in root.Entries)
        {
            var path = key.Value;
            switch (key.Value)
            {
                case "version":
                    break;
                case "proxy_server":
                    proxyServer = ReadLocated(value, path);
                    break;
                case "auth_server":
                    authServer = ReadLocated(value, path);
                    break;
                case "diag_addr":
                    diagAddr = ReadLocated(value, path);
                    break;
                case "credential_ttl":
                    credentialTtl = ReadDuration(value, path);
                    break;
                case "certificate_ttl":
                    certificateTtl = ReadDuration(value, path);
                    Warn(path, "'certificate_ttl' is deprecated; use 'credential_ttl'", key);
                    break;
                case "renewal_interval":
                    renewalInterval = ReadDuration(value, path);
                    break;
                case "oneshot":
                    oneshot = ReadBoolean(value, path) ?? false;
                    break;
                case "insecure":
                    insecure = ReadBoolean(value, path) ?? false;
                    break;
                case "debug":
                    debug = ReadBoolean(value, path) ?? false;
                    break;
                case "fips":
                    fipsTrue = ReadBoolean(value, path) == true ? value : null;
                    break;
                case "onboarding":
                    ReadOnboarding(value, path);
                    break;
                case "storage":
                    storage = value is ConfigYamlScalar { IsNull: true } ? null : ReadDestination(value, path);
                    break;
                case "services":
                    ReadServices(value, path, services);
                    break;
                case "outputs":
                    Warn(path, "'outputs' is deprecated; tbot merges it into 'services' (move the entries there)", key);
                    ReadServices(value, path, outputs);
                    break;
                default:
                    UnknownKey(key, string.Empty, TopLevelKeys, TopLevelHints);
                    break;
            }
        }
    }

    private void ReadOnboarding(ConfigYamlNode node, string path)
    {
        if (ReadMapping(node, path) is not { } mapping)
        {
            return;
        }

        onboardingNode = mapping;
        foreach (var (key, value) in mapping.Entries)
        {
            var childPath = Child(path, key.Value);
            switch (key.Value)
            {
                case "join_method":
                    joinMethod = ReadLocated(value, childPath);
                    break;
                case "token":
                    // Never echo this value: ReadLocated reports only the node's kind.
                    token = ReadLocated(value, childPath);
                    break;
                case "ca_pins":
                    caPinsNode = value;
                    caPinsWritten = value is ConfigYamlSequence written ? written.Items.Count : 0;
                    caPins = ReadPins(value, childPath);
                    break;
                case "ca_path":
                    caPath = ReadLocated(value, childPath);
                    break;
                default:
                    if (JoinMethodBlocks.TryGetValue(key.Value, out var blockKeys))
                    {
                        ReadMethodBlock(key.Value, value, childPath, blockKeys);
                    }
                    else
                    {
                        UnknownKey(key, path, OnboardingKeys, OnboardingHints);
                    }

                    break;
            }
        }
    }

    /// <summary>Reads a join method's own block (<c>bound_keypair</c>, <c>gitlab</c>, …): known keys, single values (never echoed).</summary>
    private void ReadMethodBlock(string method, ConfigYamlNode node, string path, string[] keys)
    {
        CheckKeysOnly(node, path, keys);
        if (node is not ConfigYamlMapping mapping)
        {
            return;
        }

        var values = new Dictionary<string, Located>(StringComparer.Ordinal);
        foreach (var (key, value) in mapping.Entries)
        {
            if (keys.Contains(key.Value, StringComparer.Ordinal) && value is not ConfigYamlSequence && ReadLocated(value, Child(path, key.Value)) is { } located)
            {
                values[key.Value] = located;
            }
        }

        methodBlocks[method] = (keys, values, mapping);
    }

    private string? MethodValue(string method, string key) =>
        methodBlocks.TryGetValue(method, out var block) && block.Values.TryGetValue(key, out var located) ? located.Value : null;

    private List<string> ReadPins(ConfigYamlNode node, string path)
    {
        var pins = new List<string>();
        var items = ReadStringList(node, path);
        for (var i = 0; i < items.Count; i++)
        {
            var (pin, itemNode) = items[i];
            if (IsValidPin(pin))
            {
                pins.Add(pin.ToLowerInvariant());
            }
            else
            {
                Fail(
                    Index(path, i),
                    $"{Quote(pin)} is not a CA pin; expected 'sha256:' followed by 64 hex digits, as printed by 'tctl status'",
                    itemNode);
            }
        }

        return pins;
    }

    private static bool IsValidPin(string pin) =>
        pin.StartsWith("sha256:", StringComparison.Ordinal)
        && pin.Length == 7 + 64
        && !pin.AsSpan(7).ContainsAnyExcept(HexDigits);

    private void ReadServices(ConfigYamlNode node, string path, List<ServiceDraft> target)
    {
        switch (node)
        {
            case ConfigYamlScalar { IsNull: true }:
                return;
            case ConfigYamlSequence sequence:
                for (var i = 0; i < sequence.Items.Count; i++)
                {
                    if (ReadService(sequence.Items[i], Index(path, i)) is { } draft)
                    {
                        target.Add(draft);
                    }
                }

                return;
            default:
                Fail(path, $"expected a list of services (entries starting with '- type: identity'), found {node.Describe()}", node);
                return;
        }
    }

    private ServiceDraft? ReadService(ConfigYamlNode node, string path)
    {
        if (node is not ConfigYamlMapping mapping)
        {
            Fail(path, $"expected a service mapping with a 'type' (e.g. 'type: identity'), found {node.Describe()}", node);
            return null;
        }

        var typePath = Child(path, "type");
        var typeNode = mapping.Find("type");
        var type = typeNode is null ? null : ReadString(typeNode, typePath);
        switch (type)
        {
            case null:
                Fail(typePath, "'type' is required; Teleport.MachineId supports 'type: identity', 'ssh-multiplexer' and 'ssh_host'", typeNode ?? mapping);
                return null;
            case "identity":
                return ReadIdentityService(mapping, path);
            case "ssh-multiplexer":
                return ReadMultiplexerService(mapping, path);
            case "ssh_host":
                return ReadSshHostService(mapping, path);
            default:
                if (UnsupportedServiceTypes.Contains(type, StringComparer.Ordinal))
                {
                    Fail(typePath, $"service type '{type}' is not supported by Teleport.MachineId yet; 'identity', 'ssh-multiplexer' and 'ssh_host' services are", typeNode);
                }
                else
                {
                    Fail(
                        typePath,
                        $"unrecognized service type {Quote(type)}{KeySuggestion.DidYouMean(type, UnsupportedServiceTypes.Concat(SupportedServiceTypes))}; "
                        + "Teleport.MachineId supports 'identity', 'ssh-multiplexer' and 'ssh_host'",
                        typeNode);
                }

                return null;
        }
    }

    private ServiceDraft? ReadIdentityService(ConfigYamlMapping mapping, string path)
    {
        Located? name = null;
        TbotDestination? destination = null;
        var hasDestination = false;
        var roles = new List<string>();
        string? cluster = null;
        var writeSshConfig = true;
        var allowReissue = false;
        LocatedDuration? ttl = null;
        LocatedDuration? interval = null;
        var errorsBefore = errors.Count;

        foreach (var (key, value) in mapping.Entries)
        {
            var childPath = Child(path, key.Value);
            switch (key.Value)
            {
                case "type":
                    break;
                case "name":
                    name = ReadLocated(value, childPath);
                    break;
                case "destination":
                    hasDestination = true;
                    destination = ReadDestination(value, childPath);
                    break;
                case "roles":
                    var items = ReadStringList(value, childPath);
                    for (var i = 0; i < items.Count; i++)
                    {
                        roles.Add(items[i].Value);
                    }

                    break;
                case "cluster":
                    cluster = ReadString(value, childPath);
                    break;
                case "ssh_config":
                    writeSshConfig = ReadString(value, childPath) switch
                    {
                        null or "on" => true,
                        "off" => false,
                        var other => FailAndReturn(
                            childPath,
                            $"{Quote(other)} is not a valid ssh_config mode; use \"on\" or \"off\"",
                            value,
                            true),
                    };
                    break;
                case "allow_reissue":
                    allowReissue = ReadBoolean(value, childPath) ?? false;
                    break;
                case "credential_ttl":
                    ttl = ReadDuration(value, childPath);
                    break;
                case "renewal_interval":
                    interval = ReadDuration(value, childPath);
                    break;
                default:
                    UnknownKey(key, path, IdentityKeys, IdentityHints);
                    break;
            }
        }

        if (!hasDestination)
        {
            Fail(path, "an identity service needs a 'destination', e.g. {type: directory, path: /opt/machine-id}", mapping);
        }

        var lifetime = ServiceLifetime(ttl, interval, path);

        if (destination is null || errors.Count > errorsBefore)
        {
            return null;
        }

        var service = new TbotIdentityService
        {
            Name = name?.Value,
            Destination = destination,
            Roles = roles.AsReadOnly(),
            Cluster = cluster,
            WriteSshConfig = writeSshConfig,
            AllowReissue = allowReissue,
            CredentialLifetime = lifetime,
        };
        return new ServiceDraft(service, path, mapping, name, ttl?.Node ?? interval?.Node);
    }

    /// <summary>A service's own lifetime: both of credential_ttl and renewal_interval, or neither.</summary>
    private TbotCredentialLifetime? ServiceLifetime(LocatedDuration? ttl, LocatedDuration? interval, string path)
    {
        if (ttl is null && interval is null)
        {
            return null;
        }

        if (ttl is null || interval is null)
        {
            var (setPath, missing, at) = ttl is null
                ? (Child(path, "renewal_interval"), "credential_ttl", interval!.Node)
                : (Child(path, "credential_ttl"), "renewal_interval", ttl.Node);
            Fail(setPath, $"a service that sets credential_ttl or renewal_interval must set both; add '{missing}'", at);
            return null;
        }

        return new TbotCredentialLifetime(ttl.Value, interval.Value);
    }

    private ServiceDraft? ReadMultiplexerService(ConfigYamlMapping mapping, string path)
    {
        Located? name = null;
        TbotDestination? destination = null;
        var hasDestination = false;
        var enableResumption = true;
        var proxyCommand = new List<string>();
        LocatedDuration? ttl = null;
        LocatedDuration? interval = null;
        var errorsBefore = errors.Count;

        foreach (var (key, value) in mapping.Entries)
        {
            var childPath = Child(path, key.Value);
            switch (key.Value)
            {
                case "type":
                    break;
                case "name":
                    name = ReadLocated(value, childPath);
                    break;
                case "destination":
                    hasDestination = true;
                    destination = ReadDestination(value, childPath);
                    if (destination is not null and not TbotDirectoryDestination)
                    {
                        Fail(childPath, "the ssh-multiplexer needs a destination of type directory (it serves its sockets from it)", value);
                    }

                    break;
                case "enable_resumption":
                    enableResumption = ReadBoolean(value, childPath) ?? true;
                    break;
                case "proxy_command":
                    proxyCommand.AddRange(ReadStringList(value, childPath).Select(i => i.Value));
                    break;
                case "proxy_templates_path":
                case "relay_addr":
                    if (!string.IsNullOrEmpty(ReadString(value, childPath)))
                    {
                        Fail(childPath, $"'{key.Value}' is not supported by Teleport.MachineId's ssh-multiplexer; remove it", value);
                    }

                    break;
                case "credential_ttl":
                    ttl = ReadDuration(value, childPath);
                    break;
                case "renewal_interval":
                    interval = ReadDuration(value, childPath);
                    break;
                default:
                    UnknownKey(key, path, MultiplexerKeys, IdentityHints);
                    break;
            }
        }

        if (!hasDestination)
        {
            Fail(path, "an ssh-multiplexer needs a 'destination', e.g. {type: directory, path: /opt/machine-id}", mapping);
        }

        var lifetime = ServiceLifetime(ttl, interval, path);
        if (destination is null || errors.Count > errorsBefore)
        {
            return null;
        }

        var service = new TbotSshMultiplexerService
        {
            Name = name?.Value,
            Destination = destination,
            EnableResumption = enableResumption,
            ProxyCommand = proxyCommand.AsReadOnly(),
            CredentialLifetime = lifetime,
        };
        return new ServiceDraft(service, path, mapping, name, ttl?.Node ?? interval?.Node);
    }

    private ServiceDraft? ReadSshHostService(ConfigYamlMapping mapping, string path)
    {
        Located? name = null;
        TbotDestination? destination = null;
        var hasDestination = false;
        var roles = new List<string>();
        var principals = new List<string>();
        var caType = "user";
        LocatedDuration? ttl = null;
        LocatedDuration? interval = null;
        var errorsBefore = errors.Count;

        foreach (var (key, value) in mapping.Entries)
        {
            var childPath = Child(path, key.Value);
            switch (key.Value)
            {
                case "type":
                    break;
                case "name":
                    name = ReadLocated(value, childPath);
                    break;
                case "destination":
                    hasDestination = true;
                    destination = ReadDestination(value, childPath);
                    break;
                case "roles":
                    roles.AddRange(ReadStringList(value, childPath).Select(i => i.Value));
                    break;
                case "principals":
                    principals.AddRange(ReadStringList(value, childPath).Select(i => i.Value));
                    break;
                case "ca_type":
                    caType = ReadString(value, childPath) switch
                    {
                        null or "" or "user" => "user",
                        "openssh" => "openssh",
                        var other => FailAndReturn(childPath, $"ca_type ({Quote(other)}) is unsupported; use \"user\" or \"openssh\"", value, "user"),
                    };
                    break;
                case "credential_ttl":
                    ttl = ReadDuration(value, childPath);
                    break;
                case "renewal_interval":
                    interval = ReadDuration(value, childPath);
                    break;
                default:
                    UnknownKey(key, path, SshHostKeys, IdentityHints);
                    break;
            }
        }

        if (!hasDestination)
        {
            Fail(path, "an ssh_host output needs a 'destination', e.g. {type: directory, path: /etc/ssh/teleport}", mapping);
        }

        if (principals.Count == 0)
        {
            Fail(Child(path, "principals"), "at least one principal must be specified (the host names clients reach the server by)", mapping);
        }

        var lifetime = ServiceLifetime(ttl, interval, path);
        if (destination is null || errors.Count > errorsBefore)
        {
            return null;
        }

        var service = new TbotSshHostService
        {
            Name = name?.Value,
            Destination = destination,
            Roles = roles.AsReadOnly(),
            Principals = principals.AsReadOnly(),
            CaType = caType,
            CredentialLifetime = lifetime,
        };
        return new ServiceDraft(service, path, mapping, name, ttl?.Node ?? interval?.Node);
    }

    private TbotDestination? ReadDestination(ConfigYamlNode node, string path)
    {
        if (node is not ConfigYamlMapping mapping)
        {
            Fail(
                path,
                $"expected a destination mapping, e.g. {{type: directory, path: /opt/machine-id}} or {{type: memory}}, found {node.Describe()}",
                node);
            return null;
        }

        var typePath = Child(path, "type");
        var typeNode = mapping.Find("type");
        var type = typeNode is null ? null : ReadString(typeNode, typePath);
        switch (type)
        {
            case null:
                Fail(typePath, "'type' is required: 'directory' or 'memory'", typeNode ?? mapping);
                return null;
            case "directory":
                return ReadDirectory(mapping, path);
            case "memory":
                foreach (var (key, _) in mapping.Entries)
                {
                    if (key.Value != "type")
                    {
                        UnknownKey(key, path, ["type"], new Dictionary<string, string>(StringComparer.Ordinal));
                    }
                }

                return new TbotMemoryDestination();
            case "kubernetes_secret":
                Fail(typePath, "destination type 'kubernetes_secret' is not supported by Teleport.MachineId yet; use 'directory' or 'memory'", typeNode);
                return null;
            default:
                Fail(
                    typePath,
                    $"unrecognized destination type {Quote(type)}{KeySuggestion.DidYouMean(type, DestinationTypes)}; use 'directory' or 'memory'",
                    typeNode);
                return null;
        }
    }

    private TbotDirectoryDestination? ReadDirectory(ConfigYamlMapping mapping, string path)
    {
        string? directory = null;
        ConfigYamlNode? directoryNode = null;
        var symlinks = TbotSymlinksMode.TrySecure;
        var acls = OperatingSystem.IsLinux() ? TbotAclMode.Try : TbotAclMode.Off;
        IReadOnlyList<TbotDirectoryReader> readers = [];
        var errorsBefore = errors.Count;

        foreach (var (key, value) in mapping.Entries)
        {
            var childPath = Child(path, key.Value);
            switch (key.Value)
            {
                case "type":
                    break;
                case "path":
                    directory = ReadString(value, childPath);
                    directoryNode = value;
                    break;
                case "symlinks":
                    symlinks = ReadString(value, childPath) switch
                    {
                        null or "try-secure" => TbotSymlinksMode.TrySecure,
                        "secure" => TbotSymlinksMode.Secure,
                        "insecure" => TbotSymlinksMode.Insecure,
                        var other => FailAndReturn(
                            childPath,
                            $"{Quote(other)} is not a symlinks mode{KeySuggestion.DidYouMean(other, ["secure", "try-secure", "insecure"])}; use secure, try-secure or insecure",
                            value,
                            TbotSymlinksMode.TrySecure),
                    };
                    break;
                case "acls":
                    acls = ReadString(value, childPath) switch
                    {
                        null => acls,
                        "off" => TbotAclMode.Off,
                        "try" => TbotAclMode.Try,
                        "required" => TbotAclMode.Required,
                        var other => FailAndReturn(
                            childPath,
                            $"{Quote(other)} is not an acls mode{KeySuggestion.DidYouMean(other, ["off", "try", "required"])}; use off, try or required (quote \"off\" if another YAML tool reads it as false)",
                            value,
                            acls),
                    };
                    break;
                case "readers":
                    readers = ReadReaders(value, childPath);
                    break;
                default:
                    UnknownKey(key, path, DirectoryKeys, DirectoryHints);
                    break;
            }
        }

        if (directory is null)
        {
            Fail(Child(path, "path"), "a directory destination needs a 'path', e.g. path: /opt/machine-id", directoryNode ?? mapping);
        }

        if (directory is null || errors.Count > errorsBefore)
        {
            return null;
        }

        directoryUses.Add(new DirectoryUse(directory, Child(path, "path"), directoryNode));
        return new TbotDirectoryDestination { Path = directory, Symlinks = symlinks, Acls = acls, Readers = readers };
    }

    private IReadOnlyList<TbotDirectoryReader> ReadReaders(ConfigYamlNode node, string path)
    {
        var readers = new List<TbotDirectoryReader>();
        switch (node)
        {
            case ConfigYamlScalar { IsNull: true }:
                return readers;
            case ConfigYamlSequence sequence:
                for (var i = 0; i < sequence.Items.Count; i++)
                {
                    if (ReadReader(sequence.Items[i], Index(path, i)) is { } reader)
                    {
                        readers.Add(reader);
                    }
                }

                return readers.AsReadOnly();
            default:
                Fail(path, $"expected a list such as [{{user: teleport}}, {{group: \"1000\"}}], found {node.Describe()}", node);
                return readers;
        }
    }

    private TbotDirectoryReader? ReadReader(ConfigYamlNode node, string path)
    {
        if (node is not ConfigYamlMapping mapping)
        {
            Fail(path, $"a reader is a mapping with exactly one of 'user' or 'group' (name or numeric id), found {node.Describe()}", node);
            return null;
        }

        string? user = null;
        string? group = null;
        foreach (var (key, value) in mapping.Entries)
        {
            switch (key.Value)
            {
                case "user":
                    user = ReadString(value, Child(path, key.Value));
                    break;
                case "group":
                    group = ReadString(value, Child(path, key.Value));
                    break;
                default:
                    UnknownKey(key, path, ["user", "group"], new Dictionary<string, string>(StringComparer.Ordinal));
                    break;
            }
        }

        switch (user, group)
        {
            case (null, null):
                Fail(path, "a reader needs exactly one of 'user' or 'group' (a name or a numeric id)", mapping);
                return null;
            case (not null, not null):
                Fail(path, "a reader may set only one of 'user' or 'group'; use one list entry for each", mapping);
                return null;
            case (not null, null):
                return new TbotDirectoryReader(TbotReaderKind.User, user);
            default:
                return new TbotDirectoryReader(TbotReaderKind.Group, group!);
        }
    }

    private void ApplyOverrides(TbotConfigurationOverrides overrides)
    {
        if (!string.IsNullOrEmpty(overrides.ProxyServer))
        {
            if (proxyServer is not null && proxyServer.Value != overrides.ProxyServer)
            {
                Warn("proxy_server", $"overridden by {OverrideProxy} ({overrides.ProxyServer})", proxyServer.Node);
            }

            proxyServer = new Located(overrides.ProxyServer, null, OverrideProxy);
        }

        if (!string.IsNullOrEmpty(overrides.AuthServer))
        {
            if (authServer is not null && authServer.Value != overrides.AuthServer)
            {
                Warn("auth_server", $"overridden by {OverrideAuth} ({overrides.AuthServer})", authServer.Node);
            }

            authServer = new Located(overrides.AuthServer, null, OverrideAuth);
        }

        if (!string.IsNullOrEmpty(overrides.Token))
        {
            var replaced = new List<string>();
            if (joinMethod is not null)
            {
                replaced.Add("join_method");
            }

            if (caPinsWritten > 0)
            {
                replaced.Add("ca_pins");
            }

            if (caPath is not null)
            {
                replaced.Add("ca_path");
            }

            if (token is not null)
            {
                replaced.Add("token");
            }

            if (replaced.Count > 0)
            {
                Warn(
                    "onboarding",
                    $"{OverrideToken} replaces the whole onboarding section, as tbot does: the file's {string.Join(", ", replaced)} "
                    + "are not used, and the bot joins with join_method token",
                    onboardingNode);
            }

            joinMethod = new Located("token", null, OverrideToken);
            token = new Located(overrides.Token, null, OverrideToken);
            caPins = [];
            caPinsNode = null;
            caPinsWritten = 0;
            caPath = null;
        }
    }

    private TbotConfiguration? Build()
    {
        if (fipsTrue is not null)
        {
            Fail("fips", "fips: true is not supported: Teleport.MachineId has no FIPS mode; remove 'fips' or set it to false", fipsTrue);
        }

        var (proxy, auth) = BuildAddresses();
        var diagnostics = BuildDiagnosticsAddress();
        var lifetime = BuildLifetime();
        var onboarding = BuildOnboarding();

        var effectiveStorage = storage ?? new TbotDirectoryDestination
        {
            Path = DefaultStoragePath,
            Acls = OperatingSystem.IsLinux() ? TbotAclMode.Try : TbotAclMode.Off,
        };
        if (storage is null)
        {
            directoryUses.Insert(0, new DirectoryUse(DefaultStoragePath, "storage (default)", null));
        }

        if (effectiveStorage is TbotMemoryDestination && onboarding is { JoinMethod: TbotJoinMethod.BoundKeypair })
        {
            Warn(
                "storage",
                "with memory storage the bound keypair lives only as long as the process: every start registers again and needs an unused registration secret; use a directory",
                null);
        }

        if (effectiveStorage is TbotMemoryDestination && onboarding is { Token: null })
        {
            Fail(
                "onboarding.token",
                "a token is required when storage is memory: nothing is kept between runs, so the bot joins on every start",
                onboardingNode);
        }

        var allServices = services.Concat(outputs).ToList();
        foreach (var draft in allServices)
        {
            ValidateLifetime(draft.Service.CredentialLifetime, draft.Path, draft.LifetimeNode ?? draft.Node);
        }

        CheckServiceNames(allServices);
        CheckDuplicateDirectories();
        if (allServices.Count == 0 && errors.Count == 0)
        {
            Warn("services", "no services are configured; the bot will only keep its own identity renewed", null);
        }

        if (errors.Count > 0 || onboarding is null)
        {
            return null;
        }

        return new TbotConfiguration
        {
            ProxyServer = proxy,
            AuthServer = auth,
            CredentialLifetime = lifetime,
            Oneshot = oneshot,
            Insecure = insecure,
            Debug = debug,
            DiagnosticsAddress = diagnostics,
            Onboarding = onboarding,
            Storage = effectiveStorage,
            Services = allServices.Select(s => s.Service).OfType<TbotIdentityService>().ToList().AsReadOnly(),
            SshMultiplexers = allServices.Select(s => s.Service).OfType<TbotSshMultiplexerService>().ToList().AsReadOnly(),
            SshHostOutputs = allServices.Select(s => s.Service).OfType<TbotSshHostService>().ToList().AsReadOnly(),
        };
    }

    private (TbotAddress? Proxy, TbotAddress? Auth) BuildAddresses()
    {
        var proxy = proxyServer is null ? null : ParseAddress(proxyServer, "proxy_server", TbotAddress.DefaultProxyPort);
        var auth = authServer is null ? null : ParseAddress(authServer, "auth_server", TbotAddress.DefaultAuthPort);
        if (proxyServer is not null && authServer is not null)
        {
            var (later, laterPath) = IsAfter(authServer.Node, proxyServer.Node) ? (authServer, "auth_server") : (proxyServer, "proxy_server");
            Fail(
                laterPath,
                "proxy_server and auth_server are mutually exclusive; keep proxy_server (recommended) or auth_server"
                + FromOverride(proxyServer) + FromOverride(authServer),
                later.Node);
        }
        else if (proxyServer is null && authServer is null)
        {
            Fail(
                "proxy_server",
                "set proxy_server (the Teleport Proxy address, e.g. teleport.example.com:443) or auth_server; "
                + $"{OverrideProxy} can also supply it",
                null);
        }

        return (proxy, auth);
    }

    private TbotAddress? BuildDiagnosticsAddress() =>
        diagAddr is null ? null : ParseAddress(diagAddr, "diag_addr", defaultPort: null);

    private TbotAddress? ParseAddress(Located located, string path, int? defaultPort)
    {
        if (TbotAddress.TryParse(located.Value, defaultPort, out var address, out var error))
        {
            return address;
        }

        Fail(path, error + FromOverride(located), located.Node);
        return null;
    }

    private TbotCredentialLifetime BuildLifetime()
    {
        if (credentialTtl is not null && certificateTtl is not null)
        {
            Warn("certificate_ttl", "both credential_ttl and certificate_ttl are set; credential_ttl is used", certificateTtl.Node);
        }

        var ttl = credentialTtl ?? certificateTtl;
        var lifetime = new TbotCredentialLifetime(
            ttl?.Value ?? TbotCredentialLifetime.Default.Ttl,
            renewalInterval?.Value ?? TbotCredentialLifetime.Default.RenewalInterval);
        ValidateLifetime(lifetime, string.Empty, renewalInterval?.Node ?? ttl?.Node);
        return lifetime;
    }

    /// <summary>tbot's <c>CredentialLifetime.Validate</c> warnings (negative values were already rejected).</summary>
    private void ValidateLifetime(TbotCredentialLifetime? lifetime, string path, ConfigYamlNode? at)
    {
        if (lifetime is null)
        {
            return;
        }

        // tbot warns when the interval is longer than the TTL; an equal interval leaves no margin
        // at all, so it is reported too.
        if (!oneshot && lifetime.RenewalInterval >= lifetime.Ttl)
        {
            Warn(
                Child(path, "renewal_interval"),
                $"renewal_interval ({GoDuration.Format(lifetime.RenewalInterval)}) is not shorter than credential_ttl "
                + $"({GoDuration.Format(lifetime.Ttl)}): credentials would expire before they are renewed; "
                + "increase credential_ttl or decrease renewal_interval",
                at);
        }

        if (lifetime.Ttl > TeleportDefaults.MaxRenewableCertTtl)
        {
            Warn(
                Child(path, "credential_ttl"),
                $"credential_ttl ({GoDuration.Format(lifetime.Ttl)}) is longer than the {GoDuration.Format(TeleportDefaults.MaxRenewableCertTtl)} "
                + "a bot may request; the cluster will shorten it",
                at);
        }
    }

    private TbotOnboarding? BuildOnboarding()
    {
        if (insecure)
        {
            Warn("insecure", "insecure: true trusts the cluster's certificates on first connect without verification; do not use it in production", null);
            if (caPinsWritten > 0)
            {
                Fail("onboarding.ca_pins", "ca_pins cannot be used with insecure: true; remove one of them", caPinsNode);
            }

            if (caPath is not null)
            {
                Fail("onboarding.ca_path", "ca_path cannot be used with insecure: true; remove one of them", caPath.Node);
            }
        }
        else if (caPinsWritten > 0 && caPath is not null)
        {
            Fail("onboarding.ca_path", "ca_pins and ca_path are mutually exclusive; keep one of them", caPath.Node);
        }

        var method = joinMethod?.Value;
        TbotJoinMethod kind;
        switch (method)
        {
            case null when token is not null:
                // A token without a method is what `tctl bots add` hands out for the token method,
                // so accept it as such rather than refuse a working tbot file.
                Warn(
                    "onboarding.join_method",
                    "join_method is not set; joining with 'token' because a token is configured (set 'join_method: token' to silence this)",
                    onboardingNode);
                kind = TbotJoinMethod.Token;
                break;
            case null:
                Fail(
                    "onboarding.join_method",
                    $"join_method is required; Teleport.MachineId supports {SupportedMethodList}",
                    onboardingNode);
                return null;
            default:
                if (SupportedJoinMethods.TryGetValue(method, out var supported))
                {
                    kind = supported;
                    break;
                }

                if (KnownJoinMethods.Contains(method, StringComparer.Ordinal))
                {
                    Fail(
                        "onboarding.join_method",
                        $"join method '{method}' is not supported by Teleport.MachineId yet; supported: {SupportedMethodList}",
                        joinMethod!.Node);
                }
                else
                {
                    Fail(
                        "onboarding.join_method",
                        $"unrecognized join method {Quote(method)}{KeySuggestion.DidYouMean(method, KnownJoinMethods)}; "
                        + $"Teleport.MachineId supports {SupportedMethodList}",
                        joinMethod!.Node);
                }

                return null;
        }

        if (kind != TbotJoinMethod.Token && token is null)
        {
            Fail(
                "onboarding.token",
                $"join_method {method} needs 'token': the name of the join token resource (tbot's onboarding.token)",
                onboardingNode);
        }

        var boundKeypair = new TbotBoundKeypairOnboarding
        {
            RegistrationSecret = MethodValue("bound_keypair", "registration_secret"),
            RegistrationSecretPath = MethodValue("bound_keypair", "registration_secret_path"),
            StaticPrivateKeyPath = MethodValue("bound_keypair", "static_private_key_path"),
        };
        if (kind == TbotJoinMethod.BoundKeypair && boundKeypair.RegistrationSecret is not null && boundKeypair.RegistrationSecretPath is not null)
        {
            Fail(
                "onboarding.bound_keypair",
                "only one of 'registration_secret' and 'registration_secret_path' may be set",
                methodBlocks["bound_keypair"].Node);
        }

        return new TbotOnboarding
        {
            JoinMethod = kind,
            Token = token is null ? null : TbotJoinToken.Parse(token.Value),
            CaPins = caPins.AsReadOnly(),
            CaPath = caPath?.Value,
            BoundKeypair = boundKeypair,
            GitLabTokenEnvironmentVariable = MethodValue("gitlab", "token_env_var_name"),
            KubernetesTokenPath = MethodValue("kubernetes", "token_path"),
        };
    }

    /// <summary>tbot's service naming rules, checked in the order tbot assigns names.</summary>
    private void CheckServiceNames(List<ServiceDraft> drafts)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var count = 0;
        foreach (var draft in drafts)
        {
            count++;
            if (draft.Name is null)
            {
                var generated = string.Create(CultureInfo.InvariantCulture, $"{draft.Service.Type}-{count}");
                if (!used.Add(generated))
                {
                    Fail(
                        draft.Path,
                        $"this service would be named '{generated}', which another service already uses; give it a 'name'",
                        draft.Node);
                }

                continue;
            }

            var name = draft.Name.Value;
            var path = Child(draft.Path, "name");
            if (used.Contains(name))
            {
                Fail(path, $"service name '{name}' is used more than once", draft.Name.Node);
            }
            else if (ReservedServiceNames.Contains(name, StringComparer.Ordinal))
            {
                Fail(path, $"service name '{name}' is reserved for tbot's internal services", draft.Name.Node);
            }
            else if (name.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '+')))
            {
                Fail(path, $"invalid service name {Quote(name)}: use only lowercase letters, digits, '-', '_' and '+'", draft.Name.Node);
            }

            used.Add(name);
        }
    }

    private void CheckDuplicateDirectories()
    {
        var seen = new Dictionary<string, DirectoryUse>(StringComparer.Ordinal);
        foreach (var use in directoryUses)
        {
            var key = Path.TrimEndingDirectorySeparator(use.Directory);
            if (seen.TryGetValue(key, out var first))
            {
                Fail(
                    use.Path,
                    $"directory '{use.Directory}' is also used by {first.Path.Replace(".path", string.Empty, StringComparison.Ordinal)}; "
                    + "outputs writing over one another give unusable results, so give each service and the storage its own directory",
                    use.Node);
            }
            else
            {
                seen.Add(key, use);
            }
        }
    }

    // ---- scalar readers -------------------------------------------------------------------

    private Located? ReadLocated(ConfigYamlNode node, string path) =>
        ReadString(node, path) is { } value ? new Located(value, node, null) : null;

    /// <summary>Any scalar as written; null for null and empty values (yaml.v3 leaves the field unset).</summary>
    private string? ReadString(ConfigYamlNode node, string path)
    {
        if (node is ConfigYamlScalar scalar)
        {
            return scalar.IsNull || scalar.Value.Length == 0 ? null : scalar.Value;
        }

        Fail(path, $"expected a single value, found {node.Describe()}", node);
        return null;
    }

    private bool? ReadBoolean(ConfigYamlNode node, string path)
    {
        if (node is not ConfigYamlScalar scalar)
        {
            Fail(path, $"expected true or false, found {node.Describe()}", node);
            return null;
        }

        if (scalar.IsNull)
        {
            return null;
        }

        if (scalar.AsBoolean() is { } value)
        {
            return value;
        }

        Fail(path, $"expected true or false, found {Quote(scalar.Value)}", node);
        return null;
    }

    private LocatedDuration? ReadDuration(ConfigYamlNode node, string path)
    {
        if (ReadString(node, path) is not { } text)
        {
            return null;
        }

        if (!GoDuration.TryParseNanoseconds(text, out var nanoseconds, out var error))
        {
            Fail(path, error, node);
            return null;
        }

        if (nanoseconds < 0)
        {
            Fail(path, $"{Quote(text)} is negative; a duration here must be positive", node);
            return null;
        }

        // tbot treats a zero duration as "not set" and applies the default.
        return nanoseconds == 0 ? null : new LocatedDuration(GoDuration.Parse(text), node);
    }

    private List<(string Value, ConfigYamlNode Node)> ReadStringList(ConfigYamlNode node, string path)
    {
        var values = new List<(string, ConfigYamlNode)>();
        switch (node)
        {
            case ConfigYamlScalar { IsNull: true }:
                return values;
            case ConfigYamlSequence sequence:
                for (var i = 0; i < sequence.Items.Count; i++)
                {
                    var item = sequence.Items[i];
                    if (ReadString(item, Index(path, i)) is { } value)
                    {
                        values.Add((value, item));
                    }
                    else if (item is ConfigYamlScalar)
                    {
                        Fail(Index(path, i), "empty list entry", item);
                    }
                }

                return values;
            default:
                Fail(path, $"expected a list (e.g. [a, b] or lines starting with '- '), found {node.Describe()}", node);
                return values;
        }
    }

    private ConfigYamlMapping? ReadMapping(ConfigYamlNode node, string path)
    {
        switch (node)
        {
            case ConfigYamlMapping mapping:
                return mapping;
            case ConfigYamlScalar { IsNull: true }:
                return null;
            default:
                Fail(path, $"expected a mapping of keys, found {node.Describe()}", node);
                return null;
        }
    }

    /// <summary>Checks only the key names of a block whose values Teleport.MachineId does not use.</summary>
    private void CheckKeysOnly(ConfigYamlNode node, string path, string[] known)
    {
        if (ReadMapping(node, path) is not { } mapping)
        {
            return;
        }

        foreach (var (key, _) in mapping.Entries)
        {
            if (!known.Contains(key.Value, StringComparer.Ordinal))
            {
                UnknownKey(key, path, known, new Dictionary<string, string>(StringComparer.Ordinal));
            }
        }
    }

    private void UnknownKey(ConfigYamlScalar key, string parentPath, IReadOnlyCollection<string> known, Dictionary<string, string> hints)
    {
        var path = Child(parentPath, key.Value);
        string message;
        if (hints.TryGetValue(key.Value, out var hint))
        {
            message = $"unknown key '{key.Value}' here; it belongs {hint}";
        }
        else if (KeySuggestion.Closest(key.Value, known) is { } suggestion)
        {
            message = $"unknown key {Quote(key.Value)}; did you mean '{suggestion}'?";
        }
        else
        {
            message = $"unknown key {Quote(key.Value)}; expected one of: {string.Join(", ", known)}";
        }

        Fail(path, message, key);
    }

    // ---- issues and paths ----------------------------------------------------------------

    private void Fail(string path, string message, ConfigYamlNode? at) => errors.Add(Issue(path, message, at));

    private T FailAndReturn<T>(string path, string message, ConfigYamlNode? at, T fallback)
    {
        Fail(path, message, at);
        return fallback;
    }

    private void Warn(string path, string message, ConfigYamlNode? at) => warnings.Add(Issue(path, message, at));

    private static TbotConfigurationIssue Issue(string path, string message, ConfigYamlNode? at) =>
        at is null
            ? new TbotConfigurationIssue(path, message)
            : new TbotConfigurationIssue(path, message, (int)at.Start.Line, (int)at.Start.Column);

    private void ThrowIfErrors(string? sourceName)
    {
        if (errors.Count == 0)
        {
            return;
        }

        // Document order reads best; problems without a position (overrides, missing keys) go last.
        var ordered = errors
            .Select((issue, index) => (issue, index))
            .OrderBy(e => e.issue.Line ?? int.MaxValue)
            .ThenBy(e => e.issue.Column ?? int.MaxValue)
            .ThenBy(e => e.index)
            .Select(e => e.issue)
            .ToList();
        throw new TbotConfigurationException(ordered.AsReadOnly(), sourceName);
    }

    private static string Child(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private static string Index(string path, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{path}[{index}]");

    private static string FromOverride(Located located) =>
        located.Override is null ? string.Empty : $" (the value comes from {located.Override})";

    private static bool IsAfter(ConfigYamlNode? a, ConfigYamlNode? b) =>
        a is null || (b is not null && a.Start.Index > b.Start.Index);

    /// <summary>Quotes a (non-secret) value for a message, shortened if long.</summary>
    private static string Quote(string value) =>
        "'" + (value.Length > 60 ? value[..57] + "..." : value) + "'";

    /// <summary>A value and where it came from: a node of the file, or an override.</summary>
    /// <remarks>May hold the join token, so <see cref="ToString"/> never shows the value.</remarks>
    private sealed record Located(string Value, ConfigYamlNode? Node, string? Override)
    {
        public override string ToString() => Override ?? "configured value";
    }

    private sealed record LocatedDuration(TimeSpan Value, ConfigYamlNode Node);

    private sealed record ServiceDraft(
        TbotService Service,
        string Path,
        ConfigYamlMapping Node,
        Located? Name,
        ConfigYamlNode? LifetimeNode);

    private sealed record DirectoryUse(string Directory, string Path, ConfigYamlNode? Node);
}
