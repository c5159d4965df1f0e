using System.Globalization;
using Teleport.MachineId.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Teleport.MachineId.Testing.Hosting;

/// <summary>Resources read from YAML, applied in dependency order (roles, bots, tokens, nodes, TCP targets, locks).</summary>
internal sealed class ResourceSet
{
    public List<EmulatorRole> Roles { get; } = [];

    public List<EmulatorBot> Bots { get; } = [];

    public List<EmulatorJoinToken> Tokens { get; } = [];

    public List<EmulatorNode> Nodes { get; } = [];

    public List<EmulatorTcpTarget> TcpTargets { get; } = [];

    public List<EmulatorLock> Locks { get; } = [];

    public void AddRange(ResourceSet other)
    {
        Roles.AddRange(other.Roles);
        Bots.AddRange(other.Bots);
        Tokens.AddRange(other.Tokens);
        Nodes.AddRange(other.Nodes);
        TcpTargets.AddRange(other.TcpTargets);
        Locks.AddRange(other.Locks);
    }

    public void ApplyTo(TeleportEmulator cluster)
    {
        Roles.ForEach(cluster.UpsertRole);
        Bots.ForEach(cluster.AddBot);
        Tokens.ForEach(cluster.AddJoinToken);
        Nodes.ForEach(cluster.AddNode);
        TcpTargets.ForEach(cluster.AddTcpTarget);
        Locks.ForEach(l => cluster.AddLock(l));
    }
}

/// <summary>
/// Reads Teleport-shaped resource YAML (multi-document; each document one resource or a list of
/// them): <c>kind: role | bot | token | node | tcp_target | lock</c>, with <c>metadata</c> and
/// <c>spec</c> as <c>tctl</c> writes them. Errors name the document and the field.
/// </summary>
internal static class ResourceYaml
{
    /// <exception cref="TeleportFormatException">The YAML is malformed or a resource is invalid.</exception>
    public static ResourceSet Parse(string yaml)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new TeleportFormatException($"Malformed resource YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex);
        }

        var set = new ResourceSet();
        for (var i = 0; i < stream.Documents.Count; i++)
        {
            var root = stream.Documents[i].RootNode;
            var where = "document " + (i + 1).ToString(CultureInfo.InvariantCulture);
            ParseNode(root, where, set);
        }

