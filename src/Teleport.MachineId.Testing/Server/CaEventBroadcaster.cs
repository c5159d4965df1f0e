using System.Collections.Concurrent;
using System.Threading.Channels;
using Teleport.MachineId.Testing.Cluster;

namespace Teleport.MachineId.Testing.Server;

/// <summary>Fans CA changes (rotation phases) out to <c>WatchEvents</c> streams.</summary>
internal sealed class CaEventBroadcaster
{
    private readonly ConcurrentDictionary<Channel<CaSnapshot>, byte> _subscribers = new();

    public Channel<CaSnapshot> Subscribe()
    {
        var channel = Channel.CreateUnbounded<CaSnapshot>(new UnboundedChannelOptions { SingleReader = true });
        _subscribers[channel] = 0;
        return channel;
    }

    public void Unsubscribe(Channel<CaSnapshot> channel)
    {
        _subscribers.TryRemove(channel, out _);
        channel.Writer.TryComplete();
    }

    public void Publish(CaSnapshot snapshot)
    {
        foreach (var channel in _subscribers.Keys)
        {
            channel.Writer.TryWrite(snapshot);
        }
    }
}
