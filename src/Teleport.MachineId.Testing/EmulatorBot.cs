namespace Teleport.MachineId.Testing;

/// <summary>
/// A Machine ID bot, as <c>tctl bots add</c> creates it: a user <c>bot-&lt;name&gt;</c> with a generated role
/// <c>bot-&lt;name&gt;</c> that may impersonate <see cref="Roles"/> and read certificate authorities.
/// </summary>
public sealed class EmulatorBot
{
    /// <summary>The bot name (spaces become <c>-</c> in the user and role names).</summary>
    public required string Name { get; init; }

    /// <summary>Roles the bot may impersonate (the generated role's <c>impersonate.roles</c>).</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>
    /// The bot's <c>spec.max_session_ttl</c>: caps the bot's own certificates; <see langword="null"/> means
    /// Teleport's default of 12 hours.
    /// </summary>
    public TimeSpan? MaxSessionTtl { get; init; }

    /// <summary>The Teleport user (and generated role) name: <c>bot-&lt;name&gt;</c>.</summary>
    public string UserName => ResourceName(Name);

    internal static string ResourceName(string botName) => "bot-" + botName.Replace(' ', '-');
}
