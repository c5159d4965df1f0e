using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Scheduling;

namespace Teleport.MachineId;

/// <summary>
/// The default <see cref="IBotIdentityProvider"/>: joins, stores, renews and watches a bot identity
/// the way tbot's bot identity service does, without tbot.
/// </summary>
/// <remarks>
/// <para>
/// Without dependency injection: <c>await using var bot = BotIdentityProvider.Create(options);
/// await bot.StartAsync(); var identity = await bot.WaitUntilReadyAsync();</c>. For a one-shot
/// command line tool, <see cref="JoinOrRenewOnceAsync"/> joins or renews once and returns.
/// </para>
/// <para>
/// Start-up follows tbot: lock the storage, load the stored identity; renew it when it is valid;
/// join again only when it is missing, expired, or was produced by a different token than the one
/// configured now. A renewal writes a record of itself durably immediately before its request
/// leaves (after the connection is up and the key generated), stores the renewed identity durably
/// before anyone sees it, then removes the record, so a crash at any point never leads to a renewal
/// with a generation the cluster has already moved past (which would make Teleport lock the bot).
/// Join methods that can join again on their own recover from an interrupted renewal by joining.
/// </para>
/// <para>Thread safety: all members are thread-safe; see <see cref="IBotIdentityProvider"/>.</para>
/// </remarks>
public sealed class BotIdentityProvider : IBotIdentityProvider
{
    private readonly BotIdentityService _service;

    private BotIdentityProvider(
        MachineIdOptions options,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        IBotJoinMethod joinMethod,
        BotCredentialClientFactory clientFactory,
        IMeterFactory? meterFactory,
        Func<double>? random)
    {
        _service = new BotIdentityService(this, () => IdentityChanged, options, loggerFactory, timeProvider, joinMethod, clientFactory, meterFactory, random);
    }

    /// <inheritdoc />
    public event EventHandler<BotIdentityChangedEventArgs>? IdentityChanged;

    /// <inheritdoc />
    public BotIdentity? Current => _service.Current;

    /// <inheritdoc />
    public BotIdentityStatus Status => _service.Status;

    /// <summary>Tracks the background loops for simulated-time tests.</summary>
    internal LoopActivityTracker Activity => _service.Activity;

    /// <summary>Crash-point hook for crash-safety tests; it throws <see cref="SimulatedCrashException"/> to drop the process state.</summary>
    internal Action<RenewalFaultPoint>? FaultInjector
    {
        get => _service.FaultInjector;
        set => _service.FaultInjector = value;
    }

    /// <summary>The storage in use (after start).</summary>
    internal IBotIdentityStore? Store => _service.Store;

    /// <summary>Whether a simulated crash stopped the provider.</summary>
    internal bool Crashed => _service.Crashed;

    /// <summary>
    /// Creates a provider; call <see cref="StartAsync"/> next. Nothing is read or contacted until then.
    /// </summary>
    /// <param name="options">The options; copied, so later changes have no effect.</param>
    /// <param name="loggerFactory">Where to log; none by default.</param>
    /// <param name="timeProvider">The clock for schedules and validity checks; the system clock by default.</param>
    /// <param name="meterFactory">Creates the <c>Teleport.MachineId</c> meter (e.g. the host's); a meter owned by the provider by default.</param>
    /// <returns>The provider; dispose it to stop renewing and release the storage lock.</returns>
    /// <exception cref="OptionsValidationException">The options are invalid; the message lists every problem.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    public static BotIdentityProvider Create(MachineIdOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null) =>
        CreateInternal(options, loggerFactory, timeProvider, null, meterFactory, null, null);

    /// <summary>Creates a provider with internal seams (credential client, meter factory, join methods, randomness).</summary>
    internal static BotIdentityProvider CreateInternal(
        MachineIdOptions options,
        ILoggerFactory? loggerFactory,
        TimeProvider? timeProvider,
        BotCredentialClientFactory? clientFactory,
        IMeterFactory? meterFactory,
        JoinMethodRegistry? registry,
        Func<double>? random)
    {
        ArgumentNullException.ThrowIfNull(options);
        registry ??= JoinMethodRegistry.Default;
        var errors = MachineIdOptionsValidation.Validate(options, registry);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(MachineIdOptions), errors);
        }

        registry.TryGet(options.JoinMethod, out var joinMethod);
        return new BotIdentityProvider(
            options.Clone(),
            loggerFactory ?? NullLoggerFactory.Instance,
            timeProvider ?? TimeProvider.System,
            joinMethod!,
            clientFactory ?? WireBotCredentialClient.Create,
            meterFactory,
            random);
    }

    /// <summary>
    /// Joins or renews once and returns the new identity, storing it in the configured storage —
    /// for one-shot tools (tbot's <c>oneshot</c>). No background renewal runs; one heartbeat marked
    /// one-shot is sent, as tbot does.
    /// </summary>
    /// <param name="options">The options.</param>
    /// <param name="loggerFactory">Where to log; none by default.</param>
    /// <param name="timeProvider">The clock; the system clock by default.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The new identity.</returns>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    /// <exception cref="Destinations.DestinationException">The storage is locked by another process or cannot be used.</exception>
    /// <exception cref="TeleportException">
    /// The join or renewal failed (for example <see cref="BotJoinRequiredException"/>, whose message
    /// says what to do). Nothing is logged as an error for it: reporting it is the caller's.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<BotIdentity> JoinOrRenewOnceAsync(
        MachineIdOptions options,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        CancellationToken cancellationToken = default)
    {
        var provider = Create(options, loggerFactory, timeProvider);
        await using (provider.ConfigureAwait(false))
        {
            await provider.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await provider._service.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Locks and reads the storage, publishes a valid stored identity, and starts renewing (or
    /// joining) in the background. Returns once the storage is open; use
    /// <see cref="WaitUntilReadyAsync"/> to wait for an identity.
    /// </summary>
    /// <param name="cancellationToken">Cancels opening the storage.</param>
    /// <returns>A task that completes when the background work has started.</returns>
    /// <exception cref="Destinations.DestinationException">
    /// The storage directory is locked by another process or provider
    /// (<see cref="Destinations.DestinationFailure.Locked"/>) or cannot be used.
    /// </exception>
    /// <exception cref="InvalidOperationException">The provider was already started.</exception>
    /// <exception cref="ObjectDisposedException">The provider was disposed.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await OpenAsync(cancellationToken).ConfigureAwait(false);
        _service.StartLoops();
    }

    /// <inheritdoc />
    public Task<BotIdentity> WaitUntilReadyAsync(CancellationToken cancellationToken = default) =>
        _service.WaitUntilReadyAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<BotIdentity> RenewNowAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_service.IsDisposed, this);
        if (!_service.IsOpen || _service.Store is null)
        {
            throw new InvalidOperationException("Call StartAsync before RenewNowAsync.");
        }

        return await _service.RenewNowAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync(CancellationToken cancellationToken = default) =>
        _service.WatchAsync(cancellationToken);

    /// <summary>
    /// Stops renewing, waits for a renewal in flight to finish (so its result is stored), and
    /// releases the storage lock. The last identity stays readable through <see cref="Current"/>.
    /// </summary>
    /// <returns>A task that completes when everything has stopped.</returns>
    public ValueTask DisposeAsync() => _service.DisposeAsync();

    /// <summary>Opens and reads the storage and creates the client (no background work).</summary>
    internal Task OpenAsync(CancellationToken cancellationToken) => _service.OpenAsync(cancellationToken);
}
