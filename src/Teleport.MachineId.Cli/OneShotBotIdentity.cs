using System.Runtime.CompilerServices;

namespace Teleport.MachineId.Cli;

/// <summary>
/// The bot identity of a one-shot run: set once after the join or renewal (and stored), then only
/// read by the signer; nothing renews it. The outputs are created against it before the join, so
/// their options and destinations are checked before anything is spent remotely.
/// </summary>
internal sealed class OneShotBotIdentity(TimeProvider timeProvider) : IBotIdentityProvider
{
    private BotIdentity? _identity;

    public event EventHandler<BotIdentityChangedEventArgs>? IdentityChanged
    {
        add { }
        remove { }
    }

    public BotIdentity? Current => Volatile.Read(ref _identity);

    public BotIdentityStatus Status => Current is { } identity
        ? new(identity.IsExpiredAt(timeProvider.GetUtcNow()) ? BotIdentityHealth.Unhealthy : BotIdentityHealth.Healthy,
            "One-shot identity: " + identity, identity, null, 0, null, timeProvider.GetUtcNow())
        : new(BotIdentityHealth.Initializing, "One-shot run: joining or renewing.", null, null, 0, null, timeProvider.GetUtcNow());

    /// <summary>Sets the identity the run joined or renewed.</summary>
    public void Set(BotIdentity identity) => Volatile.Write(ref _identity, identity);

    public Task<BotIdentity> WaitUntilReadyAsync(CancellationToken cancellationToken = default) =>
        Current is { } identity
            ? Task.FromResult(identity)
            : Task.FromException<BotIdentity>(new InvalidOperationException("The one-shot identity is used before the join or renewal."));

    public Task<BotIdentity> RenewNowAsync(CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException("A one-shot run does not renew its identity.");

    public async IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        yield break;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
