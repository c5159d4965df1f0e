namespace Teleport.MachineId.Testing;

/// <summary>
/// An audit event the emulator recorded, named after Teleport's event types (<c>bot.join</c>,
/// <c>cert.generation_mismatch</c>, <c>lock.created</c>, <c>cert.create</c>, …). Never contains secrets.
/// </summary>
public sealed class EmulatorAuditEvent
{
    /// <summary>The event type, e.g. <c>bot.join</c>.</summary>
    public required string Type { get; init; }

    /// <summary>When it happened (emulator clock).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>Whether the audited action succeeded.</summary>
    public bool Success { get; init; } = true;

    /// <summary>The Teleport user concerned, if any.</summary>
    public string? User { get; init; }

    /// <summary>A human-readable description or the error message.</summary>
    public string Message { get; init; } = string.Empty;

    /// <summary>Further fields (e.g. <c>bot_name</c>, <c>bot_instance_id</c>, <c>token_name</c> as a safe name).</summary>
    public IReadOnlyDictionary<string, string> Fields { get; init; } = new Dictionary<string, string>();

    /// <summary>The type and message.</summary>
    /// <returns>A description.</returns>
    public override string ToString() => $"{Type} ({(Success ? "ok" : "failed")}): {Message}";
}
