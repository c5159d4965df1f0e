using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Scheduling;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// tbot's bot identity service behind <see cref="BotIdentityProvider"/>: opens the storage, decides
/// between renewing and joining, runs one attempt at a time (the schedule, <c>RenewNowAsync</c> and
/// CA rotations share it), keeps the health state, and runs the renewal, heartbeat and CA-watch loops.
/// </summary>
/// <remarks>
/// The parts: <see cref="StoredIdentityLoader"/> (start-up rules), <see cref="RenewalTransaction"/>
/// (<c>GenerateUserCerts</c> with the in-flight record), <see cref="JoinTransaction"/> (joins through
/// the join-method seam), <see cref="HeartbeatLoop"/>, <see cref="CaRotationWatcher"/>,
/// <see cref="IdentityChangeBroadcaster"/>, <see cref="RenewalSchedule"/> and the shared
/// <see cref="Backoff"/> and <see cref="WaitOrWake"/>.
/// </remarks>
internal sealed class BotIdentityService : IAsyncDisposable
{
    private readonly object _owner;
    private readonly Func<EventHandler<BotIdentityChangedEventArgs>?> _handlers;
    private readonly MachineIdOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IBotJoinMethod _method;
    private readonly JoinSecretSource _secret;
    private readonly BotRecoveryMessages _messages;
    private readonly BotCredentialClientFactory _clientFactory;
    private readonly RenewalSchedule _schedule;
    private readonly Backoff _backoff;
    private readonly BotIdentityTelemetry _telemetry;
    private readonly IdentityChangeBroadcaster _identities;
    private readonly WaitOrWake _wait;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _hardStop;

    private IBotIdentityStore? _store;
    private IBotCredentialClient? _client;
    private RenewalTransaction? _renewal;
    private JoinTransaction? _join;
    private HeartbeatLoop? _heartbeat;
    private StoredCommit _commit = StoredCommit.None;
    private BotJoinRequiredException? _joinRequired;
    private bool _rejoinRequested;
    private Task<BotIdentity>? _inFlight;
    private bool _inFlightPublished;
    private DateTimeOffset? _caRotationDue;
    private DateTimeOffset? _nextRenewal;
    private DateTimeOffset? _retryAt;
    private DateTimeOffset? _nextAttempt;
    private int _consecutiveFailures;
    private Exception? _lastError;
    private bool _lastFailureFatal;
    private Task<BotIdentity>? _fatallyFailedAttempt;
    private string? _loggedJoinRequired;
    private BotIdentity? _loggedExpiry;
    private bool _callerReportsFailures;
    private Task[] _loops = [];
    private int _state; // 0 created, 1 opened, 2 disposed

    /// <summary>How long a stop waits for a renewal request already sent, so its answer is stored.</summary>
    public static readonly TimeSpan StopGracePeriod = TimeSpan.FromSeconds(30);

    public BotIdentityService(
        object owner,
        Func<EventHandler<BotIdentityChangedEventArgs>?> handlers,
        MachineIdOptions options,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        IBotJoinMethod joinMethod,
        BotCredentialClientFactory clientFactory,
        IMeterFactory? meterFactory,
        Func<double>? random)
    {
        _owner = owner;
        _handlers = handlers;
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Teleport.MachineId.BotIdentityProvider");
        _time = timeProvider;
        _method = joinMethod;
        _secret = new JoinSecretSource(options);
        _messages = new BotRecoveryMessages(_secret);
        _clientFactory = clientFactory;
        random ??= Backoff.SharedRandom;
        _schedule = new RenewalSchedule(options, random);
        _backoff = new Backoff(options.RetryMinBackoff, options.RetryMaxBackoff, random);
        _telemetry = new BotIdentityTelemetry(meterFactory, SecondsUntilExpiry);
        _identities = new IdentityChangeBroadcaster(_logger);
        Activity = new LoopActivityTracker(timeProvider);
        _wait = new WaitOrWake(timeProvider, Activity);

        // On the injected clock, so a stop's grace period is simulated time in tests.
        _hardStop = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
    }

