using Teleport.MachineId.Identity.Joining;

namespace Teleport.MachineId.Identity.Storage;

/// <summary>
/// The bot's internal storage (tbot's <c>storage:</c>): its identity with the hash of the token
/// that produced it and the join method's committed state, the record of a renewal in flight, and
/// the join method's own entries (<see cref="IJoinMethodStorage"/>).
/// </summary>
/// <remarks>Every write is durable when the returned task completes.</remarks>
internal interface IBotIdentityStore : IJoinMethodStorage, IAsyncDisposable
{
    Task<StoredBotState> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Replaces the identity and its join method state in one atomic write.</summary>
    Task SaveIdentityAsync(StoredBotIdentity identity, CancellationToken cancellationToken);

    Task WriteInFlightAsync(InFlightRenewal record, CancellationToken cancellationToken);

    Task ClearInFlightAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Proves the storage can take a durable write now (a probe written and removed), so nothing is
    /// spent remotely (a single-use token) when the result could not be stored.
    /// </summary>
    /// <exception cref="Destinations.DestinationException">The storage cannot be written.</exception>
    Task VerifyWritableAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A stored identity: private key (PEM), certificates and CAs, the hash of the join token that
/// produced it, and the join method's state committed with it.
/// </summary>
internal sealed record StoredBotIdentity(string PrivateKeyPem, BotIdentityMaterial Material, string? TokenHash, DateTimeOffset SavedAt)
{
    /// <summary>The join method's state committed with this identity.</summary>
    public JoinMethodState MethodState { get; init; } = JoinMethodState.Empty;
}

/// <summary>
/// Written durably immediately before a <c>GenerateUserCerts</c> renewal request leaves and removed
/// after the renewed identity is stored (or the request is proven not to have left): if it survives
/// a crash while its <see cref="FromGeneration"/> equals the stored identity's generation, the
/// cluster may have advanced past the stored identity.
/// </summary>
internal sealed record InFlightRenewal(int FromGeneration, string? InstanceId, string NewPublicKey, DateTimeOffset StartedAt);

/// <summary>What a store held at start-up.</summary>
/// <param name="Identity">The stored identity, or <see langword="null"/>.</param>
/// <param name="InFlight">The in-flight renewal record, or <see langword="null"/>.</param>
/// <param name="IdentityError">Why a stored identity could not be read, or <see langword="null"/>.</param>
internal sealed record StoredBotState(StoredBotIdentity? Identity, InFlightRenewal? InFlight, TeleportException? IdentityError);

/// <summary>Simulated crash points of a renewal (internal fault injection for crash-safety tests).</summary>
internal enum RenewalFaultPoint
{
    BeforeInFlightRecord,
    AfterInFlightRecord,
    AfterCertificatesIssued,
    MidWrite,
    AfterPersist,
}

/// <summary>Thrown by fault-injection hooks to stop the process state at a point: nothing may clean up after it.</summary>
internal sealed class SimulatedCrashException : Exception
{
    public SimulatedCrashException(RenewalFaultPoint point)
        : base("Simulated crash at " + point)
    {
        Point = point;
    }

    public RenewalFaultPoint Point { get; }
}
