using System.Collections.ObjectModel;

namespace Teleport.MachineId.Testing;

/// <summary>
/// A registered OpenSSH node (Teleport <c>node</c>, sub-kind <c>openssh</c>): the proxy dials
/// <see cref="Address"/> when a client asks for <see cref="Name"/> through <c>ProxySSH</c>.
/// </summary>
public sealed class EmulatorNode
{
    /// <summary>The node name; clients reach it as <c>&lt;name&gt;</c> or <c>&lt;name&gt;.&lt;cluster&gt;</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Where the node's sshd listens, <c>host:port</c>.</summary>
    public required string Address { get; init; }

    /// <summary>The node's labels, matched against roles' <c>node_labels</c>.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = ReadOnlyDictionary<string, string>.Empty;
}

/// <summary>
/// A plain TCP service the proxy can dial through <c>ProxySSH</c> like a node (for transport tests,
/// e.g. an echo server); subject to the same <c>node_labels</c> checks.
/// </summary>
public sealed class EmulatorTcpTarget
{
    /// <summary>The name clients dial.</summary>
    public required string Name { get; init; }

    /// <summary>Where the service listens, <c>host:port</c>.</summary>
    public required string Address { get; init; }

    /// <summary>Labels, matched against roles' <c>node_labels</c>.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = ReadOnlyDictionary<string, string>.Empty;
}
