using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Wire.Calls;

/// <summary>The answer of <c>proto.AuthService/Ping</c>.</summary>
internal sealed record AuthPing
{
    /// <summary>The cluster name.</summary>
    public required string ClusterName { get; init; }

    /// <summary>Auth's Teleport version.</summary>
    public required string ServerVersion { get; init; }

    /// <summary>The proxy's public address as Auth knows it (<c>host:port</c>), or empty.</summary>
    public string ProxyPublicAddress { get; init; } = string.Empty;

    /// <summary>Whether Auth runs a FIPS (BoringCrypto) build.</summary>
    public bool IsBoring { get; init; }

    /// <summary>The caller's address as Auth sees it.</summary>
    public string RemoteAddress { get; init; } = string.Empty;

    /// <summary>Whether clients should load the CAs of every cluster (trusted clusters).</summary>
    public bool LoadAllCertificateAuthorities { get; init; }

    /// <summary>The cluster's signature algorithm suite (field 9; legacy when unspecified).</summary>
    public required SignatureAlgorithmSuite SignatureAlgorithmSuite { get; init; }

    /// <summary>When the Enterprise licence expires, if any.</summary>
    public DateTimeOffset? LicenseExpiry { get; init; }
}

/// <summary>The subset of the cluster's authentication preference (<c>types.AuthPreferenceV2</c>) a bot uses.</summary>
internal sealed record AuthPreference
{
    /// <summary>The signature algorithm suite keys must be generated for (spec field 20).</summary>
    public required SignatureAlgorithmSuite SignatureAlgorithmSuite { get; init; }

    /// <summary>Authentication type (<c>local</c>, <c>oidc</c>, …).</summary>
    public string Type { get; init; } = string.Empty;

    /// <summary>Second factor setting.</summary>
    public string SecondFactor { get; init; } = string.Empty;

    /// <summary>Locking mode (<c>best_effort</c>, <c>strict</c>).</summary>
    public string LockingMode { get; init; } = string.Empty;

    /// <summary>Default session TTL, if set.</summary>
    public TimeSpan? DefaultSessionTtl { get; init; }
}

/// <summary>The parts of a Teleport role (<c>types.RoleV6</c>) a bot needs.</summary>
internal sealed record RoleInfo
{
    /// <summary>The role name.</summary>
    public required string Name { get; init; }

    /// <summary><c>allow.impersonate.roles</c>: the roles a bot holding this role may impersonate.</summary>
    public IReadOnlyList<string> ImpersonateRoles { get; init; } = [];

    /// <summary><c>allow.impersonate.users</c>.</summary>
    public IReadOnlyList<string> ImpersonateUsers { get; init; } = [];

    /// <summary><c>allow.logins</c>.</summary>
    public IReadOnlyList<string> Logins { get; init; } = [];

    /// <summary><c>options.max_session_ttl</c>, or <see langword="null"/> when unset.</summary>
    public TimeSpan? MaxSessionTtl { get; init; }

    /// <summary><c>options.cert_format</c>, or empty.</summary>
    public string CertificateFormat { get; init; } = string.Empty;
}

/// <summary>One bot heartbeat (<c>teleport.machineid.v1.BotInstanceStatusHeartbeat</c>).</summary>
internal sealed record BotHeartbeat
{
    /// <summary>When the heartbeat was recorded.</summary>
    public required DateTimeOffset RecordedAt { get; init; }

    /// <summary>Whether this is the heartbeat sent at startup.</summary>
    public bool IsStartup { get; init; }

    /// <summary>The agent version (tbot sends its Teleport version).</summary>
    public string Version { get; init; } = string.Empty;

    /// <summary>The host name of the machine running the bot.</summary>
    public string Hostname { get; init; } = string.Empty;

    /// <summary>How long the bot process has been running.</summary>
    public TimeSpan Uptime { get; init; }

    /// <summary>The join method (<c>token</c>).</summary>
    public string JoinMethod { get; init; } = string.Empty;

    /// <summary>Whether the bot runs once and exits.</summary>
    public bool OneShot { get; init; }

    /// <summary>CPU architecture, Go style (<c>amd64</c>, <c>arm64</c>).</summary>
    public string Architecture { get; init; } = string.Empty;

    /// <summary>Operating system, Go style (<c>linux</c>, <c>windows</c>, <c>darwin</c>).</summary>
    public string OperatingSystem { get; init; } = string.Empty;
}
