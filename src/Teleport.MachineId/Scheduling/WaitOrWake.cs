namespace Teleport.MachineId.Scheduling;

/// <summary>
/// The wait of a scheduling loop: until a due moment on the injected clock, or until someone calls
/// <see cref="Wake"/> (a new identity, a failure, a rotation notice), whichever comes first. A wake
/// that arrives while the loop is busy is kept and ends the next wait at once, so nothing is missed.
/// Shared by the bot's renewal loop and the identity outputs; registered with a
/// <see cref="LoopActivityTracker"/> so simulated-time tests step exactly to the due moment.
/// </summary>
internal sealed class WaitOrWake
{
    /// <summary>The longest single timer; longer waits return and the loop re-evaluates.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromDays(1);

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly LoopActivityTracker _activity;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopActivityTracker.Waiter? _waiter;

    public WaitOrWake(TimeProvider time, LoopActivityTracker activity)
    {
        _time = time;
        _activity = activity;
    }

    /// <summary>Ends the current wait, or the next one if none is running.</summary>
    public void Wake()
    {
        lock (_gate)
        {
            _wake.TrySetResult();
            _waiter?.MarkSignalled();
        }
    }

    /// <summary>Forgets a pending wake (the loop is about to do what it would have woken for).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            if (_wake.Task.IsCompleted)
            {
                _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="due"/> (at most <see cref="MaxWait"/>), a <see cref="Wake"/>, or
    /// cancellation, and consumes the wake. The caller counts as busy in the tracker around the call.
    /// </summary>
    /// <returns><see langword="true"/> when woken (or a wake was pending), <see langword="false"/> when the time came or the wait was cancelled.</returns>
    public async Task<bool> WaitAsync(DateTimeOffset due, CancellationToken cancellationToken)
    {
        TaskCompletionSource wake;
        LoopActivityTracker.Waiter waiter;
        lock (_gate)
        {
            wake = _wake;
            if (wake.Task.IsCompleted)
            {
                _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return true;
            }

            waiter = _activity.Wait(due);
            _waiter = waiter;
        }

        var delay = due - _time.GetUtcNow();
        if (delay > MaxWait)
        {
            delay = MaxWait;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _activity.Exit();
        try
        {
            if (delay > TimeSpan.Zero && !cancellationToken.IsCancellationRequested)
            {
                // The linked token ends the timer when the wake wins or the loop stops.
                var timer = Task.Delay(delay, _time, linked.Token);
                await Task.WhenAny(timer, wake.Task).ConfigureAwait(false);
            }
        }
        finally
        {
            _activity.Enter();
            await linked.CancelAsync().ConfigureAwait(false);
            lock (_gate)
            {
                if (_wake.Task.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                _waiter = null;
            }

            waiter.Dispose();
        }

        return wake.Task.IsCompleted;
    }
}
