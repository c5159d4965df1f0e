using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Wire.Calls;

/// <summary>What <c>TrustService.GenerateHostCert</c> is asked to sign (tbot's <c>ssh_host</c> output leaves host id and node name empty).</summary>
internal sealed record HostCertificateRequest
{
    /// <summary>The host public key.</summary>
    public required PublicKeyInfo PublicKey { get; init; }

    /// <summary>The principals (host names) to certify.</summary>
    public required IReadOnlyList<string> Principals { get; init; }

    /// <summary>The cluster whose host CA signs.</summary>
    public required string ClusterName { get; init; }

    /// <summary>The system role recorded in the certificate; tbot sends <c>Node</c>.</summary>
    public string Role { get; init; } = "Node";

    /// <summary>The requested validity.</summary>
    public required TimeSpan Ttl { get; init; }

    /// <summary>A host UUID (adds <c>&lt;id&gt;</c>, <c>&lt;id&gt;.&lt;cluster&gt;</c> and loopback principals); none by default.</summary>
    public string? HostId { get; init; }

    /// <summary>A node name (added with the host id); none by default.</summary>
    public string? NodeName { get; init; }
}
