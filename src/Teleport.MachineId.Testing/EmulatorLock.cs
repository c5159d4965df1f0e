namespace Teleport.MachineId.Testing;

/// <summary>
/// A lock (Teleport <c>lock</c> resource): while in force, every call by the targeted user (including
/// certificates impersonated by it) or bot instance is denied, and joins with a targeted join token are refused.
/// </summary>
public sealed class EmulatorLock
{
    /// <summary>The lock name; generated when empty.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>Targeted Teleport user, e.g. <c>bot-robot</c> (<c>spec.target.user</c>).</summary>
    public string? User { get; init; }

    /// <summary>Targeted bot instance id (<c>spec.target.bot_instance_id</c>).</summary>
    public string? BotInstanceId { get; init; }

    /// <summary>Targeted join token name (<c>spec.target.join_token</c>; Teleport locks a bound keypair token whose join state fails verification).</summary>
    public string? JoinToken { get; init; }

    /// <summary>Message shown to denied callers (<c>spec.message</c>).</summary>
    public string? Message { get; init; }

    /// <summary>When the lock ends; <see langword="null"/> for never (<c>spec.expires</c>).</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>When the lock was created (set by the emulator).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Describes the target.</summary>
    /// <returns>A description.</returns>
    public override string ToString() =>
        User is not null ? $"User:\"{User}\"" : BotInstanceId is not null ? $"BotInstanceID:\"{BotInstanceId}\"" : $"JoinToken:\"{JoinToken}\"";
}
