namespace Teleport.MachineId.Testing;

/// <summary>
/// A bot instance (created by a token join or a recovery; kept by re-joins that present its
/// identity) with its authentication and heartbeat history. Immutable snapshot.
/// </summary>
public sealed class BotInstanceInfo
{
    /// <summary>The bot name.</summary>
    public required string BotName { get; init; }

    /// <summary>The instance id (a UUID).</summary>
    public required string InstanceId { get; init; }

    /// <summary>The latest generation issued to the instance (1 after the join).</summary>
    public required int Generation { get; init; }

    /// <summary>The instance this one replaced after a bound keypair recovery (<c>previous_bot_instance_id</c>), if any.</summary>
    public string? PreviousInstanceId { get; init; }

    /// <summary>Every authentication (join, then each renewal or re-join), oldest first; Teleport keeps only the last 10 on the resource.</summary>
    public IReadOnlyList<BotAuthenticationInfo> Authentications { get; init; } = [];

    /// <summary>Heartbeats submitted by the instance, oldest first.</summary>
    public IReadOnlyList<BotHeartbeatInfo> Heartbeats { get; init; } = [];
}

/// <summary>One authentication of a bot instance (join or renewal).</summary>
public sealed class BotAuthenticationInfo
{
    /// <summary>When it happened (emulator clock).</summary>
    public required DateTimeOffset AuthenticatedAt { get; init; }

    /// <summary>The generation issued.</summary>
    public required int Generation { get; init; }

    /// <summary>The join method (<c>token</c>, <c>github</c>, …).</summary>
    public required string JoinMethod { get; init; }

    /// <summary>The join token's safe name (the <c>token</c> method's secret masked).</summary>
    public string? JoinToken { get; init; }

    /// <summary>What the join proved (ID token claims, bound keypair recovery facts); empty for renewals.</summary>
    public IReadOnlyDictionary<string, string> JoinAttributes { get; init; } = new Dictionary<string, string>();

    /// <summary>The SHA-256 fingerprint of the public key that was certified.</summary>
    public string? PublicKeyFingerprint { get; init; }
}

/// <summary>One heartbeat a bot instance submitted (<c>BotInstanceService/SubmitHeartbeat</c>).</summary>
public sealed class BotHeartbeatInfo
{
    /// <summary>When the emulator received it.</summary>
    public required DateTimeOffset ReceivedAt { get; init; }

    /// <summary>The time the bot reported (<c>recorded_at</c>), if any.</summary>
    public DateTimeOffset? RecordedAt { get; init; }

    /// <summary>Whether the bot reported this as its startup heartbeat.</summary>
    public bool IsStartup { get; init; }

    /// <summary>Whether the bot runs in one-shot mode.</summary>
    public bool OneShot { get; init; }

    /// <summary>The bot's version string.</summary>
    public string? Version { get; init; }

    /// <summary>The bot's host name.</summary>
    public string? Hostname { get; init; }

    /// <summary>The join method the bot reported.</summary>
    public string? JoinMethod { get; init; }

    /// <summary>How long the bot process had been running (<c>uptime</c>).</summary>
    public TimeSpan? Uptime { get; init; }

    /// <summary>The processor architecture as Go names it (<c>architecture</c>: <c>amd64</c>, <c>arm64</c>, …).</summary>
    public string? Architecture { get; init; }

    /// <summary>The operating system as Go names it (<c>os</c>: <c>linux</c>, <c>darwin</c>, <c>windows</c>, …).</summary>
    public string? OperatingSystem { get; init; }
}
