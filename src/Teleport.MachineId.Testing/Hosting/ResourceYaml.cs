using System.Globalization;
using Teleport.MachineId.Configuration;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
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

    /// <summary>
    /// Replaces <c>{{emulator.oidc_issuer}}</c> and <c>{{emulator.kubernetes_jwks}}</c> in token specs with the
    /// running emulator's test issuer host and Kubernetes JWKS (known only once it has started).
    /// </summary>
    public void ResolvePlaceholders(TeleportEmulator cluster)
    {
        const string Issuer = "{{emulator.oidc_issuer}}";
        const string Jwks = "{{emulator.kubernetes_jwks}}";
        for (var i = 0; i < Tokens.Count; i++)
        {
            var token = Tokens[i];
            Tokens[i] = new EmulatorJoinToken
            {
                Name = token.Name,
                BotName = token.BotName,
                Expires = token.Expires,
                JoinMethod = token.JoinMethod,
                GitHub = token.GitHub is { } github && github.EnterpriseServerHost == Issuer
                    ? new EmulatorGitHubJoinSpec { Allow = github.Allow, EnterpriseServerHost = cluster.OidcIssuer.Host }
                    : token.GitHub,
                GitLab = token.GitLab is { } gitlab && gitlab.Domain == Issuer
                    ? new EmulatorGitLabJoinSpec { Allow = gitlab.Allow, Domain = cluster.OidcIssuer.Host }
                    : token.GitLab,
                Kubernetes = token.Kubernetes is { } kubernetes && kubernetes.StaticJwks?.Trim() == Jwks
                    ? new EmulatorKubernetesJoinSpec { Type = kubernetes.Type, AllowServiceAccounts = kubernetes.AllowServiceAccounts, StaticJwks = cluster.Kubernetes.Jwks }
                    : token.Kubernetes,
                BoundKeypair = token.BoundKeypair,
            };
        }
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
    /// <summary>Loads YAML text into YamlDotNet's node model.</summary>
    /// <param name="yaml">The text.</param>
    /// <param name="what">What it is, for messages (e.g. <c>emulator configuration</c>).</param>
    /// <returns>The documents.</returns>
    /// <exception cref="TeleportFormatException">The text is not well-formed YAML.</exception>
    public static YamlStream LoadStream(string yaml, string what)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new DepthLimitedParser(new Parser(new StringReader(yaml))));
            return stream;
        }
        catch (YamlException ex)
        {
            throw new TeleportFormatException($"Malformed {what} at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or IndexOutOfRangeException or FormatException)
        {
            // YamlDotNet's scanner throws these for some malformed input instead of a YamlException.
            throw new TeleportFormatException($"Malformed {what}: the YAML scanner could not continue.", ex);
        }
    }

    /// <exception cref="TeleportFormatException">The YAML is malformed or a resource is invalid.</exception>
    public static ResourceSet Parse(string yaml)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var stream = LoadStream(yaml, "resource YAML");

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
                set.Tokens.Add(ParseToken(name, metadata, spec, where));
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
                var joinToken = OptionalString(target, "join_token", where + ".spec.target");
                if (user is null && instance is null && joinToken is null)
                {
                    throw Error(where + ".spec.target", "a lock needs a target: user, bot_instance_id or join_token");
                }

                set.Locks.Add(new EmulatorLock
                {
                    Name = name,
                    User = user,
                    BotInstanceId = instance,
                    JoinToken = joinToken,
                    Message = OptionalString(spec, "message", where + ".spec"),
                    Expires = Time(spec, "expires", where + ".spec"),
                });
                break;
            default:
                throw Error(where + ".kind", $"unknown kind \"{kind}\"; expected role, bot, token, node, tcp_target or lock");
        }
    }

    /// <summary>A <c>kind: token</c> resource of any emulated method, in Teleport's shape.</summary>
    private static EmulatorJoinToken ParseToken(string name, YamlMappingNode metadata, YamlMappingNode spec, string where)
    {
        var at = where + ".spec";
        var roles = StringList(spec, "roles", at);
        if (roles.Count > 0 && !roles.Contains("Bot", StringComparer.OrdinalIgnoreCase))
        {
            throw Error(at + ".roles", "the emulator serves bot tokens only (roles: [Bot])");
        }

        var method = OptionalString(spec, "join_method", at) ?? EmulatorJoinMethods.Token;
        if (!EmulatorJoinMethods.IsKnown(method))
        {
            throw Error(at + ".join_method", $"join method \"{method}\" is not emulated; use token, github, gitlab, kubernetes or bound_keypair");
        }

        EmulatorGitHubJoinSpec? github = null;
        EmulatorGitLabJoinSpec? gitlab = null;
        EmulatorKubernetesJoinSpec? kubernetes = null;
        EmulatorBoundKeypairJoinSpec? boundKeypair = null;
        switch (method)
        {
            case EmulatorJoinMethods.GitHub:
                var gh = Section(spec, "github", at);
                github = new EmulatorGitHubJoinSpec
                {
                    EnterpriseServerHost = OptionalString(gh, "enterprise_server_host", at + ".github"),
                    Allow = Rules(gh, at + ".github", (rule, w) => new EmulatorGitHubRule
                    {
                        Sub = OptionalString(rule, "sub", w),
                        Repository = OptionalString(rule, "repository", w),
                        RepositoryOwner = OptionalString(rule, "repository_owner", w),
                        Workflow = OptionalString(rule, "workflow", w),
                        Environment = OptionalString(rule, "environment", w),
                        Actor = OptionalString(rule, "actor", w),
                        Ref = OptionalString(rule, "ref", w),
                        RefType = OptionalString(rule, "ref_type", w),
                    }),
                };
                break;
            case EmulatorJoinMethods.GitLab:
                var gl = Section(spec, "gitlab", at);
                gitlab = new EmulatorGitLabJoinSpec
                {
                    Domain = OptionalString(gl, "domain", at + ".gitlab"),
                    Allow = Rules(gl, at + ".gitlab", (rule, w) => new EmulatorGitLabRule
                    {
                        Sub = OptionalString(rule, "sub", w),
                        Ref = OptionalString(rule, "ref", w),
                        RefType = OptionalString(rule, "ref_type", w),
                        NamespacePath = OptionalString(rule, "namespace_path", w),
                        ProjectPath = OptionalString(rule, "project_path", w),
                        PipelineSource = OptionalString(rule, "pipeline_source", w),
                        Environment = OptionalString(rule, "environment", w),
                        UserLogin = OptionalString(rule, "user_login", w),
                        UserId = OptionalString(rule, "user_id", w),
                        UserEmail = OptionalString(rule, "user_email", w),
                        RefProtected = Bool(rule, "ref_protected", w),
                        EnvironmentProtected = Bool(rule, "environment_protected", w),
                        CiConfigSha = OptionalString(rule, "ci_config_sha", w),
                        CiConfigRefUri = OptionalString(rule, "ci_config_ref_uri", w),
                        DeploymentTier = OptionalString(rule, "deployment_tier", w),
                        ProjectVisibility = OptionalString(rule, "project_visibility", w),
                    }),
                };
                break;
            case EmulatorJoinMethods.Kubernetes:
                var k8s = Section(spec, "kubernetes", at);
                var jwks = Child(k8s, "static_jwks") is { } jwksNode ? Mapping(jwksNode, at + ".kubernetes.static_jwks") : null;
                kubernetes = new EmulatorKubernetesJoinSpec
                {
                    Type = OptionalString(k8s, "type", at + ".kubernetes") ?? EmulatorKubernetesJoinSpec.InCluster,
                    StaticJwks = jwks is null ? null : OptionalString(jwks, "jwks", at + ".kubernetes.static_jwks"),
                    AllowServiceAccounts = Rules(k8s, at + ".kubernetes", (rule, w) => RequiredString(rule, "service_account", w)),
                };
                break;
            case EmulatorJoinMethods.BoundKeypair:
                var bkp = Section(spec, "bound_keypair", at);
                var onboarding = Child(bkp, "onboarding") is { } o ? Mapping(o, at + ".bound_keypair.onboarding") : new YamlMappingNode();
                var recovery = Child(bkp, "recovery") is { } r ? Mapping(r, at + ".bound_keypair.recovery") : new YamlMappingNode();
                var limit = OptionalString(recovery, "limit", at + ".bound_keypair.recovery");
                boundKeypair = new EmulatorBoundKeypairJoinSpec
                {
                    InitialPublicKey = OptionalString(onboarding, "initial_public_key", at + ".bound_keypair.onboarding"),
                    RegistrationSecret = OptionalString(onboarding, "registration_secret", at + ".bound_keypair.onboarding"),
                    MustRegisterBefore = Time(onboarding, "must_register_before", at + ".bound_keypair.onboarding"),
                    RecoveryMode = OptionalString(recovery, "mode", at + ".bound_keypair.recovery") ?? "standard",
                    RecoveryLimit = limit is null ? 1
                        : int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed
                        : throw Error(at + ".bound_keypair.recovery.limit", "expected a whole number"),
                    RotateAfter = Time(bkp, "rotate_after", at + ".bound_keypair"),
                };
                break;
        }

        return new EmulatorJoinToken
        {
            Name = name,
            BotName = RequiredString(spec, "bot_name", at),
            Expires = Time(metadata, "expires", where + ".metadata"),
            JoinMethod = method,
            GitHub = github,
            GitLab = gitlab,
            Kubernetes = kubernetes,
            BoundKeypair = boundKeypair,
        };
    }

    private static YamlMappingNode Section(YamlMappingNode spec, string key, string where) =>
        Child(spec, key) is { } node ? Mapping(node, where + "." + key) : throw Error(where + "." + key, $"is required for the {key} join method");

    private static IReadOnlyList<T> Rules<T>(YamlMappingNode section, string where, Func<YamlMappingNode, string, T> parse)
    {
        if (Child(section, "allow") is not { } node)
        {
            return [];
        }

        var list = node as YamlSequenceNode ?? throw Error(where + ".allow", "expected a list of rules");
        return list.Children.Select((child, i) => parse(Mapping(child, $"{where}.allow[{i}]"), $"{where}.allow[{i}]")).ToArray();
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

/// <summary>
/// Refuses documents nested deeper than <see cref="MaxDepth"/>: YamlDotNet's node model loads
/// recursively, so a hostile file of a few hundred kilobytes of <c>[</c> would overflow the stack
/// (found by fuzzing emulator-yaml). The SDK's own tbot loader has the same limit.
/// </summary>
internal sealed class DepthLimitedParser(IParser inner) : IParser
{
    /// <summary>Deepest nesting of mappings and sequences accepted.</summary>
    public const int MaxDepth = 64;

    private int _depth;

    public ParsingEvent Current => inner.Current!;

    public bool MoveNext()
    {
        if (!inner.MoveNext())
        {
            return false;
        }

        switch (inner.Current)
        {
            case MappingStart or SequenceStart:
                if (++_depth > MaxDepth)
                {
                    throw new YamlException(inner.Current.Start, inner.Current.End, $"The document nests deeper than {MaxDepth} levels.");
                }

                break;
            case MappingEnd or SequenceEnd:
                _depth--;
                break;
        }

        return true;
    }
}
