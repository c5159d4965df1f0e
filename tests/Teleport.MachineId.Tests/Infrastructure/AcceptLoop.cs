using System.Net.Sockets;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>Ends the accept loop of a loopback test server.</summary>
internal static class AcceptLoop
{
    /// <summary>
    /// Cancels <paramref name="stop"/>, stops <paramref name="listener"/>, waits for <paramref name="loop"/> and
    /// disposes <paramref name="stop"/>. The errors a loop ends with when its listener goes away are expected.
    /// </summary>
    public static async Task StopAsync(CancellationTokenSource stop, TcpListener listener, Task loop)
    {
        await stop.CancelAsync();
        listener.Stop();
        try
        {
            await loop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // InvalidOperationException: a loop that went back to AcceptSocketAsync after Stop().
        }

        stop.Dispose();
    }
}
