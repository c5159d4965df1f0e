using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Outputs.Internal;

/// <summary>When the credentials of one renewal are valid and when they were made.</summary>
/// <param name="NotBefore">Start of validity.</param>
/// <param name="NotAfter">End of validity.</param>
/// <param name="RenewedAt">When the renewal finished.</param>
internal readonly record struct RenewalTimes(DateTimeOffset NotBefore, DateTimeOffset NotAfter, DateTimeOffset RenewedAt);

/// <summary>
/// The background schedule every output service shares (identity, ssh_host, ssh-multiplexer): renew
/// at once, then at the earlier of <c>renewal_interval</c> after the last renewal and two thirds of
/// the granted lifetime, at once whenever the bot identity changes (renewal, CA rotation), and after
/// a failure with exponential backoff (1 s … 1 min, half of it random).
/// </summary>
internal sealed class OutputRenewalLoop : IAsyncDisposable
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    private readonly string _name;
    private readonly Func<string, CancellationToken, Task<RenewalTimes>> _renew;
    private readonly Action<Exception> _failed;
    private readonly TimeSpan _interval;
    private readonly IBotIdentityProvider? _bot;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _consecutiveFailures;
    private bool _botChanged;
    private Task? _loop;
    private int _disposed;

    /// <param name="name">The output's name, for logs.</param>
    /// <param name="renew">One renewal; receives the reason ("start", "schedule", "bot identity changed").</param>
    /// <param name="failed">Called with each failure of a scheduled renewal (before the backoff).</param>
    /// <param name="interval">The output's renewal interval.</param>
    /// <param name="bot">Bot identity changes that trigger a renewal; none for a local CA.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="time">The clock.</param>
    public OutputRenewalLoop(
        string name,
        Func<string, CancellationToken, Task<RenewalTimes>> renew,
        Action<Exception> failed,
        TimeSpan interval,
        IBotIdentityProvider? bot,
        ILogger logger,
        TimeProvider time)
    {
        _name = name;
        _renew = renew;
        _failed = failed;
        _interval = interval;
        _bot = bot;
        _logger = logger;
        _time = time;
    }

    /// <summary>Starts the loop (the first renewal runs at once, on the thread pool).</summary>
    public void Start()
    {
        if (_bot is not null)
        {
            _bot.IdentityChanged += OnBotIdentityChanged;
        }

        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>Stops the loop and waits for the renewal in progress to end.</summary>
    /// <returns>A task that completes when the loop ended.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_bot is not null)
        {
            _bot.IdentityChanged -= OnBotIdentityChanged;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stopping.Dispose();
    }

    /// <summary>The delay after <paramref name="failures"/> failures in a row: half fixed, half random, so many outputs do not retry in step.</summary>
    internal static TimeSpan Backoff(int failures)
    {
        var cap = MinBackoff * Math.Pow(2, Math.Min(failures - 1, 10));
        if (cap > MaxBackoff)
        {
            cap = MaxBackoff;
        }

        return (cap / 2) + (cap / 2 * Random.Shared.NextDouble());
    }

    /// <summary>The next renewal: two thirds into the lifetime or one interval after the renewal, whichever is first.</summary>
    internal static DateTimeOffset NextRenewal(RenewalTimes times, TimeSpan interval)
    {
        var lifetime = times.NotAfter - times.NotBefore;
        var byLifetime = times.NotBefore + (lifetime * 2 / 3);
        var byInterval = times.RenewedAt + interval;
        return byLifetime < byInterval ? byLifetime : byInterval;
    }

    private void OnBotIdentityChanged(object? sender, BotIdentityChangedEventArgs e)
    {
        // Runs on the provider's renewal task: only flag and wake the loop.
        Volatile.Write(ref _botChanged, true);
        Volatile.Read(ref _wake).TrySetResult();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var reason = "start";
        while (!stopping.IsCancellationRequested)
        {
            TimeSpan delay;
            Volatile.Write(ref _botChanged, false);
            var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _wake, wake);
            try
            {
                var times = await _renew(reason, stopping).ConfigureAwait(false);
                _consecutiveFailures = 0;
                var next = NextRenewal(times, _interval);
                OutputsLog.Scheduled(_logger, _name, next);
                delay = next - _time.GetUtcNow();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _failed(ex);
                _consecutiveFailures++;
                delay = Backoff(_consecutiveFailures);
                OutputsLog.RenewalFailed(_logger, _name, _consecutiveFailures, delay, ex.Message);
            }

            if (Volatile.Read(ref _botChanged))
            {
                // The bot changed while renewing: renew again with the new identity.
                reason = "bot identity changed";
                continue;
            }

            reason = await WaitAsync(delay, wake.Task, stopping).ConfigureAwait(false);
        }
    }

    private async Task<string> WaitAsync(TimeSpan delay, Task wake, CancellationToken stopping)
    {
        if (delay <= TimeSpan.Zero)
        {
            return "schedule";
        }

        using var cancelDelay = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var timer = Task.Delay(delay, _time, cancelDelay.Token);
        var first = await Task.WhenAny(timer, wake).ConfigureAwait(false);
        await cancelDelay.CancelAsync().ConfigureAwait(false);
        stopping.ThrowIfCancellationRequested();
        return first == wake ? "bot identity changed" : "schedule";
    }
}
