using System.Runtime.CompilerServices;

namespace Teleport.MachineId.Cli;

/// <summary>
/// The bot identity of a one-shot run: joined or renewed once (and stored), then only read by the
/// signer; nothing renews it.
/// </summary>
internal sealed class FixedBotIdentity(BotIdentity identity, TimeProvider timeProvider) : IBotIdentityProvider
{
    public event EventHandler<BotIdentityChangedEventArgs>? IdentityChanged
    {
        add { }
        remove { }
    }

    public BotIdentity? Current => identity;

    public BotIdentityStatus Status => new(
        identity.IsExpiredAt(timeProvider.GetUtcNow()) ? BotIdentityHealth.Unhealthy : BotIdentityHealth.Healthy,
        "One-shot identity: " + identity, identity, null, 0, null, timeProvider.GetUtcNow());

    public Task<BotIdentity> WaitUntilReadyAsync(CancellationToken cancellationToken = default) => Task.FromResult(identity);

    public Task<BotIdentity> RenewNowAsync(CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException("A one-shot run does not renew its identity.");

    public async IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        yield break;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
