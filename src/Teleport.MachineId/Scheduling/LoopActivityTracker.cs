namespace Teleport.MachineId.Scheduling;

/// <summary>
/// Knows whether background loops (the bot's renewal, heartbeat and CA watch, the outputs'
/// schedules) are working or waiting, and until when, so simulated-time tests can advance a fake
/// clock exactly to the next due moment once everything is idle. Production code pays a few
/// interlocked operations per wait.
/// </summary>
internal sealed class LoopActivityTracker
{
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly List<Waiter> _waiters = [];
    private int _busy;

    public LoopActivityTracker(TimeProvider time) => _time = time;

    /// <summary>The earliest moment a waiter is due, or <see langword="null"/> when no waiter has a due time.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (_gate)
            {
                DateTimeOffset? next = null;
                foreach (var waiter in _waiters)
                {
                    if (waiter.Due is { } due && (next is null || due < next))
                    {
                        next = due;
                    }
                }

                return next;
            }
        }
    }

    /// <summary>Starts a background loop that counts as busy from the start until it returns.</summary>
    /// <param name="loop">The loop; it waits through <see cref="WaitAsync(DateTimeOffset?, Task)"/>, <see cref="DelayAsync"/> or a <see cref="WaitOrWake"/>.</param>
    /// <returns>The loop's task.</returns>
    public Task Run(Func<Task> loop)
    {
        Enter();
        return Task.Run(async () =>
        {
            try
            {
                await loop().ConfigureAwait(false);
            }
            finally
            {
                Exit();
            }
        });
    }

    /// <summary>Waits <paramref name="delay"/> on the tracker's clock as a registered wait (the caller is busy around it).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        WaitAsync(_time.GetUtcNow() + delay, Task.Delay(delay, _time, cancellationToken));

    /// <summary>Marks work in progress until the returned scope is disposed.</summary>
    public BusyScope Busy()
    {
        Interlocked.Increment(ref _busy);
        return new BusyScope(this);
    }

    /// <summary>Marks the start of work (pair with <see cref="Exit"/>).</summary>
    public void Enter() => Interlocked.Increment(ref _busy);

    /// <summary>Marks the end of work started with <see cref="Enter"/>.</summary>
    public void Exit() => Interlocked.Decrement(ref _busy);

    /// <summary>
    /// Awaits <paramref name="task"/> as a wait until <paramref name="due"/> (or open-ended). The
    /// caller is busy before and after: the wait is registered before the caller stops being busy
    /// and removed only after it is busy again, so the loop is never invisible to the tracker.
    /// </summary>
    public async Task WaitAsync(DateTimeOffset? due, Task task)
    {
        var waiter = Wait(due);
        Exit();
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            Enter();
            waiter.Dispose();
        }
    }

    /// <summary>As <see cref="WaitAsync(DateTimeOffset?, Task)"/> for a task with a result.</summary>
    public async Task<T> WaitAsync<T>(DateTimeOffset? due, Task<T> task)
    {
        var waiter = Wait(due);
        Exit();
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            Enter();
            waiter.Dispose();
        }
    }

    /// <summary>Registers a wait until <paramref name="due"/> (or an open-ended wait) until the returned waiter is disposed.</summary>
    public Waiter Wait(DateTimeOffset? due)
    {
        var waiter = new Waiter(this, due);
        lock (_gate)
        {
            _waiters.Add(waiter);
        }

        return waiter;
    }

    /// <summary>Whether nothing runs and no waiter is due at the current time.</summary>
    public bool IsIdle
    {
        get
        {
            if (Volatile.Read(ref _busy) != 0)
            {
                return false;
            }

            var now = _time.GetUtcNow();
            lock (_gate)
            {
                foreach (var waiter in _waiters)
                {
                    if (waiter.Due is { } due && due <= now)
                    {
                        return false;
                    }
                }
            }

            return Volatile.Read(ref _busy) == 0;
        }
    }

    /// <summary>Polls (in real time) until <see cref="IsIdle"/> holds on several consecutive checks.</summary>
    public async Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        var stable = 0;
        while (stable < 3)
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            stable = IsIdle ? stable + 1 : 0;
        }
    }

    private void Remove(Waiter waiter)
    {
        lock (_gate)
        {
            _waiters.Remove(waiter);
        }
    }

    private void Release() => Interlocked.Decrement(ref _busy);

    /// <summary>One registered wait.</summary>
    internal sealed class Waiter : IDisposable
    {
        private readonly LoopActivityTracker _owner;

        public Waiter(LoopActivityTracker owner, DateTimeOffset? due)
        {
            _owner = owner;
            Due = due;
        }

        /// <summary>When the wait ends by itself; <see cref="DateTimeOffset.MinValue"/> once it was signalled.</summary>
        public DateTimeOffset? Due { get; private set; }

        /// <summary>Marks the waiter as about to wake (it was signalled).</summary>
        public void MarkSignalled()
        {
            lock (_owner._gate)
            {
                Due = DateTimeOffset.MinValue;
            }
        }

        public void Dispose() => _owner.Remove(this);
    }

    /// <summary>A span of work.</summary>
    internal readonly struct BusyScope : IDisposable
    {
        private readonly LoopActivityTracker? _owner;

        public BusyScope(LoopActivityTracker owner) => _owner = owner;

        public void Dispose() => _owner?.Release();
    }
}
