using System.Collections.Concurrent;
using Teleport.MachineId.Identity.Joining;

namespace Teleport.MachineId.Identity.Storage;

/// <summary>Process memory storage (tbot's <c>memory</c>).</summary>
internal sealed class MemoryBotIdentityStore : IBotIdentityStore
{
    private readonly ConcurrentDictionary<string, byte[]> _entries = new(StringComparer.Ordinal);
    private StoredBotIdentity? _identity;
    private InFlightRenewal? _inFlight;

    public string Description => "memory";

    public bool IsPersistent => false;

    public Task<StoredBotState> LoadAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new StoredBotState(Volatile.Read(ref _identity), Volatile.Read(ref _inFlight), null));

    public Task SaveIdentityAsync(StoredBotIdentity identity, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _identity, identity);
        return Task.CompletedTask;
    }

    public Task WriteInFlightAsync(InFlightRenewal record, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _inFlight, record);
        return Task.CompletedTask;
    }

    public Task ClearInFlightAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _inFlight, null);
        return Task.CompletedTask;
    }

    public Task VerifyWritableAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        JoinMethodState.ValidateName(name);
        return Task.FromResult(_entries.TryGetValue(name, out var content) ? content.ToArray() : null);
    }

    public Task WriteAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        BotIdentityStoreFormat.ValidateEntry(name, content.Length);
        _entries[name] = content.ToArray();
        return Task.CompletedTask;
    }

    public Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        JoinMethodState.ValidateName(name);
        _entries.TryRemove(name, out _);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
