using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Wire.Calls;

/// <summary>Well-known certificate authority types (Teleport's <c>types.CertAuthType</c>).</summary>
internal static class CertAuthorityTypes
{
    /// <summary>Signs host certificates (Auth, proxies, nodes).</summary>
    public const string Host = "host";

    /// <summary>Signs user (and bot) certificates.</summary>
    public const string User = "user";

    /// <summary>Signs database server certificates.</summary>
    public const string Database = "db";

    /// <summary>Signs database client certificates.</summary>
    public const string DatabaseClient = "db_client";

    /// <summary>Signs certificates for agentless OpenSSH nodes.</summary>
    public const string OpenSsh = "openssh";

    /// <summary>The wire name of a <see cref="CertificateAuthorityType"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined type.</exception>
    public static string Name(CertificateAuthorityType type) => type switch
    {
        CertificateAuthorityType.Host => Host,
        CertificateAuthorityType.User => User,
        CertificateAuthorityType.Database => Database,
        CertificateAuthorityType.OpenSsh => OpenSsh,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not a certificate authority type."),
    };
}

/// <summary>Public keys of one key set of a certificate authority (<c>types.CAKeySet</c>); private keys are never kept.</summary>
/// <param name="SshPublicKeys">SSH public keys.</param>
/// <param name="TlsCertificates">TLS CA certificates.</param>
internal sealed record CertAuthorityKeySet(IReadOnlyList<PublicKeyInfo> SshPublicKeys, IReadOnlyList<X509Certificate2> TlsCertificates)
{
    /// <summary>An empty set.</summary>
    public static CertAuthorityKeySet Empty { get; } = new([], []);
}

/// <summary>The rotation state of a certificate authority (<c>types.Rotation</c>).</summary>
internal sealed record CertAuthorityRotation
{
    /// <summary><c>standby</c> or <c>in_progress</c> (empty when never rotated).</summary>
    public string State { get; init; } = string.Empty;

    /// <summary><c>init</c>, <c>update_clients</c>, <c>update_servers</c>, <c>rollback</c>, <c>standby</c> or empty.</summary>
    public string Phase { get; init; } = string.Empty;

    /// <summary><c>manual</c> or <c>auto</c>.</summary>
    public string Mode { get; init; } = string.Empty;

    /// <summary>The id of the rotation in progress.</summary>
    public string CurrentId { get; init; } = string.Empty;

    /// <summary>When the rotation started.</summary>
    public DateTimeOffset? Started { get; init; }

    /// <summary>When the last rotation completed.</summary>
    public DateTimeOffset? LastRotated { get; init; }
}

/// <summary>A certificate authority of a cluster, public parts only (<c>types.CertAuthorityV2</c>).</summary>
internal sealed record CertAuthority
{
    /// <summary>The CA type (<see cref="CertAuthorityTypes"/>).</summary>
    public required string Type { get; init; }

    /// <summary>The cluster the CA belongs to.</summary>
    public required string ClusterName { get; init; }

    /// <summary>The keys that sign now.</summary>
    public required CertAuthorityKeySet ActiveKeys { get; init; }

    /// <summary>Keys trusted in addition (during a rotation).</summary>
    public required CertAuthorityKeySet AdditionalTrustedKeys { get; init; }

    /// <summary>The rotation state.</summary>
    public required CertAuthorityRotation Rotation { get; init; }

    /// <summary>The resource revision.</summary>
    public string Revision { get; init; } = string.Empty;

    /// <summary>Every trusted SSH key: active then additional (Teleport's <c>GetTrustedSSHKeyPairs</c>).</summary>
    public IReadOnlyList<PublicKeyInfo> TrustedSshPublicKeys => [.. ActiveKeys.SshPublicKeys, .. AdditionalTrustedKeys.SshPublicKeys];

    /// <summary>Every trusted TLS CA certificate: active then additional.</summary>
    public IReadOnlyList<X509Certificate2> TrustedTlsCertificates => [.. ActiveKeys.TlsCertificates, .. AdditionalTrustedKeys.TlsCertificates];
}

/// <summary>What happened to a watched resource.</summary>
internal enum WatchOperation
{
    /// <summary>The watch is established (sent once, first).</summary>
    Init = 0,

    /// <summary>The resource was created or updated.</summary>
    Put = 1,

    /// <summary>The resource was deleted.</summary>
    Delete = 2,
}

/// <summary>One event of a certificate authority watch.</summary>
/// <param name="Operation">What happened.</param>
/// <param name="CertAuthority">The CA after the change (for <see cref="WatchOperation.Put"/>).</param>
/// <param name="Kind">The resource kind (<c>cert_authority</c>) for deletes and other events.</param>
/// <param name="SubKind">The resource sub-kind (the CA type) for deletes.</param>
/// <param name="Name">The resource name (the cluster) for deletes.</param>
internal sealed record CertAuthorityEvent(WatchOperation Operation, CertAuthority? CertAuthority, string Kind, string SubKind, string Name);