    /// <summary>Tracks the background loops for simulated-time tests.</summary>
    public LoopActivityTracker Activity { get; }

    /// <summary>Crash-point hook for crash-safety tests; it throws <see cref="SimulatedCrashException"/> to drop the process state.</summary>
    public Action<RenewalFaultPoint>? FaultInjector { get; set; }

    /// <summary>The storage in use (after opening).</summary>
    public IBotIdentityStore? Store => _store;

    /// <summary>Whether a simulated crash stopped the service.</summary>
    public bool Crashed { get; private set; }

    public bool IsDisposed => Volatile.Read(ref _state) == 2;

    public bool IsOpen => Volatile.Read(ref _state) == 1;

    public BotIdentity? Current => _identities.Current;

    public BotIdentityStatus Status
    {
        get
        {
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                var current = _identities.Current;
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

    /// <summary>Locks and reads the storage, creates the client and publishes a usable stored identity; no background work.</summary>
    /// <exception cref="Destinations.DestinationException">The storage is locked or cannot be used.</exception>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, _owner);
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
            _renewal = new RenewalTransaction(_client, _store, _options, _messages, _time, _logger, Fault);
            _join = new JoinTransaction(_method, _secret, _client, _store, _options, _messages, _time, _logger, Fault);
            _heartbeat = new HeartbeatLoop(_client, _identities, _method.Name, Activity, _backoff, _time, _logger);
            var loaded = await StoredIdentityLoader.LoadAsync(_store, _method, _secret, _messages, _time, _logger, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _commit = loaded.Commit;
                _joinRequired = loaded.JoinRequired;
                _rejoinRequested = loaded.RejoinRequested;
            }

            if (loaded.Identity is { } identity)
            {
                if (loaded.Publish)
                {
                    // A loaded identity is renewed right away (tbot does the same at start-up).
                    var now = _time.GetUtcNow();
                    Publish(identity, null, BotIdentityChangeReason.LoadedFromStorage, now);
                    lock (_gate)
                    {
                        _nextRenewal = now;
                    }
                }
                else if (identity.IsExpiredAt(_time.GetUtcNow()))
                {
                    _identities.SetUnannounced(identity);
                }
            }
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

    /// <summary>Starts the renewal, heartbeat and CA-watch loops.</summary>
    public void StartLoops()
    {
        var watcher = new CaRotationWatcher(_client!, _identities, Activity, _backoff, _options.RetryMaxBackoff, _time, _logger, OnCaRotation);
        _loops =
        [
            Activity.Run(RenewalLoopAsync),
            Activity.Run(() => _heartbeat!.RunAsync(_stopping.Token)),
            Activity.Run(() => watcher.RunAsync(_stopping.Token)),
        ];
    }

    /// <summary>
    /// tbot's one-shot: one join or renewal (its failure is the caller's to report, so it is not
    /// logged as an error here), then one heartbeat marked one-shot.
    /// </summary>
    public async Task<BotIdentity> RunOnceAsync(CancellationToken cancellationToken)
    {
        _callerReportsFailures = true;
        var identity = await RunSharedAsync(BotIdentityChangeReason.Renewed).WaitAsync(cancellationToken).ConfigureAwait(false);
        await _heartbeat!.SubmitOneShotAsync(identity, cancellationToken).ConfigureAwait(false);
        return identity;
    }

    public async Task<BotIdentity> WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(IsDisposed, _owner);
            var (current, next) = _identities.Snapshot();
            if (current is not null && !current.IsExpiredAt(_time.GetUtcNow()))
            {
                return current;
            }

            lock (_gate)
            {
                // After a failure retries cannot fix, and with no attempt running, report it now
                // instead of waiting for an outcome that needs someone to act first.
                if (_lastFailureFatal && _lastError is not null
                    && (_inFlight is not { IsCompleted: false } || ReferenceEquals(_inFlight, _fatallyFailedAttempt)))
                {
                    throw _lastError;
                }
            }

            var identity = await next.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!identity.IsExpiredAt(_time.GetUtcNow()))
            {
                return identity;
            }
        }
    }

    public Task<BotIdentity> RenewNowAsync(CancellationToken cancellationToken) =>
        RunSharedAsync(BotIdentityChangeReason.Renewed, fresh: true).WaitAsync(cancellationToken);

    public IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync(CancellationToken cancellationToken) => _identities.WatchAsync(cancellationToken);

    /// <summary>
    /// Stops the loops, lets a renewal already sent finish and be stored (bounded grace), releases
    /// the storage lock. The last identity stays readable.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _hardStop.CancelAfter(StopGracePeriod);
        foreach (var task in _loops.Append(Volatile.Read(ref _inFlight)))
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

        _identities.Complete(new ObjectDisposedException(nameof(BotIdentityProvider)));
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

    private double? SecondsUntilExpiry() =>
        Current is { } identity ? (identity.NotAfter - _time.GetUtcNow()).TotalSeconds : null;

    private void Fault(RenewalFaultPoint point) => FaultInjector?.Invoke(point);

    /// <summary>Whether the next attempt must join (no usable identity) rather than renew. Call under the gate.</summary>
    private bool MustJoinAgain(BotIdentity? current, DateTimeOffset now) =>
        current is null || _joinRequired is not null || _rejoinRequested || current.IsExpiredAt(now)
        || (_method.RenewalKind == BotRenewalKind.GenerateUserCerts && !current.IsRenewable);

    /// <summary>
    /// Runs an attempt, or shares the one in flight. With <paramref name="fresh"/>, an attempt whose
    /// identity was already published before this call is not shared: the caller gets one that
    /// starts after it (<c>RenewNowAsync</c> semantics).
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
        bool forced;
        StoredCommit commit;
        BotJoinRequiredException? pending;
        lock (_gate)
        {
            forced = MustJoinAgain(current, _time.GetUtcNow());
            commit = _commit;
            pending = _joinRequired;
        }

        // A delegated method's routine re-join is its renewal; a join the state forces is a (re)join.
        var join = forced || _method.RenewalKind == BotRenewalKind.Rejoin;
        var reason = !forced ? hint : current is null && !commit.HasIdentity ? BotIdentityChangeReason.Joined : BotIdentityChangeReason.Rejoined;
        var operation = BotIdentityTelemetry.OperationName(reason);
        using var activity = BotIdentityTelemetry.ActivitySource.StartActivity(join ? "teleport.machineid.bot.join" : "teleport.machineid.bot.renew");
        try
        {
            BotIdentity identity;
            if (join)
            {
                var (joined, stored) = await _join!.RunAsync(current, commit, pending, reason, _stopping.Token).ConfigureAwait(false);
                lock (_gate)
                {
                    _commit = stored;
                    _joinRequired = null;
                    _rejoinRequested = false;
                }

                identity = joined;
            }
            else
            {
                identity = await _renewal!.RunAsync(current!, commit, hint, _stopping.Token, _hardStop.Token).ConfigureAwait(false);
            }

            var change = Publish(identity, current, reason, _time.GetUtcNow());
            _telemetry.Succeeded(operation, _time.GetElapsedTime(startedAt), change.IsTtlShortened);
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
            RecordFailure(ex, join);
            throw;
        }
    }

    private void RecordFailure(Exception exception, bool wasJoin)
    {
        var now = _time.GetUtcNow();
        TimeSpan retryIn;
        BotIdentity? current;
        int attempt;
        var failWaiters = false;
        var logJoinRequired = false;
        var recovering = false;
        lock (_gate)
        {
            if (exception is BotJoinRequiredException joinRequired)
            {
                if (_method.CanRejoinUnattended)
                {
                    // This method joins again on its own: no operator needed.
                    _rejoinRequested = true;
                    recovering = true;
                }
                else
                {
                    // The first cause stays (later errors while it holds only restate it with the token's state).
                    _joinRequired ??= joinRequired;
                    logJoinRequired = !string.Equals(_loggedJoinRequired, joinRequired.Message, StringComparison.Ordinal);
                    _loggedJoinRequired = joinRequired.Message;
                }
            }

            _consecutiveFailures++;
            attempt = _consecutiveFailures;
            _lastError = exception;
            retryIn = recovering ? TimeSpan.Zero : _backoff.Next(_consecutiveFailures);
            _retryAt = now + retryIn;
            current = _identities.Current;
            var transient = recovering || exception is TeleportException { IsTransient: true } or TimeoutException or HttpRequestException;
            _lastFailureFatal = !transient;

            // The attempt still counts as in flight until this method returns: remember which one
            // failed so a waiter arriving in between reports its failure instead of waiting on it.
            _fatallyFailedAttempt = transient ? null : _inFlight;
            failWaiters = !transient && (current is null || current.IsExpiredAt(now));
        }

        if (failWaiters)
        {
            // Waiters get the failure; later waiters wait for the next outcome.
            _identities.FailWaiters(exception);
        }

        if (current is not null && current.IsExpiredAt(now) && !ReferenceEquals(_loggedExpiry, current))
        {
            _loggedExpiry = current;
            IdentityLog.IdentityExpired(_logger, current.NotAfter);
        }

        if (exception is BotJoinRequiredException && !recovering)
        {
            // One clear message per cause; a one-shot caller reports it itself.
            if (logJoinRequired && !_callerReportsFailures)
            {
                IdentityLog.JoinRequired(_logger, exception.Message);
            }
        }
        else if (_callerReportsFailures)
        {
            IdentityLog.AttemptFailed(_logger, exception, attempt);
        }
        else if (wasJoin || current is null)
        {
            IdentityLog.JoinFailed(_logger, exception, attempt, retryIn);
        }
        else
        {
            IdentityLog.RenewalFailed(_logger, exception, attempt, current.Generation, current.NotAfter, retryIn);
        }

        _wait.Wake();
    }

    private BotIdentityChangedEventArgs Publish(BotIdentity identity, BotIdentity? previous, BotIdentityChangeReason reason, DateTimeOffset now)
    {
        var loaded = reason == BotIdentityChangeReason.LoadedFromStorage;
        var change = new BotIdentityChangedEventArgs(
            identity, previous, reason, loaded ? TimeSpan.Zero : _options.CredentialTtl, loaded ? identity.Lifetime : identity.NotAfter - now);
        lock (_gate)
        {
            _inFlightPublished = true;
            _consecutiveFailures = 0;
            _lastError = null;
            _lastFailureFatal = false;
            _retryAt = null;
            _loggedJoinRequired = null;
            _nextRenewal = _schedule.NextRenewal(identity, now);
            if (reason is BotIdentityChangeReason.CertificateAuthorityRotation or BotIdentityChangeReason.Renewed or BotIdentityChangeReason.Joined or BotIdentityChangeReason.Rejoined)
            {
                _caRotationDue = null;
            }
        }

        if (change.IsTtlShortened)
        {
            IdentityLog.TtlShortened(_logger, change.GrantedTtl, change.RequestedTtl);
        }

        _identities.Publish(change, _owner, _handlers());
        _wait.Wake();
        return change;
    }

    private (DateTimeOffset Due, BotIdentityChangeReason Reason) NextStep(DateTimeOffset now)
    {
        lock (_gate)
        {
            var current = _identities.Current;
            if (MustJoinAgain(current, now))
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

                await _wait.WaitAsync(due, cancellationToken).ConfigureAwait(false);
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

    private void OnCaRotation(CertificateAuthorityChange change)
    {
        var due = _time.GetUtcNow() + TeleportDefaults.CaRotationDebounce;
        lock (_gate)
        {
            if (_caRotationDue is not null)
            {
                return;
            }

            _caRotationDue = due;
        }

        IdentityLog.CaRotationDetected(_logger, change.Type, change.ClusterName, change.RotationPhase, TeleportDefaults.CaRotationDebounce);
        _wait.Wake();
    }
}
