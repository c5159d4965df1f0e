using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Internal;

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
/// configured now. A renewal writes a record of itself durably before asking the cluster, stores
/// the renewed identity durably before anyone sees it, then removes the record, so a crash at any
/// point never leads to a renewal with a generation the cluster has already moved past (which
/// would make Teleport lock the bot).
/// </para>
/// <para>Thread safety: all members are thread-safe; see <see cref="IBotIdentityProvider"/>.</para>
/// </remarks>
public sealed class BotIdentityProvider : IBotIdentityProvider
{
    /// <summary>How often a bot instance heartbeat is sent (tbot: 30 minutes).</summary>
    internal static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMinutes(30);

    /// <summary>How long to wait after a CA rotation notice before renewing, so a burst of notices causes one renewal.</summary>
    internal static readonly TimeSpan CaRotationDebounce = TimeSpan.FromSeconds(10);

    /// <summary>The longest single timer wait; longer waits are re-evaluated.</summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromDays(1);

    private const int HeartbeatRetryLimit = 5;

    private readonly MachineIdOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IBotJoinMethod _joinMethod;
    private readonly JoinSecretSource _secret;
    private readonly BotCredentialClientFactory _clientFactory;
    private readonly RenewalSchedule _schedule;
    private readonly BotIdentityTelemetry _telemetry;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _hardStop = new();
    private readonly List<ChannelWriter<BotIdentityChangedEventArgs>> _watchers = [];
    private readonly TaskCompletionSource _firstIdentity = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _startedTimestamp;

    private BotIdentity? _current;
    private IBotIdentityStore? _store;
    private IBotCredentialClient? _client;
    private bool _hasStoredIdentity;
    private string? _storedTokenHash;
    private bool _tokenChanged;
    private BotJoinRequiredException? _joinRequired;
    private Task<BotIdentity>? _inFlight;
    private bool _inFlightPublished;
    private DateTimeOffset? _caRotationDue;
    private DateTimeOffset? _nextRenewal;
    private DateTimeOffset? _retryAt;
    private DateTimeOffset? _nextAttempt;
    private int _consecutiveFailures;
    private Exception? _lastError;
    private bool _lastFailureFatal;
    private BotIdentityChangedEventArgs? _lastChange;
    private TaskCompletionSource<BotIdentity> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopActivityTracker.Waiter? _renewalWaiter;
    private Task? _renewalLoop;
    private Task? _heartbeatLoop;
    private Task? _caWatchLoop;
    private int _state; // 0 created, 1 started, 2 disposed
    private bool _loggedExpiry;

    // JoinOrRenewOnceAsync: one attempt whose failure goes to the caller, who reports it; logging it
    // here too (as "retrying", which never happens) would print every failure twice.
    private bool _oneShot;