        return set;
    }

    /// <summary>Parses one resource mapping, or a sequence of them, into <paramref name="set"/>.</summary>
    public static void ParseNode(YamlNode node, string where, ResourceSet set)
    {
        switch (node)
        {
            case YamlScalarNode { Value: null or "" }:
                return;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    ParseResource(Mapping(sequence.Children[i], $"{where}[{i}]"), $"{where}[{i}]", set);
                }

                return;
            default:
                ParseResource(Mapping(node, where), where, set);
                return;
        }
    }

    private static void ParseResource(YamlMappingNode resource, string where, ResourceSet set)
    {
        var kind = RequiredString(resource, "kind", where);
        var metadata = Mapping(Required(resource, "metadata", where), where + ".metadata");
        var name = RequiredString(metadata, "name", where + ".metadata");
        where = $"{where} ({kind} \"{name}\")";
        var spec = Child(resource, "spec") is { } specNode ? Mapping(specNode, where + ".spec") : new YamlMappingNode();
        switch (kind)
        {
            case "role":
                set.Roles.Add(ParseRole(name, metadata, spec, where));
                break;
            case "bot":
                set.Bots.Add(new EmulatorBot
                {
                    Name = name,
                    Roles = StringList(spec, "roles", where + ".spec"),
                    MaxSessionTtl = Duration(spec, "max_session_ttl", where + ".spec"),
                });
                break;
            case "token":
                var roles = StringList(spec, "roles", where + ".spec");
                if (roles.Count > 0 && !roles.Contains("Bot", StringComparer.OrdinalIgnoreCase))
                {
                    throw Error(where + ".spec.roles", "the emulator serves bot tokens only (roles: [Bot])");
                }

                var method = OptionalString(spec, "join_method", where + ".spec") ?? "token";
                if (method != "token")
                {
                    throw Error(where + ".spec.join_method", $"join method \"{method}\" is not emulated; use token");
                }

                set.Tokens.Add(new EmulatorJoinToken
                {
                    Name = name,
                    BotName = RequiredString(spec, "bot_name", where + ".spec"),
                    Expires = Time(metadata, "expires", where + ".metadata"),
                });
                break;
            case "node":
                set.Nodes.Add(new EmulatorNode
                {
                    Name = name,
                    Address = RequiredString(spec, "addr", where + ".spec"),
                    Labels = StringMap(metadata, "labels", where + ".metadata"),
                });
                break;
            case "tcp_target":
                set.TcpTargets.Add(new EmulatorTcpTarget
                {
                    Name = name,
                    Address = RequiredString(spec, "addr", where + ".spec"),
                    Labels = StringMap(metadata, "labels", where + ".metadata"),
                });
                break;
            case "lock":
                var target = Child(spec, "target") is { } targetNode ? Mapping(targetNode, where + ".spec.target") : new YamlMappingNode();
                var user = OptionalString(target, "user", where + ".spec.target");
                var instance = OptionalString(target, "bot_instance_id", where + ".spec.target");
                if (user is null && instance is null)
                {
                    throw Error(where + ".spec.target", "a lock needs a target: user or bot_instance_id");
                }

                set.Locks.Add(new EmulatorLock
                {
                    Name = name,
                    User = user,
                    BotInstanceId = instance,
                    Message = OptionalString(spec, "message", where + ".spec"),
                    Expires = Time(spec, "expires", where + ".spec"),
                });
                break;
            default:
                throw Error(where + ".kind", $"unknown kind \"{kind}\"; expected role, bot, token, node, tcp_target or lock");
        }
    }

    private static EmulatorRole ParseRole(string name, YamlMappingNode metadata, YamlMappingNode spec, string where)
    {
        var options = Child(spec, "options") is { } o ? Mapping(o, where + ".spec.options") : new YamlMappingNode();
        var allow = Child(spec, "allow") is { } a ? Mapping(a, where + ".spec.allow") : new YamlMappingNode();
        var impersonate = Child(allow, "impersonate") is { } i ? Mapping(i, where + ".spec.allow.impersonate") : new YamlMappingNode();
        var rules = new List<EmulatorRoleRule>();
        if (Child(allow, "rules") is { } rulesNode)
        {
            var list = rulesNode as YamlSequenceNode ?? throw Error(where + ".spec.allow.rules", "expected a list of rules");
            for (var index = 0; index < list.Children.Count; index++)
            {
                var rule = Mapping(list.Children[index], $"{where}.spec.allow.rules[{index}]");
                try
                {
                    rules.Add(new EmulatorRoleRule
                    {
                        Resources = StringList(rule, "resources", $"{where}.spec.allow.rules[{index}]"),
                        Verbs = StringList(rule, "verbs", $"{where}.spec.allow.rules[{index}]"),
                        Where = OptionalString(rule, "where", $"{where}.spec.allow.rules[{index}]"),
                    });
                }
                catch (ArgumentException ex)
                {
                    throw Error($"{where}.spec.allow.rules[{index}].where", ex.InnerException?.Message ?? ex.Message);
                }
            }
        }

        var nodeLabels = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (Child(allow, "node_labels") is { } labelsNode)
        {
            foreach (var (key, value) in Mapping(labelsNode, where + ".spec.allow.node_labels").Children)
            {
                var label = Scalar(key, where + ".spec.allow.node_labels");
                nodeLabels[label] = value switch
                {
                    YamlScalarNode scalar => [scalar.Value ?? string.Empty],
                    YamlSequenceNode sequence => sequence.Children.Select(c => Scalar(c, $"{where}.spec.allow.node_labels.{label}")).ToArray(),
                    _ => throw Error($"{where}.spec.allow.node_labels.{label}", "expected a value or a list of values"),
                };
            }
        }

        return new EmulatorRole
        {
            Name = name,
            Description = OptionalString(metadata, "description", where + ".metadata"),
            Labels = StringMap(metadata, "labels", where + ".metadata"),
            Logins = StringList(allow, "logins", where + ".spec.allow"),
            NodeLabels = nodeLabels,
            MaxSessionTtl = Duration(options, "max_session_ttl", where + ".spec.options"),
            ImpersonateRoles = StringList(impersonate, "roles", where + ".spec.allow.impersonate"),
            Rules = rules,
            ForwardAgent = Bool(options, "forward_agent", where + ".spec.options") ?? false,
            PortForwarding = Bool(options, "port_forwarding", where + ".spec.options") ?? true,
            PermitX11Forwarding = Bool(options, "permit_x11_forwarding", where + ".spec.options") ?? false,
            CertificateFormat = OptionalString(options, "cert_format", where + ".spec.options") ?? "standard",
        };
    }

    private static YamlNode? Child(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) && !(value is YamlScalarNode { Value: null } s && s.Tag.IsEmpty && s.Style == ScalarStyle.Plain)
            ? value
            : null;

    private static YamlNode Required(YamlMappingNode mapping, string key, string where) =>
        Child(mapping, key) ?? throw Error(where + "." + key, "is required");

    private static YamlMappingNode Mapping(YamlNode node, string where) =>
        node as YamlMappingNode ?? throw Error(where, "expected a mapping");

    private static string Scalar(YamlNode node, string where) =>
        node is YamlScalarNode scalar ? scalar.Value ?? string.Empty : throw Error(where, "expected a single value");

    private static string RequiredString(YamlMappingNode mapping, string key, string where)
    {
        var value = Scalar(Required(mapping, key, where), where + "." + key);
        return value.Length > 0 ? value : throw Error(where + "." + key, "must not be empty");
    }

    private static string? OptionalString(YamlMappingNode mapping, string key, string where) =>
        Child(mapping, key) is { } node ? Scalar(node, where + "." + key) : null;

    private static IReadOnlyList<string> StringList(YamlMappingNode mapping, string key, string where) => Child(mapping, key) switch
    {
        null => [],
        YamlSequenceNode sequence => sequence.Children.Select(c => Scalar(c, where + "." + key)).ToArray(),
        YamlScalarNode scalar => [scalar.Value ?? string.Empty],
        _ => throw Error(where + "." + key, "expected a list of strings"),
    };

    private static Dictionary<string, string> StringMap(YamlMappingNode mapping, string key, string where)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Child(mapping, key) is { } node)
        {
            foreach (var (k, v) in Mapping(node, where + "." + key).Children)
            {
                result[Scalar(k, where + "." + key)] = Scalar(v, where + "." + key);
            }
        }

        return result;
    }

    private static TimeSpan? Duration(YamlMappingNode mapping, string key, string where)
    {
        if (OptionalString(mapping, key, where) is not { } text)
        {
            return null;
        }

        try
        {
            return GoDuration.Parse(text);
        }
        catch (TeleportFormatException ex)
        {
            throw Error(where + "." + key, ex.Message);
        }
    }

    private static DateTimeOffset? Time(YamlMappingNode mapping, string key, string where)
    {
        if (OptionalString(mapping, key, where) is not { } text)
        {
            return null;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value
            : throw Error(where + "." + key, "expected an RFC 3339 time such as 2030-01-01T00:00:00Z");
    }

    private static bool? Bool(YamlMappingNode mapping, string key, string where) => OptionalString(mapping, key, where) switch
    {
        null => null,
        "true" or "True" or "yes" or "on" => true,
        "false" or "False" or "no" or "off" => false,
        _ => throw Error(where + "." + key, "expected true or false"),
    };

    private static TeleportFormatException Error(string where, string message) => new($"Resource YAML, {where}: {message}");
}
