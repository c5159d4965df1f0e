using System.Collections.ObjectModel;

namespace Teleport.MachineId.Testing;

/// <summary>
/// A Teleport role (the subset of role v6 that matters for Machine ID and SSH access), as
/// <c>tctl create</c> would store it.
/// </summary>
/// <remarks>Immutable once created; pass a new instance to <see cref="TeleportEmulator.UpsertRole"/> to change a role.</remarks>
public sealed class EmulatorRole
{
    /// <summary>The <c>node_labels</c> selector <c>'*': '*'</c>, which matches every node.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> AllNodes { get; } =
        new ReadOnlyDictionary<string, IReadOnlyList<string>>(new Dictionary<string, IReadOnlyList<string>> { ["*"] = ["*"] });

    /// <summary>The role name (<c>metadata.name</c>).</summary>
    public required string Name { get; init; }

    /// <summary>A description (<c>metadata.description</c>).</summary>
    public string? Description { get; init; }

    /// <summary>Resource labels (<c>metadata.labels</c>).</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    /// <summary>SSH logins the role allows (<c>spec.allow.logins</c>); they become certificate principals.</summary>
    public IReadOnlyList<string> Logins { get; init; } = [];

    /// <summary>
    /// Node label selectors (<c>spec.allow.node_labels</c>): every key must match a node label whose value
    /// is in the list; <c>'*': ['*']</c> matches every node. Empty: no node access.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> NodeLabels { get; init; } = ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;

    /// <summary>
    /// Longest certificate the role allows (<c>spec.options.max_session_ttl</c>); <see langword="null"/>
    /// means Teleport's default of 30 hours.
    /// </summary>
    public TimeSpan? MaxSessionTtl { get; init; }

    /// <summary>Roles this role may impersonate (<c>spec.allow.impersonate.roles</c>), as bot roles do.</summary>
    public IReadOnlyList<string> ImpersonateRoles { get; init; } = [];

    /// <summary>Resource access rules (<c>spec.allow.rules</c>).</summary>
    public IReadOnlyList<EmulatorRoleRule> Rules { get; init; } = [];

    /// <summary><c>spec.options.forward_agent</c>: adds <c>permit-agent-forwarding</c> to SSH certificates. Default false.</summary>
    public bool ForwardAgent { get; init; }

    /// <summary><c>spec.options.port_forwarding</c>: adds <c>permit-port-forwarding</c>. Default true, as in Teleport.</summary>
    public bool PortForwarding { get; init; } = true;

    /// <summary><c>spec.options.permit_x11_forwarding</c>: adds <c>permit-X11-forwarding</c>. Default false.</summary>
    public bool PermitX11Forwarding { get; init; }

    /// <summary><c>spec.options.cert_format</c>: <c>standard</c> (default) or <c>oldssh</c> (no Teleport extensions).</summary>
    public string CertificateFormat { get; init; } = "standard";
}

/// <summary>One access rule of a role: verbs allowed on resource kinds (<c>'*'</c> matches any).</summary>
public sealed class EmulatorRoleRule
{
    private readonly string? _where;

    /// <summary>Resource kinds, e.g. <c>cert_authority</c>, <c>role</c>, <c>host_cert</c>.</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>Verbs, e.g. <c>read</c>, <c>list</c>, <c>readnosecrets</c>, <c>create</c>.</summary>
    public IReadOnlyList<string> Verbs { get; init; } = [];

    /// <summary>
    /// A condition (<c>where</c>) in Teleport's predicate language. The emulator evaluates it for
    /// <c>host_cert</c> (fields <c>host_cert.principals</c>, <c>host_id</c>, <c>node_name</c>, <c>cluster_name</c>,
    /// <c>role</c>; functions <c>is_subset</c>, <c>all_end_with</c>, <c>all_equal</c>, <c>contains</c>,
    /// <c>equals</c>; <c>&amp;&amp;</c>, <c>||</c>, <c>!</c>); a rule with a condition never matches other resources.
    /// </summary>
    /// <exception cref="ArgumentException">The condition cannot be parsed or uses something the emulator does not evaluate.</exception>
    public string? Where
    {
        get => _where;
        init
        {
            try
            {
                Predicate = string.IsNullOrWhiteSpace(value) ? null : Cluster.RulePredicate.Parse(value);
            }
            catch (Cluster.TraceException ex)
            {
                throw new ArgumentException(ex.Message, nameof(Where), ex);
            }

            _where = string.IsNullOrWhiteSpace(value) ? null : value;
        }
    }

    internal Cluster.RulePredicate? Predicate { get; private init; }
}
