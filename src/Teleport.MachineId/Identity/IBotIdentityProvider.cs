namespace Teleport.MachineId;

/// <summary>
/// Keeps a Teleport bot identity valid: joins the cluster once, renews the identity before it
/// expires, survives restarts through its storage, and tells consumers when it changes.
/// </summary>
/// <remarks>
/// <para>
/// Thread safety: every member may be called from any thread. <see cref="Current"/> is a single
/// volatile read (no lock, no allocation) of an immutable <see cref="BotIdentity"/>.
/// Handlers of <see cref="IdentityChanged"/> run on the provider's renewal task, after the new
/// identity is stored durably and published; a slow handler delays the next renewal, a throwing
/// handler is logged and ignored.
/// </para>
/// <para>
/// Create the default implementation with <see cref="BotIdentityProvider.Create"/> (then
/// <see cref="BotIdentityProvider.StartAsync"/>), or register it with
/// <c>services.AddTeleportMachineId(...)</c>.
/// </para>
/// </remarks>
public interface IBotIdentityProvider : IAsyncDisposable
{
    /// <summary>
    /// The latest identity, or <see langword="null"/> before the first one is available. It may be
    /// expired when renewals have failed for too long; check <see cref="Status"/> or
    /// <see cref="BotIdentity.NotAfter"/>.
    /// </summary>
    BotIdentity? Current { get; }

    /// <summary>The provider's health, the last error and the next attempt.</summary>
    BotIdentityStatus Status { get; }

    /// <summary>Raised after each change of <see cref="Current"/>, once the new identity is stored durably.</summary>
    event EventHandler<BotIdentityChangedEventArgs>? IdentityChanged;

    /// <summary>
    /// Waits until an identity that is valid now is available and returns it.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (use it for a timeout).</param>
    /// <returns>The identity.</returns>
    /// <exception cref="TeleportException">
    /// The first attempt failed in a way retries cannot fix (for example
    /// <see cref="BotJoinRequiredException"/>, <see cref="TeleportJoinException"/> or
    /// <see cref="TeleportAccessDeniedException"/>); transient failures keep waiting.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The provider was disposed.</exception>
    Task<BotIdentity> WaitUntilReadyAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Renews the identity now (or joins, when a join is needed) and returns an identity obtained
    /// after the call. Concurrent calls, the schedule and CA rotations share one renewal in flight;
    /// renewals never overlap, so no generation is renewed twice.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting; the shared renewal itself continues.</param>
    /// <returns>The new identity.</returns>
    /// <exception cref="TeleportException">The renewal failed; the previous identity is still served while valid.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The provider was disposed.</exception>
    /// <exception cref="InvalidOperationException">The provider was not started.</exception>
    Task<BotIdentity> RenewNowAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams identity changes: first the change that produced <see cref="Current"/> (if any), then
    /// every later one. A consumer that falls behind skips to the newest change.
    /// </summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The changes, in order.</returns>
    IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync(CancellationToken cancellationToken = default);
}
