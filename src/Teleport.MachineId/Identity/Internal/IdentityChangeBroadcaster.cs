using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// Holds the current bot identity and announces each change — after it is durable — to the
/// <see cref="IBotIdentityProvider.IdentityChanged"/> handlers, to every <see cref="WatchAsync"/>
/// reader (latest change first, then each new one; a slow reader skips to the latest) and to
/// callers waiting for a usable identity.
/// </summary>
internal sealed class IdentityChangeBroadcaster
{
    private readonly object _gate = new();
    private readonly ILogger _logger;
    private readonly List<ChannelWriter<BotIdentityChangedEventArgs>> _watchers = [];
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<BotIdentity> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private BotIdentity? _current;
    private BotIdentityChangedEventArgs? _last;
    private bool _completed;

    public IdentityChangeBroadcaster(ILogger logger) => _logger = logger;

    /// <summary>The current identity (one volatile read).</summary>
    public BotIdentity? Current => Volatile.Read(ref _current);

    /// <summary>
    /// The current identity and, atomically with it, the next one to be announced (or the failure
    /// that ends the wait for it), so a waiter never misses an announcement between the two.
    /// </summary>
    public (BotIdentity? Current, Task<BotIdentity> Next) Snapshot()
    {
        lock (_gate)
        {
            return (_current, _ready.Task);
        }
    }

    /// <summary>Makes <paramref name="identity"/> current without announcing it (a stored identity that expired: kept for status and messages).</summary>
    public void SetUnannounced(BotIdentity identity)
    {
        lock (_gate)
        {
            Volatile.Write(ref _current, identity);
        }
    }

    /// <summary>Makes the change's identity current and announces it.</summary>
    /// <param name="change">The change.</param>
    /// <param name="sender">The provider, as the handlers' sender.</param>
    /// <param name="handlers">The provider's <see cref="IBotIdentityProvider.IdentityChanged"/> handlers.</param>
    public void Publish(BotIdentityChangedEventArgs change, object sender, EventHandler<BotIdentityChangedEventArgs>? handlers)
    {
        TaskCompletionSource<BotIdentity> ready;
        ChannelWriter<BotIdentityChangedEventArgs>[] watchers;
        lock (_gate)
        {
            Volatile.Write(ref _current, change.Identity);
            _last = change;
            ready = _ready;
            _ready = new TaskCompletionSource<BotIdentity>(TaskCreationOptions.RunContinuationsAsynchronously);
            watchers = [.. _watchers];
        }

        ready.TrySetResult(change.Identity);
        _first.TrySetResult();
        foreach (var watcher in watchers)
        {
            watcher.TryWrite(change);
        }

        if (handlers is null)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList().Cast<EventHandler<BotIdentityChangedEventArgs>>())
        {
            try
            {
                handler(sender, change);
            }
            catch (Exception ex)
            {
                IdentityLog.ChangedHandlerFailed(_logger, ex);
            }
        }
    }

    /// <summary>Ends the current wait for an identity with <paramref name="error"/>; later waiters wait for the next outcome.</summary>
    public void FailWaiters(Exception error)
    {
        TaskCompletionSource<BotIdentity> failed;
        lock (_gate)
        {
            failed = _ready;
            _ready = new TaskCompletionSource<BotIdentity>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        failed.TrySetException(error);
    }

    /// <summary>Waits for the first identity announced.</summary>
    public Task WhenFirstAsync(CancellationToken cancellationToken) => _first.Task.WaitAsync(cancellationToken);

    /// <summary>The latest change, then every later one, until <see cref="Complete"/> or cancellation.</summary>
    public async IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<BotIdentityChangedEventArgs>(
            new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_gate)
        {
            if (_last is { } last)
            {
                channel.Writer.TryWrite(last);
            }

            if (_completed)
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

    /// <summary>Ends every watch and fails waiters with <paramref name="error"/> (the provider was disposed).</summary>
    public void Complete(Exception error)
    {
        TaskCompletionSource<BotIdentity> ready;
        lock (_gate)
        {
            _completed = true;
            foreach (var watcher in _watchers)
            {
                watcher.TryComplete();
            }

            _watchers.Clear();
            ready = _ready;
        }

        ready.TrySetException(error);
    }
}
