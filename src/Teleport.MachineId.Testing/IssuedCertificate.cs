namespace Teleport.MachineId.Testing;

/// <summary>Why a certificate was issued.</summary>
public enum IssuedCertificateKind
{
    /// <summary>A bot joined with a <c>token</c>-method token (a renewable identity).</summary>
    BotJoin = 1,

    /// <summary>A renewable bot identity renewed itself (generation + 1).</summary>
    BotRenewal = 2,

    /// <summary>Role impersonation (an identity output).</summary>
    RoleImpersonation = 3,

    /// <summary>A non-renewable identity reissued itself (for example an impersonated identity with reissue allowed).</summary>
    Reissue = 4,

    /// <summary>An SSH host certificate for a node (<c>TeleportEmulator.SignHostCertificate</c>, or <c>TrustService.GenerateHostCert</c> for a caller such as tbot's ssh_host output).</summary>
    HostCertificate = 5,

    /// <summary>A bot joined (or re-joined) with a delegated or bound keypair method: a non-renewable identity.</summary>
    BotRejoin = 6,
}

/// <summary>A record of one certificate issuance, for test assertions. Immutable.</summary>
public sealed class IssuedCertificate
{
    /// <summary>Why it was issued.</summary>
    public required IssuedCertificateKind Kind { get; init; }

    /// <summary>The Teleport user (key id / CN); for host certificates the host name (<c>SignHostCertificate</c>) or the requesting user (<c>GenerateHostCert</c>).</summary>
    public required string Username { get; init; }

    /// <summary>Roles in the certificate.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>SSH principals (empty when no SSH certificate was issued).</summary>
    public IReadOnlyList<string> Principals { get; init; } = [];

    /// <summary>When it was issued (emulator clock).</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>The expiry the client asked for, if it asked.</summary>
    public DateTimeOffset? RequestedExpires { get; init; }

    /// <summary>The expiry granted after Teleport's caps.</summary>
    public required DateTimeOffset Expires { get; init; }

    /// <summary>The TTL granted (<see cref="Expires"/> − <see cref="IssuedAt"/>).</summary>
    public TimeSpan GrantedTtl => Expires - IssuedAt;

    /// <summary>The TLS certificate serial (hexadecimal, as <c>X509Certificate2.SerialNumber</c>), when a TLS certificate was issued.</summary>
    public string? TlsSerialNumber { get; init; }

    /// <summary>Whether an SSH certificate was issued.</summary>
    public bool HasSshCertificate { get; init; }

    /// <summary>The bot renewal generation in the certificate; 0 when not tracked.</summary>
    public int Generation { get; init; }

    /// <summary>The bot name, for bot certificates.</summary>
    public string? BotName { get; init; }

    /// <summary>The bot instance id, for bot certificates.</summary>
    public string? BotInstanceId { get; init; }

    /// <summary>The impersonating user, for impersonated certificates.</summary>
    public string? Impersonator { get; init; }

    /// <summary>Whether the certificate may renew itself.</summary>
    public bool Renewable { get; init; }

    /// <summary>Whether the certificate is barred from reissuing.</summary>
    public bool DisallowReissue { get; init; }
}
