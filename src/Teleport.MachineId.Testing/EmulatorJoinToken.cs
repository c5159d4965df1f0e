namespace Teleport.MachineId.Testing;

/// <summary>
/// A bot join token (provision token) of the <c>token</c> join method: single use, expires at
/// <see cref="Expires"/>. For this method the token name is the secret the bot presents.
/// </summary>
/// <remarks>The emulator never lists token names after creation; see <see cref="TeleportEmulator.CountJoinTokens"/>.</remarks>
public sealed class EmulatorJoinToken
{
    /// <summary>The token name, which is also its secret (<c>onboarding.token</c>). Do not log it.</summary>
    public required string Name { get; init; }

    /// <summary>The bot the token joins as (<c>spec.bot_name</c>).</summary>
    public required string BotName { get; init; }

    /// <summary>When the token stops being valid; <see langword="null"/> for never.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>The join method; the emulator implements <c>token</c>.</summary>
    public string JoinMethod => "token";

    /// <summary>Teleport's "safe name": the secret masked except its last characters, for logs and audit events.</summary>
    public string SafeName => MaskTokenName(Name);

    /// <summary>The token without its secret, for display.</summary>
    /// <returns>A description.</returns>
    public override string ToString() => $"join token {SafeName} for bot {BotName}";

    internal static string MaskTokenName(string name) =>
        name.Length <= 8 ? new string('*', name.Length) : new string('*', name.Length - 8) + name[^8..];
}
