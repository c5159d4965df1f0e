using Microsoft.Extensions.Logging;
using Teleport.MachineId.Scheduling;

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
/// a failure with the shared full-jitter backoff (<see cref="Backoff"/>, 1 s … 1 min). Waits through a
/// <see cref="WaitOrWake"/> registered with the bot's <see cref="LoopActivityTracker"/>, so
/// simulated-time tests step the outputs with the bot.
/// </summary>
internal sealed class OutputRenewalLoop : IAsyncDisposable
{
    private readonly string _name;
    private readonly Func<string, CancellationToken, Task<RenewalTimes>> _renew;
    private readonly Action<Exception> _failed;
    private readonly TimeSpan _interval;
    private readonly IBotIdentityProvider? _bot;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly WaitOrWake _wake;
    private readonly Backoff _backoff;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private int _disposed;

    /// <param name="name">The output's name, for logs.</param>
    /// <param name="renew">One renewal; receives the reason ("start", "schedule", "bot identity changed").</param>
    /// <param name="failed">Called with each failure of a scheduled renewal (before the backoff).</param>
    /// <param name="interval">The output's renewal interval.</param>
    /// <param name="bot">Bot identity changes that trigger a renewal; none for a local CA.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="time">The clock.</param>
    /// <param name="random">Drives the retry jitter; tests seed it (shared random when <see langword="null"/>).</param>
    public OutputRenewalLoop(
        string name,
        Func<string, CancellationToken, Task<RenewalTimes>> renew,
        Action<Exception> failed,
        TimeSpan interval,
        IBotIdentityProvider? bot,
        ILogger logger,
        TimeProvider time,
        Func<double>? random = null)
    {
        _name = name;
        _renew = renew;
        _failed = failed;
        _interval = interval;
        _bot = bot;
        _logger = logger;
        _time = time;
        _backoff = new Backoff(TeleportDefaults.RetryMinBackoff, TeleportDefaults.RetryMaxBackoff, random);
        Activity = (bot as BotIdentityProvider)?.Activity ?? new LoopActivityTracker(time);
        _wake = new WaitOrWake(time, Activity);
    }

    /// <summary>Tracks the loop for simulated-time tests: the bot's tracker when the bot is a <see cref="BotIdentityProvider"/>, so tests step both.</summary>
    public LoopActivityTracker Activity { get; }

    /// <summary>Starts the loop (the first renewal runs at once, on the thread pool).</summary>
    public void Start()
    {
        if (_bot is not null)
        {
            _bot.IdentityChanged += OnBotIdentityChanged;
        }

        _loop = Activity.Run(() => RunAsync(_stopping.Token));
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

    /// <summary>The next renewal: two thirds into the lifetime or one interval after the renewal, whichever is first.</summary>
    internal static DateTimeOffset NextRenewal(RenewalTimes times, TimeSpan interval)
    {
        var lifetime = times.NotAfter - times.NotBefore;
        var byLifetime = times.NotBefore + (lifetime * 2 / 3);
        var byInterval = times.RenewedAt + interval;
        return byLifetime < byInterval ? byLifetime : byInterval;
    }

    // Runs on the provider's renewal task: only wake the loop (a wake during a renewal ends the next wait at once).
    private void OnBotIdentityChanged(object? sender, BotIdentityChangedEventArgs e) => _wake.Wake();

    private async Task RunAsync(CancellationToken stopping)
    {
        var reason = "start";
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            // This renewal covers any change announced before it starts.
            _wake.Clear();
            DateTimeOffset due;
            try
            {
                var times = await _renew(reason, stopping).ConfigureAwait(false);
                failures = 0;
                due = NextRenewal(times, _interval);
                OutputsLog.Scheduled(_logger, _name, due);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _failed(ex);
                failures++;
                var delay = _backoff.Next(failures);
                due = _time.GetUtcNow() + delay;
                OutputsLog.RenewalFailed(_logger, _name, failures, delay, ex.Message);
            }

            var woken = await _wake.WaitAsync(due, stopping).ConfigureAwait(false);
            reason = woken ? "bot identity changed" : "schedule";
        }
    }
}
