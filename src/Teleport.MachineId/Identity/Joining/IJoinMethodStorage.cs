namespace Teleport.MachineId.Identity.Joining;

/// <summary>
/// Durable entries a join method writes ahead of a request, outside the identity's atomic commit
/// (in the bot's storage directory as <c>&lt;storage&gt;/&lt;name&gt;</c>, mode 0600, or in memory).
/// </summary>
/// <remarks>
/// Use it for what must survive a crash <em>before</em> the cluster can act on it — for example a
/// newly generated bound key (and the key history) written before its public key is sent in a
/// rotation answer, so a crash after the cluster bound it never loses the key. What the cluster
/// returns with the certificates belongs in <see cref="BotJoinResult.State"/> instead (committed
/// atomically with the identity). Entries here are not rolled back when a join fails: a method
/// reconciles them with <see cref="BotJoinContext.State"/> at its next join.
/// </remarks>
internal interface IJoinMethodStorage
{
    /// <summary>Where the entries live (for messages).</summary>
    string Description { get; }

    /// <summary>Whether entries survive a restart (directory storage) or not (memory).</summary>
    bool IsPersistent { get; }

    /// <summary>Reads an entry, or <see langword="null"/> when there is none.</summary>
    /// <exception cref="ArgumentException">The name is not allowed (<see cref="JoinMethodState.IsValidName"/>).</exception>
    /// <exception cref="TeleportFormatException">The entry is larger than <see cref="JoinMethodState.MaxEntrySize"/>.</exception>
    /// <exception cref="Destinations.DestinationException">The storage cannot be read.</exception>
    Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken);

    /// <summary>Replaces an entry atomically; durable when the task completes.</summary>
    /// <exception cref="ArgumentException">The name or size is not allowed.</exception>
    /// <exception cref="Destinations.DestinationException">The storage cannot be written.</exception>
    Task WriteAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Removes an entry (durably); nothing happens when there is none.</summary>
    /// <exception cref="ArgumentException">The name is not allowed.</exception>
    /// <exception cref="Destinations.DestinationException">The storage cannot be written.</exception>
    Task DeleteAsync(string name, CancellationToken cancellationToken);
}
