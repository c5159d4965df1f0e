namespace Teleport.MachineId;

/// <summary>
/// Teleport's and tbot's defaults that this library follows, in one place: the ports an address
/// without one means, and the lifetimes and limits of bot credentials.
/// </summary>
/// <remarks>
/// Sources: tbot's configuration defaults and Teleport 18's Auth rules (teleport-protocol.md §3.7,
/// §4.1–4.4). They are the defaults of <see cref="MachineIdOptions"/>, the identity output options
/// and the tbot YAML mapping.
/// </remarks>
public static class TeleportDefaults
{
    /// <summary>The port of a <c>proxy_server</c> address written without one: HTTPS, 443.</summary>
    public const int ProxyPort = 443;

    /// <summary>The port of an <c>auth_server</c> address written without one: the Auth Service's 3025.</summary>
    public const int AuthPort = 3025;

    /// <summary>The proxy's SSH port when TLS routing is off (<c>ssh_public_addr</c> without a port): 3023.</summary>
    public const int SshProxyPort = 3023;

    /// <summary>The SSH port of Teleport nodes, which the generated <c>ssh_config</c> dials: 3022.</summary>
    public const int NodeSshPort = 3022;

    /// <summary>tbot's <c>credential_ttl</c> default: 1 hour.</summary>
    public static TimeSpan CredentialTtl { get; } = TimeSpan.FromHours(1);

    /// <summary>tbot's <c>renewal_interval</c> default: 20 minutes.</summary>
    public static TimeSpan RenewalInterval { get; } = TimeSpan.FromMinutes(20);

    /// <summary>The longest lifetime Teleport 18 grants a renewable bot certificate (<c>MaxRenewableCertTTL</c>): 7 days.</summary>
    public static TimeSpan MaxRenewableCertTtl { get; } = TimeSpan.FromDays(7);

    /// <summary>The bot role's default <c>max_session_ttl</c> (<c>DefaultBotMaxSessionTTL</c>): 12 hours.</summary>
    public static TimeSpan BotMaxSessionTtl { get; } = TimeSpan.FromHours(12);

    /// <summary>How often tbot sends a bot instance heartbeat after the one at start-up: 30 minutes.</summary>
    internal static TimeSpan HeartbeatInterval { get; } = TimeSpan.FromMinutes(30);

    /// <summary>How many times tbot tries one heartbeat before waiting for the next interval: 5.</summary>
    internal const int HeartbeatRetryLimit = 5;

    /// <summary>How long after the first notice of a CA rotation phase the bot renews, so a burst of notices causes one renewal.</summary>
    internal static TimeSpan CaRotationDebounce { get; } = TimeSpan.FromSeconds(10);

    /// <summary>The first retry delay cap of a failed renewal (full jitter): 1 second.</summary>
    internal static TimeSpan RetryMinBackoff { get; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest retry delay cap: 1 minute.</summary>
    internal static TimeSpan RetryMaxBackoff { get; } = TimeSpan.FromMinutes(1);
}