    private BotIdentityProvider(
        MachineIdOptions options,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        IBotJoinMethod joinMethod,
        BotCredentialClientFactory clientFactory,
        IMeterFactory? meterFactory,
        Func<double>? random)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Teleport.MachineId.BotIdentityProvider");
        _time = timeProvider;
        _joinMethod = joinMethod;
        _secret = new JoinSecretSource(options);
        _clientFactory = clientFactory;
        _schedule = new RenewalSchedule(options, random);
        _telemetry = new BotIdentityTelemetry(meterFactory, SecondsUntilExpiry);
        Activity = new LoopActivityTracker(timeProvider);
        _startedTimestamp = timeProvider.GetTimestamp();
    }

    /// <inheritdoc />
    public event EventHandler<BotIdentityChangedEventArgs>? IdentityChanged;

    /// <inheritdoc />
    public BotIdentity? Current => Volatile.Read(ref _current);

    /// <inheritdoc />
    public BotIdentityStatus Status
    {
        get
        {
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                var current = _current;
                var error = _joinRequired ?? _lastError;
                BotIdentityHealth health;
                string description;
                if (current is null)
                {
                    health = _joinRequired is not null || _consecutiveFailures > 0 ? BotIdentityHealth.Unhealthy : BotIdentityHealth.Initializing;
                    description = error is null ? "No identity yet; joining or loading." : "No identity: " + error.Message;
                }
                else if (current.IsExpiredAt(now))
                {
                    health = BotIdentityHealth.Unhealthy;
                    description = $"The bot identity expired at {current.NotAfter:u}. " + (error?.Message ?? "Renewals have not succeeded.");
                }
                else if (_joinRequired is not null)
                {
                    health = BotIdentityHealth.Unhealthy;
                    description = _joinRequired.Message;
                }
                else if (_consecutiveFailures > 0)
                {
                    health = BotIdentityHealth.Degraded;
                    description = $"Serving generation {current.Generation} valid until {current.NotAfter:u}; {_consecutiveFailures} renewal attempt(s) failed: {error?.Message}";
                }
                else
                {
                    health = BotIdentityHealth.Healthy;
                    description = $"Serving {current}.";
                }

                return new BotIdentityStatus(health, description, current, error, _consecutiveFailures, _nextAttempt, now);
            }
        }
    }

    /// <summary>Tracks the background loops for simulated-time tests.</summary>
    internal LoopActivityTracker Activity { get; }

    /// <summary>Crash-point hook for crash-safety tests; it throws <see cref="SimulatedCrashException"/> to drop the process state.</summary>
    internal Action<RenewalFaultPoint>? FaultInjector { get; set; }

    /// <summary>The storage in use (after start).</summary>
    internal IBotIdentityStore? Store => _store;

    /// <summary>Whether a simulated crash stopped the provider.</summary>
    internal bool Crashed { get; private set; }

    /// <summary>
    /// Creates a provider; call <see cref="StartAsync"/> next. Nothing is read or contacted until then.
    /// </summary>
    /// <param name="options">The options; copied, so later changes have no effect.</param>
    /// <param name="loggerFactory">Where to log; none by default.</param>
    /// <param name="timeProvider">The clock for schedules and validity checks; the system clock by default.</param>
    /// <returns>The provider; dispose it to stop renewing and release the storage lock.</returns>
    /// <exception cref="OptionsValidationException">The options are invalid; the message lists every problem.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    public static BotIdentityProvider Create(MachineIdOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        CreateInternal(options, loggerFactory, timeProvider, null, null, null, null);

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
            clientFactory ?? DefaultClientFactory,
            meterFactory,
            random);
    }

    /// <summary>
    /// Joins or renews once and returns the new identity, storing it in the configured storage —
    /// for one-shot tools (tbot's <c>oneshot</c>). No background renewal runs.
    /// </summary>
    /// <param name="options">The options.</param>
    /// <param name="loggerFactory">Where to log; none by default.</param>
    /// <param name="timeProvider">The clock; the system clock by default.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The new identity.</returns>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    /// <exception cref="Destinations.DestinationException">The storage is locked by another process or cannot be used.</exception>
    /// <exception cref="TeleportException">The join or renewal failed (for example <see cref="BotJoinRequiredException"/>).</exception>
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
            provider._oneShot = true;
            await provider.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await provider.RunSharedAsync(BotIdentityChangeReason.Renewed).WaitAsync(cancellationToken).ConfigureAwait(false);
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
        _renewalLoop = RunLoop(RenewalLoopAsync);
        _heartbeatLoop = RunLoop(HeartbeatLoopAsync);
        _caWatchLoop = RunLoop(CaWatchLoopAsync);
    }

    /// <inheritdoc />
    public async Task<BotIdentity> WaitUntilReadyAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 2, this);
            Task<BotIdentity> ready;
            lock (_gate)
            {
                var current = _current;
                if (current is not null && !current.IsExpiredAt(_time.GetUtcNow()))
                {
                    return current;
                }

                // After a failure retries cannot fix, and with no attempt running, report it now
                // instead of waiting for an outcome that needs someone to act first.
                if (_lastFailureFatal && _lastError is not null && _inFlight is not { IsCompleted: false })
                {
                    throw _lastError;
                }

                ready = _ready.Task;
            }

            var identity = await ready.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!identity.IsExpiredAt(_time.GetUtcNow()))
            {
                return identity;
            }
        }
    }

    /// <inheritdoc />
    public async Task<BotIdentity> RenewNowAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 2, this);
        if (Volatile.Read(ref _state) != 1 || _store is null)
        {
            throw new InvalidOperationException("Call StartAsync before RenewNowAsync.");
        }

        return await RunSharedAsync(BotIdentityChangeReason.Renewed, fresh: true).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateBounded<BotIdentityChangedEventArgs>(
            new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_gate)
        {
            if (_lastChange is { } last)
            {
                channel.Writer.TryWrite(last);
            }

            if (Volatile.Read(ref _state) == 2)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _watchers.Add(channel.Writer);
            }
        }

        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return change;
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(channel.Writer);
            }
        }
    }

    /// <summary>
    /// Stops renewing, waits for a renewal in flight to finish (so its result is stored), and
    /// releases the storage lock. The last identity stays readable through <see cref="Current"/>.
    /// </summary>
    /// <returns>A task that completes when everything has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);

        // A renewal already sent must be allowed to finish and be stored; give it a bounded grace.
        _hardStop.CancelAfter(TimeSpan.FromSeconds(30));
        foreach (var task in new[] { _renewalLoop, _heartbeatLoop, _caWatchLoop, Volatile.Read(ref _inFlight) })
        {
            if (task is not null)
            {
                try
                {
                    await task.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Already recorded in the status; disposal never throws for it.
                }
            }
        }

        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.TryComplete();
            }

            _watchers.Clear();
            _ready.TrySetException(new ObjectDisposedException(nameof(BotIdentityProvider)));
        }

        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }

        if (_store is not null)
        {
            await _store.DisposeAsync().ConfigureAwait(false);
        }

        _telemetry.Dispose();
        _stopping.Dispose();
        _hardStop.Dispose();
    }

    /// <summary>Opens and reads the storage and creates the client (no background work).</summary>
    internal async Task OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 2, this);
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The provider was already started.");
        }

        try
        {
            if (_options.StorageType == BotStorageType.Directory)
            {
                var directoryStore = DirectoryBotIdentityStore.Open(_options.StoragePath!);
                directoryStore.FaultInjector = FaultInjector;
                _store = directoryStore;
            }
            else
            {
                _store = new MemoryBotIdentityStore();
            }

            IdentityLog.StorageOpened(_logger, _store.Description);
            _client = _clientFactory(_options, _loggerFactory, _time, () => Current);
            await LoadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (_store is not null)
            {
                await _store.DisposeAsync().ConfigureAwait(false);
                _store = null;
            }

            Volatile.Write(ref _state, 0);
            throw;
        }
    }

    private static IBotCredentialClient DefaultClientFactory(
        MachineIdOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, Func<BotIdentity?> currentIdentity) =>
        WireBotCredentialClient.Create(options, loggerFactory, timeProvider, currentIdentity);

    private double? SecondsUntilExpiry() =>
        Current is { } identity ? (identity.NotAfter - _time.GetUtcNow()).TotalSeconds : null;

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var store = _store!;
        var state = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        if (state.IdentityError is { } loadError)
        {
            IdentityLog.StoredIdentityDiscarded(_logger, store.Description, loadError.Message);
        }

        BotIdentity? identity = null;
        if (state.Identity is { } stored)
        {
            _hasStoredIdentity = true;
            _storedTokenHash = stored.TokenHash;
            try
            {
                var key = PrivateKey.ImportPem(stored.PrivateKeyPem);
                identity = BotIdentity.Create(key, stored.Material);
            }
            catch (TeleportException ex)
            {
                IdentityLog.StoredIdentityDiscarded(_logger, store.Description, ex.Message);
            }
        }

        if (state.InFlight is { } record)
        {
            var sameInstance = identity is null || record.InstanceId is null || record.InstanceId == identity.InstanceId;
            if (identity is not null && sameInstance && (record.FromGeneration < 0 || record.FromGeneration >= identity.Generation))
            {
                _joinRequired = new BotJoinRequiredException(
                    BotJoinRequiredReason.GenerationUncertain,
                    $"A renewal from generation {identity.Generation} was interrupted (started {record.StartedAt:u}) after it may have reached the cluster, "
                    + "so the cluster may already have moved to a newer generation. Renewing with the stored generation would make Teleport lock the bot, "
                    + $"so it is not attempted. Create a new join token for bot '{identity.BotName}' (tctl bots instances add {identity.BotName}) and configure it; "
                    + "the provider joins again as soon as it sees the new token.");
                IdentityLog.JoinRequired(_logger, _joinRequired.Message);
            }
            else
            {
                IdentityLog.StaleRecordCleared(_logger, record.FromGeneration, identity?.Generation ?? 0);
                await store.ClearInFlightAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        if (identity is null)
        {
            return;
        }

        if (identity.IsExpiredAt(now))
        {
            IdentityLog.StoredIdentityDiscarded(_logger, store.Description, $"it expired at {identity.NotAfter:u}");
            _joinRequired ??= ExpiredError(identity);
            Volatile.Write(ref _current, identity);
            return;
        }

        if (_joinMethod.SecretIsSingleUse && _storedTokenHash is not null)
        {
            var secret = await _secret.ResolveAsync(cancellationToken).ConfigureAwait(false);
            if (secret is not null && JoinSecretSource.Hash(secret) != _storedTokenHash)
            {
                // tbot's rule: a different configured token means the operator wants a fresh join.
                IdentityLog.TokenChanged(_logger);
                _tokenChanged = true;
                return;
            }
        }

        IdentityLog.IdentityLoaded(_logger, identity.Username, identity.ClusterName, identity.Generation, identity.NotAfter, store.Description);
        Publish(identity, null, BotIdentityChangeReason.LoadedFromStorage, TimeSpan.Zero, now);

        // A loaded identity is renewed right away (tbot does the same at start-up).
        _nextRenewal = now;
    }

    private BotJoinRequiredException ExpiredError(BotIdentity identity) => new(
        BotJoinRequiredReason.Expired,
        $"The bot identity expired at {identity.NotAfter:u} and a token-joined identity cannot be renewed after it expires. "
        + $"Create a new join token for bot '{identity.BotName}' (tctl bots instances add {identity.BotName}) and configure it "
        + $"({_secret.Description}); the provider joins again as soon as it sees the new token.");

    /// <summary>
    /// Runs a renewal (or join), or shares the one in flight. With <paramref name="fresh"/>, a
    /// renewal in flight whose identity was already published before this call is not shared: the
    /// caller gets one that starts after it (<see cref="RenewNowAsync"/> semantics).
    /// </summary>
    private Task<BotIdentity> RunSharedAsync(BotIdentityChangeReason hint, bool fresh = false)
    {
        lock (_gate)
        {
            if (_inFlight is { IsCompleted: false } running)
            {
                return fresh && _inFlightPublished ? RunAfterAsync(running, hint) : running;
            }

            var busy = Activity.Busy();
            _inFlightPublished = false;
            var task = Task.Run(async () =>
            {
                try
                {
                    return await ExecuteAsync(hint).ConfigureAwait(false);
                }
                finally
                {
                    busy.Dispose();
                }
            });
            _inFlight = task;
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return task;
        }
    }

    private async Task<BotIdentity> RunAfterAsync(Task<BotIdentity> running, BotIdentityChangeReason hint)
    {
        try
        {
            await running.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Its outcome is recorded; this caller wants its own attempt.
        }

        return await RunSharedAsync(hint).ConfigureAwait(false);
    }

    private async Task<BotIdentity> ExecuteAsync(BotIdentityChangeReason hint)
    {
        var startedAt = _time.GetTimestamp();
        var current = Current;
        var now = _time.GetUtcNow();
        bool needJoin;
        lock (_gate)
        {
            needJoin = current is null || _joinRequired is not null || _tokenChanged || current.IsExpiredAt(now) || !current.IsRenewable;
        }

        var reason = needJoin ? (current is null && !_hasStoredIdentity ? BotIdentityChangeReason.Joined : BotIdentityChangeReason.Rejoined) : hint;
        var operation = BotIdentityTelemetry.OperationName(reason);
        using var activity = BotIdentityTelemetry.ActivitySource.StartActivity(needJoin ? "teleport.machineid.bot.join" : "teleport.machineid.bot.renew");
        try
        {
            var identity = needJoin
                ? await JoinAsync(current, reason, _stopping.Token).ConfigureAwait(false)
                : await RenewAsync(current!, hint, _stopping.Token).ConfigureAwait(false);
            var args = _lastChange;
            _telemetry.Succeeded(operation, _time.GetElapsedTime(startedAt), args?.IsTtlShortened == true);
            activity?.SetTag("teleport.machineid.generation", identity.Generation);
            return identity;
        }
        catch (SimulatedCrashException)
        {
            Crashed = true;
            await _stopping.CancelAsync().ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _telemetry.Failed(operation, _time.GetElapsedTime(startedAt), ex);
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            RecordFailure(ex, needJoin);
            throw;
        }
    }

    private void RecordFailure(Exception exception, bool wasJoin)
    {
        var now = _time.GetUtcNow();
        TimeSpan retryIn;
        TaskCompletionSource<BotIdentity>? failReady = null;
        BotIdentity? current;
        int attempt;
        lock (_gate)
        {
            _consecutiveFailures++;
            attempt = _consecutiveFailures;
            _lastError = exception;
            retryIn = _schedule.Backoff(_consecutiveFailures);
            _retryAt = now + retryIn;
            current = _current;
            var transient = exception is TeleportException { IsTransient: true } or TimeoutException or HttpRequestException;
            _lastFailureFatal = !transient;
            if (!transient && (current is null || current.IsExpiredAt(now)))
            {
                // Waiters get the failure; later waiters wait for the next outcome.
                failReady = _ready;
                _ready = new TaskCompletionSource<BotIdentity>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        failReady?.TrySetException(exception);
        if (_oneShot)
        {
            // Reported by the caller.
        }
        else if (exception is BotJoinRequiredException joinRequired)
        {
            IdentityLog.JoinRequired(_logger, joinRequired.Message);
        }
        else if (wasJoin || current is null)
        {
            IdentityLog.JoinFailed(_logger, exception, attempt, retryIn);
        }
        else
        {
            IdentityLog.RenewalFailed(_logger, exception, attempt, current.Generation, current.NotAfter, retryIn);
        }

        Wake();
    }

    private async Task<BotIdentity> JoinAsync(BotIdentity? current, BotIdentityChangeReason reason, CancellationToken cancellationToken)
    {
        var secret = _joinMethod.RequiresSecret ? await _secret.ResolveAsync(cancellationToken).ConfigureAwait(false) : null;
        var now = _time.GetUtcNow();
        if (_joinMethod.RequiresSecret && secret is null)
        {
            throw NoUsableTokenError(current, now, used: false);
        }

        var hash = secret is null ? null : JoinSecretSource.Hash(secret);
        if (_joinMethod.SecretIsSingleUse && hash is not null && _hasStoredIdentity && hash == _storedTokenHash)
        {
            // This token produced the stored identity and has been consumed by the cluster.
            throw NoUsableTokenError(current, now, used: true);
        }

        IdentityLog.Joining(_logger, _options.ProxyServer ?? _options.AuthServer ?? "?", _joinMethod.Name, _secret.Description);
        var context = new BotJoinContext(_client!, secret, _options.CredentialTtl, current);
        var result = await _joinMethod.JoinAsync(context, cancellationToken).ConfigureAwait(false);
        var material = ToMaterial(result.Certificates, _joinMethod.Name);
        BotIdentity identity;
        try
        {
            identity = BotIdentity.Create(result.PrivateKey, material);
        }
        catch
        {
            result.PrivateKey.Dispose();
            throw;
        }

        // Durable before use: the token is spent now, so losing this identity would need a new token.
        await _store!.SaveIdentityAsync(new StoredBotIdentity(result.PrivateKey.ExportPem(), material, hash, now), CancellationToken.None).ConfigureAwait(false);
        try
        {
            await _store.ClearInFlightAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Destinations.DestinationException ex)
        {
            IdentityLog.RecordClearFailed(_logger, ex);
        }

        lock (_gate)
        {
            _hasStoredIdentity = true;
            _storedTokenHash = hash;
            _joinRequired = null;
            _tokenChanged = false;
        }

        IdentityLog.Joined(_logger, identity.Username, identity.ClusterName, identity.InstanceId, identity.Generation, identity.NotAfter);
        Publish(identity, current, reason, _options.CredentialTtl, _time.GetUtcNow());
        return identity;
    }

    private BotJoinRequiredException NoUsableTokenError(BotIdentity? current, DateTimeOffset now, bool used)
    {
        var existing = _joinRequired;
        var reason = existing?.Reason
            ?? (current is null ? BotJoinRequiredReason.NoIdentity : current.IsExpiredAt(now) ? BotJoinRequiredReason.Expired : BotJoinRequiredReason.RenewalRefused);
        var why = existing?.Message
            ?? (current is null
                ? "The bot has no stored identity, so it must join the cluster."
                : current.IsExpiredAt(now)
                    ? ExpiredError(current).Message
                    : "The bot identity cannot be renewed.");
        var tokenProblem = used
            ? $" The configured token ({_secret.Description}) was already used to join and cannot be used again; configure a new one."
            : _secret.IsConfigured
                ? $" No token is available from {_secret.Description}; write a new join token there."
                : " No join token is configured; set Token, TokenFile or TokenEnvironmentVariable.";
        var error = new BotJoinRequiredException(reason, why + tokenProblem);
        lock (_gate)
        {
            _joinRequired ??= error;
        }

        if (current is not null && current.IsExpiredAt(now) && !_loggedExpiry)
        {
            _loggedExpiry = true;
            IdentityLog.IdentityExpired(_logger, current.NotAfter);
        }

        return error;
    }

    private async Task<BotIdentity> RenewAsync(BotIdentity current, BotIdentityChangeReason reason, CancellationToken cancellationToken)
    {
        IdentityLog.Renewing(_logger, current.Generation, current.NotAfter, reason);
        var suite = await _client!.GetSignatureAlgorithmSuiteAsync(current, cancellationToken).ConfigureAwait(false);
        var key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
        var store = _store!;
        var now = _time.GetUtcNow();
        var handedOver = false;
        try
        {
            Fault(RenewalFaultPoint.BeforeInFlightRecord);
            await store.WriteInFlightAsync(
                new InFlightRenewal(current.Generation, current.InstanceId, key.PublicKey.ToAuthorizedKey(), now), cancellationToken).ConfigureAwait(false);
            Fault(RenewalFaultPoint.AfterInFlightRecord);

            IssuedBotCertificates certificates;
            try
            {
                // Not cancelled by DisposeAsync (only after a grace period): an answer must be stored.
                certificates = await _client.RenewAsync(current, key.PublicKey, now + _options.CredentialTtl, _hardStop.Token).ConfigureAwait(false);
            }
            catch (RenewalOutcomeUnknownException ex)
            {
                var error = new BotJoinRequiredException(
                    BotJoinRequiredReason.GenerationUncertain,
                    $"Renewing generation {current.Generation} may have reached the cluster but no answer arrived, so the cluster may already have moved "
                    + "to a newer generation. Renewing again with the current generation would make Teleport lock the bot, so it is not attempted. "
                    + $"The current identity stays usable until {current.NotAfter:u}. Create a new join token for bot '{current.BotName}' and configure it "
                    + $"({_secret.Description}); the provider joins again as soon as it sees it.",
                    ex);
                lock (_gate)
                {
                    _joinRequired = error;
                }

                IdentityLog.RenewalOutcomeUnknown(_logger, ex, error.Message);
                throw error;
            }
            catch (OperationCanceledException)
            {
                // Cancelled mid-request: the outcome is unknown, so the record stays for the next start.
                throw;
            }
            catch (SimulatedCrashException)
            {
                throw;
            }
            catch (TeleportAccessDeniedException ex)
            {
                await TryClearInFlightAsync(store).ConfigureAwait(false);
                var error = new BotJoinRequiredException(
                    BotJoinRequiredReason.RenewalRefused,
                    $"The cluster refused to renew bot '{current.BotName}' (generation {current.Generation}): {ex.Message} "
                    + "The bot may be locked or deleted; check 'tctl get locks' and 'tctl bots ls', then configure a new join token.",
                    ex);
                lock (_gate)
                {
                    _joinRequired = error;
                }

                throw error;
            }
            catch (Exception)
            {
                // The cluster answered with an error or was never reached: no generation advanced.
                await TryClearInFlightAsync(store).ConfigureAwait(false);
                throw;
            }

            Fault(RenewalFaultPoint.AfterCertificatesIssued);
            var material = ToMaterial(certificates, current.JoinMethod);
            BotIdentity renewed;
            try
            {
                renewed = BotIdentity.Create(key, material);
            }
            catch (TeleportException ex)
            {
                var error = new BotJoinRequiredException(
                    BotJoinRequiredReason.GenerationUncertain,
                    "The cluster issued renewed certificates that this client cannot use, so the cluster has moved past the stored generation. "
                    + $"Configure a new join token ({_secret.Description}).",
                    ex);
                lock (_gate)
                {
                    _joinRequired = error;
                }

                throw error;
            }

            handedOver = true;
            if (renewed.Generation != current.Generation + 1 && current.Generation > 0)
            {
                IdentityLog.UnexpectedGeneration(_logger, renewed.Generation, current.Generation + 1);
            }

            try
            {
                // Durable before use, and never cancelled: the cluster now expects the new generation.
                await store.SaveIdentityAsync(new StoredBotIdentity(key.ExportPem(), material, _storedTokenHash, now), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not SimulatedCrashException)
            {
                var error = new BotJoinRequiredException(
                    BotJoinRequiredReason.GenerationUncertain,
                    $"The renewed identity could not be stored durably in {store.Description} ({ex.Message}), so it is not used; the cluster already "
                    + "expects the new generation. Fix the storage, then configure a new join token.",
                    ex);
                lock (_gate)
                {
                    _joinRequired = error;
                }

                throw error;
            }

            Fault(RenewalFaultPoint.AfterPersist);
            try
            {
                await store.ClearInFlightAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Destinations.DestinationException ex)
            {
                IdentityLog.RecordClearFailed(_logger, ex);
            }

            IdentityLog.Renewed(_logger, renewed.Username, renewed.ClusterName, renewed.Generation, renewed.NotAfter);
            Publish(renewed, current, reason, _options.CredentialTtl, _time.GetUtcNow());
            return renewed;
        }
        finally
        {
            if (!handedOver)
            {
                key.Dispose();
            }
        }
    }

    private async Task TryClearInFlightAsync(IBotIdentityStore store)
    {
        try
        {
            await store.ClearInFlightAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Destinations.DestinationException ex)
        {
            IdentityLog.RecordClearFailed(_logger, ex);
        }
    }

    private void Fault(RenewalFaultPoint point) => FaultInjector?.Invoke(point);

    private static BotIdentityMaterial ToMaterial(IssuedBotCertificates certificates, string joinMethod) => new(
        certificates.TlsCertificatePem,
        certificates.SshCertificate.Trim(),
        certificates.TlsCaCertificatesPem,
        certificates.SshCaKeys.Select(static line => line.Trim()).ToArray(),
        joinMethod);

    private void Publish(BotIdentity identity, BotIdentity? previous, BotIdentityChangeReason reason, TimeSpan requestedTtl, DateTimeOffset now)
    {
        var granted = reason == BotIdentityChangeReason.LoadedFromStorage ? identity.Lifetime : identity.NotAfter - now;
        var args = new BotIdentityChangedEventArgs(identity, previous, reason, requestedTtl, granted);
        TaskCompletionSource<BotIdentity> ready;
        ChannelWriter<BotIdentityChangedEventArgs>[] watchers;
        lock (_gate)
        {
            Volatile.Write(ref _current, identity);
            _inFlightPublished = true;
            _lastChange = args;
            _consecutiveFailures = 0;
            _lastError = null;
            _lastFailureFatal = false;
            _retryAt = null;
            _loggedExpiry = false;
            _nextRenewal = _schedule.NextRenewal(identity, now);
            if (reason is BotIdentityChangeReason.CertificateAuthorityRotation or BotIdentityChangeReason.Renewed or BotIdentityChangeReason.Joined or BotIdentityChangeReason.Rejoined)
            {
                _caRotationDue = null;
            }

            ready = _ready;
            watchers = [.. _watchers];
        }

        if (args.IsTtlShortened)
        {
            IdentityLog.TtlShortened(_logger, args.GrantedTtl, args.RequestedTtl);
        }

        ready.TrySetResult(identity);
        _firstIdentity.TrySetResult();
        foreach (var watcher in watchers)
        {
            watcher.TryWrite(args);
        }

        if (IdentityChanged is { } handlers)
        {
            foreach (var handler in handlers.GetInvocationList().Cast<EventHandler<BotIdentityChangedEventArgs>>())
            {
                try
                {
                    handler(this, args);
                }
                catch (Exception ex)
                {
                    IdentityLog.ChangedHandlerFailed(_logger, ex);
                }
            }
        }

        Wake();
    }

    private void Wake()
    {
        lock (_gate)
        {
            _wake.TrySetResult();
            _renewalWaiter?.MarkSignalled();
        }
    }

    private (DateTimeOffset Due, BotIdentityChangeReason Reason) NextStep(DateTimeOffset now)
    {
        lock (_gate)
        {
            var current = _current;
            var needJoin = current is null || _joinRequired is not null || _tokenChanged || current.IsExpiredAt(now) || !current.IsRenewable;
            if (needJoin)
            {
                return (_retryAt ?? now, BotIdentityChangeReason.Rejoined);
            }

            var due = _retryAt ?? _nextRenewal ?? now;
            var reason = BotIdentityChangeReason.Renewed;
            if (_caRotationDue is { } caDue && caDue < due)
            {
                due = caDue;
                reason = BotIdentityChangeReason.CertificateAuthorityRotation;
            }

            // Wake at expiry too, so the state turns to "join required" with an actionable error.
            if (current!.NotAfter < due)
            {
                due = current.NotAfter;
            }

            return (due, reason);
        }
    }

    /// <summary>Starts a background loop that counts as busy from the start (see <see cref="LoopActivityTracker"/>).</summary>
    private Task RunLoop(Func<Task> loop)
    {
        Activity.Enter();
        return Task.Run(async () =>
        {
            try
            {
                await loop().ConfigureAwait(false);
            }
            finally
            {
                Activity.Exit();
            }
        });
    }

    private async Task RenewalLoopAsync()
    {
        var cancellationToken = _stopping.Token;
        DateTimeOffset? lastLogged = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = _time.GetUtcNow();
            var (due, reason) = NextStep(now);
            lock (_gate)
            {
                _nextAttempt = due;
            }

            if (due > now)
            {
                if (lastLogged != due)
                {
                    IdentityLog.RenewalScheduled(_logger, due);
                    lastLogged = due;
                }

                await WaitUntilAsync(due, cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                await RunSharedAsync(reason).ConfigureAwait(false);
            }
            catch (SimulatedCrashException)
            {
                return;
            }
            catch (Exception)
            {
                // Recorded by ExecuteAsync (status, log, metric, backoff); the loop goes on.
            }
        }
    }

    /// <summary>Waits until <paramref name="due"/> or a <see cref="Wake"/>; returns early (without throwing) when stopping.</summary>
    private async Task WaitUntilAsync(DateTimeOffset due, CancellationToken cancellationToken)
    {
        TaskCompletionSource wake;
        LoopActivityTracker.Waiter waiter;
        lock (_gate)
        {
            wake = _wake;
            if (wake.Task.IsCompleted)
            {
                _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return;
            }

            waiter = Activity.Wait(due);
            _renewalWaiter = waiter;
        }

        var delay = due - _time.GetUtcNow();
        if (delay > MaxWait)
        {
            delay = MaxWait;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Activity.Exit();
        try
        {
            if (delay > TimeSpan.Zero)
            {
                // The linked token also ends the timer when the provider stops.
                var timer = Task.Delay(delay, _time, linked.Token);
                await Task.WhenAny(timer, wake.Task).ConfigureAwait(false);
            }
        }
        finally
        {
            Activity.Enter();
            await linked.CancelAsync().ConfigureAwait(false);
            lock (_gate)
            {
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                _renewalWaiter = null;
            }

            waiter.Dispose();
        }
    }

    private Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        Activity.WaitAsync(_time.GetUtcNow() + delay, Task.Delay(delay, _time, cancellationToken));

    private Task WaitForFirstIdentityAsync(CancellationToken cancellationToken) =>
        Activity.WaitAsync(null, _firstIdentity.Task.WaitAsync(cancellationToken));

    private async Task HeartbeatLoopAsync()
    {
        var cancellationToken = _stopping.Token;
        try
        {
            await WaitForFirstIdentityAsync(cancellationToken).ConfigureAwait(false);
            var isStartup = true;
            while (!cancellationToken.IsCancellationRequested)
            {
                for (var attempt = 1; attempt <= HeartbeatRetryLimit; attempt++)
                {
                    var identity = Current;
                    if (identity is null || identity.IsExpiredAt(_time.GetUtcNow()))
                    {
                        break;
                    }

                    try
                    {
                        await _client!.SubmitHeartbeatAsync(identity, CreateHeartbeat(isStartup), cancellationToken).ConfigureAwait(false);
                        IdentityLog.HeartbeatSubmitted(_logger, isStartup);
                        break;
                    }
                    catch (NotSupportedException)
                    {
                        IdentityLog.HeartbeatsNotSupported(_logger);
                        return;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        IdentityLog.HeartbeatFailed(_logger, ex, attempt);
                    }

                    if (attempt < HeartbeatRetryLimit)
                    {
                        await DelayAsync(_schedule.Backoff(attempt), cancellationToken).ConfigureAwait(false);
                    }
                }

                isStartup = false;
                await DelayAsync(HeartbeatInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private Wire.Calls.BotHeartbeat CreateHeartbeat(bool isStartup) => new()
    {
        RecordedAt = _time.GetUtcNow(),
        IsStartup = isStartup,
        Version = typeof(BotIdentityProvider).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        Hostname = Environment.MachineName,
        Uptime = _time.GetElapsedTime(_startedTimestamp),
        JoinMethod = _joinMethod.Name,
        OneShot = false,
        Architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
        OperatingSystem = OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "darwin" : "unknown",
    };

    private async Task CaWatchLoopAsync()
    {
        var cancellationToken = _stopping.Token;
        try
        {
            await WaitForFirstIdentityAsync(cancellationToken).ConfigureAwait(false);
            var failures = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                var identity = Current;
                if (identity is null || identity.IsExpiredAt(_time.GetUtcNow()))
                {
                    await DelayAsync(_options.RetryMaxBackoff, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                Exception? failure = null;
                try
                {
                    var changes = _client!.WatchCertificateAuthoritiesAsync(identity, cancellationToken).GetAsyncEnumerator(cancellationToken);
                    await using var disposeChanges = changes.ConfigureAwait(false);
                    while (true)
                    {
                        var more = await Activity.WaitAsync(null, changes.MoveNextAsync().AsTask()).ConfigureAwait(false);

                        if (!more)
                        {
                            break;
                        }

                        failures = 0;
                        OnCertificateAuthorityChange(identity, changes.Current);
                    }
                }
                catch (NotSupportedException)
                {
                    IdentityLog.CaWatchNotSupported(_logger);
                    return;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    failure = ex;
                }

                failures++;
                var retryIn = _schedule.Backoff(failures);
                IdentityLog.CaWatchFailed(_logger, failure, retryIn);
                await DelayAsync(retryIn, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void OnCertificateAuthorityChange(BotIdentity identity, CertificateAuthorityChange change)
    {
        // tbot's rule: a local host/user/db CA in a rotation phase that changes what clients must trust.
        if (!string.Equals(change.ClusterName, identity.ClusterName, StringComparison.Ordinal)
            || change.Type is not ("host" or "user" or "db")
            || change.RotationPhase is "" or "init" or "update_servers")
        {
            return;
        }

        var due = _time.GetUtcNow() + CaRotationDebounce;
        lock (_gate)
        {
            if (_caRotationDue is not null)
            {
                return;
            }

            _caRotationDue = due;
        }

        IdentityLog.CaRotationDetected(_logger, change.Type, change.ClusterName, change.RotationPhase, CaRotationDebounce);
        Wake();
    }
}
