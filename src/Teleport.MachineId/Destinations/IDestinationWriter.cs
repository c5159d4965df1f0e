namespace Teleport.MachineId.Destinations;

/// <summary>
/// Where an output writes its artifacts (tbot's <c>destination</c>). One renewal's artifacts are
/// written as one <see cref="DestinationArtifacts"/> set that replaces the previous set as a whole,
/// so a reader never combines a key from one renewal with a certificate from another.
/// </summary>
/// <remarks>
/// <para>
/// Lifecycle: <see cref="InitializeAsync"/> once (creates or checks the destination), then for
/// each renewal <see cref="VerifyWritableAsync"/> followed by <see cref="WriteAsync"/>.
/// Implementations may initialize implicitly on the first write.
/// </para>
/// <para>
/// Thread safety: implementations are safe for concurrent use. Writes (and initialization) are
/// serialized; <see cref="ReadAsync"/> does not wait for a write in progress and returns either the
/// set before it or the set after it, never a mixture.
/// </para>
/// </remarks>
public interface IDestinationWriter
{
    /// <summary>
    /// <see langword="true"/> when written artifacts survive the process (a directory);
    /// <see langword="false"/> for in-memory destinations.
    /// </summary>
    bool IsPersistent { get; }

    /// <summary>A human-readable description for logs and messages, such as <c>directory /opt/machine-id</c>. Never contains secrets.</summary>
    string Description { get; }

    /// <summary>Creates the destination if needed and checks that it can be used with the configured options.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the destination is ready.</returns>
    /// <exception cref="DestinationException">The destination cannot be created or used; <see cref="DestinationException.Failure"/> says why.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks that the destination is writable right now (tbot's <c>.write-test</c> before each
    /// renewal), so a renewal is not spent on credentials that cannot be stored.
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the check passed.</returns>
    /// <exception cref="DestinationException">The destination is not writable (<see cref="DestinationFailure.NotWritable"/>) or unusable.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task VerifyWritableAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the destination's current set with <paramref name="artifacts"/> atomically:
    /// readers see either the old set or the new one. Artifacts of the old set that are not in the
    /// new one disappear.
    /// </summary>
    /// <param name="artifacts">The complete new set.</param>
    /// <param name="cancellationToken">
    /// Cancels the write while it is still invisible; once the new set is committed the write completes.
    /// </param>
    /// <returns>A task that completes when the set is durably stored.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="artifacts"/> is <see langword="null"/>.</exception>
    /// <exception cref="DestinationException">The set could not be written; the previous set is still in place.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the commit.</exception>
    Task WriteAsync(DestinationArtifacts artifacts, CancellationToken cancellationToken = default);

    /// <summary>Reads the current set, or <see langword="null"/> when nothing has been written yet.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The current consistent set, or <see langword="null"/>.</returns>
    /// <exception cref="DestinationException">The destination exists but its content cannot be read or was tampered with.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<DestinationArtifacts?> ReadAsync(CancellationToken cancellationToken = default);
}
