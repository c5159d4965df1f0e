namespace Teleport.MachineId.Testing.Network;

/// <summary>Copies bytes both ways between two streams until either side ends, then closes both.</summary>
internal static class StreamRelay
{
    public static async Task RunAsync(Stream left, Stream right, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var a = CopyAsync(left, right, stop.Token);
        var b = CopyAsync(right, left, stop.Token);
        await Task.WhenAny(a, b).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await left.DisposeAsync().ConfigureAwait(false);
        await right.DisposeAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(a, b).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            // One side closed or broke: the other is closed too, which is the point.
        }
    }

    private static async Task CopyAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            while (true)
            {
                var read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
        }
    }
}
