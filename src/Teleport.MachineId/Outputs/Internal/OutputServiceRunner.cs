using Microsoft.Extensions.Logging;
using Teleport.MachineId.Scheduling;

namespace Teleport.MachineId.Outputs.Internal;

/// <summary>
/// What every output service (identity, ssh_host, ssh-multiplexer) does around its renewal: one
/// renewal at a time, the last result and the last failure, "ready" after the first success, the
/// background schedule (<see cref="OutputRenewalLoop"/>), and the created → started → disposed states.
/// </summary>
/// <typeparam name="TResult">What one renewal produces.</typeparam>
internal sealed class OutputServiceRunner<TResult> : IAsyncDisposable
    where TResult : class
{
    private readonly string _name;
    private readonly Func<string, CancellationToken, Task<TResult>> _renew;
    private readonly SemaphoreSlim _renewLock = new(1, 1);
    private readonly TaskCompletionSource<TResult> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly OutputRenewalLoop _loop;
    private TResult? _current;
    private Exception? _lastError;
    private int _state; // 0 created, 1 started, 2 disposed

    /// <param name="name">The service's name, for logs and messages.</param>
    /// <param name="renew">One renewal (never run concurrently); receives the reason.</param>
    /// <param name="times">The validity of a result, for the schedule.</param>
    /// <param name="interval">The renewal interval.</param>
    /// <param name="bot">Bot identity changes that trigger a renewal; none for a local CA.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="time">The clock.</param>
    /// <param name="random">Drives the retry jitter; tests seed it (shared random when <see langword="null"/>).</param>
    public OutputServiceRunner(
        string name,
        Func<string, CancellationToken, Task<TResult>> renew,
        Func<TResult, RenewalTimes> times,
        TimeSpan interval,
        IBotIdentityProvider? bot,
        ILogger logger,
        TimeProvider time,
        Func<double>? random = null)
    {
        _name = name;
        _renew = renew;
        _loop = new OutputRenewalLoop(
            name,
            async (reason, ct) => times(await RenewAsync(reason, ct).ConfigureAwait(false)),
            ex => Volatile.Write(ref _lastError, ex),
            interval,
            bot,
            logger,
            time,
            random);
    }

    /// <summary>The last result, or <see langword="null"/> before the first.</summary>
    public TResult? Current => Volatile.Read(ref _current);

    /// <summary>The last failure since the last success, or <see langword="null"/>.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Tracks the background loop (the bot's tracker when there is a bot) for simulated-time tests.</summary>
    public LoopActivityTracker Activity => _loop.Activity;

    /// <summary>Whether the runner was disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _state) == 2;

    /// <summary>Starts the background schedule.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public void Start(object owner)
    {
        var previous = Interlocked.CompareExchange(ref _state, 1, 0);
        ObjectDisposedException.ThrowIf(previous == 2, owner);
        if (previous == 1)
        {
            throw new InvalidOperationException($"{_name} was already started.");
        }

        _loop.Start();
    }

    /// <summary>One renewal now, after any in progress; a failure is recorded as <see cref="LastError"/>.</summary>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public async Task<TResult> RenewNowAsync(object owner, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, owner);
        try
        {
            return await RenewAsync("requested", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Volatile.Write(ref _lastError, ex);
            throw;
        }
    }

    /// <summary>Waits for the first result.</summary>
    public Task<TResult> WaitUntilReadyAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    /// <summary>Stops the schedule and waits for a renewal in progress.</summary>
    /// <returns><see langword="false"/> when it was already disposed.</returns>
    public async ValueTask<bool> StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return false;
        }

        await _loop.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task<TResult> RenewAsync(string reason, CancellationToken cancellationToken)
    {
        await _renewLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await _renew(reason, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _current, result);
            Volatile.Write(ref _lastError, null);
            _ready.TrySetResult(result);
            return result;
        }
        finally
        {
            _renewLock.Release();
        }
    }
}
