namespace Teleport.MachineId.Destinations;

/// <summary>
/// A destination that keeps the current set in process memory only (tbot's <c>memory</c>
/// destination), for applications that use the credentials in-process.
/// </summary>
/// <remarks>
/// Thread safety: safe for concurrent use without locks. A write swaps one immutable
/// <see cref="DestinationArtifacts"/> reference, so <see cref="Current"/> and
/// <see cref="ReadAsync"/> always return a complete set.
/// </remarks>
public sealed class MemoryDestination : IDestinationWriter
{
    private DestinationArtifacts? _current;

    /// <summary>The current set, or <see langword="null"/> before the first write. Lock-free.</summary>
    public DestinationArtifacts? Current => Volatile.Read(ref _current);

    /// <inheritdoc />
    /// <value>Always <see langword="false"/>.</value>
    public bool IsPersistent => false;

    /// <inheritdoc />
    /// <value><c>memory</c>.</value>
    public string Description => "memory";

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <inheritdoc />
    /// <remarks>Memory is always writable.</remarks>
    public Task VerifyWritableAsync(CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <inheritdoc />
    public Task WriteAsync(DestinationArtifacts artifacts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        Volatile.Write(ref _current, artifacts);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<DestinationArtifacts?> ReadAsync(CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested
            ? Task.FromCanceled<DestinationArtifacts?>(cancellationToken)
            : Task.FromResult(Current);

    /// <summary>Returns <see cref="Description"/>.</summary>
    /// <returns><c>memory</c>.</returns>
    public override string ToString() => Description;
}
