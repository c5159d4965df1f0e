using System.Net;
using System.Net.Sockets;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>
/// Bridges an SSH client that can only dial TCP (such as SSH.NET) to a node stream opened through the
/// proxy (<see cref="TeleportNodeDialer.OpenLoopbackForwarderAsync"/>) or through an ssh-multiplexer
/// (<see cref="SshMultiplexer.SshMultiplexerClient.ConnectAsync"/>): a listener on 127.0.0.1 and a
/// free port accepts exactly one connection, then bytes are copied both ways until either side ends
/// (an end of input is passed on as a half-close). Disposing closes both sides.
/// </summary>
public sealed class LoopbackForwarder : IAsyncDisposable, IDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly Socket _listener;
    private readonly Stream _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;
    private int _disposed;

    private LoopbackForwarder(Stream target)
    {
        _target = target;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _run = Task.Run(RunAsync);
    }

    /// <summary>The loopback port to connect to.</summary>
    public int Port { get; }

    /// <summary>The loopback address and port to connect to.</summary>
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>Starts forwarding to <paramref name="target"/>, which the forwarder then owns.</summary>
    /// <param name="target">The stream to the node.</param>
    /// <returns>The forwarder; connect to <see cref="Port"/> once.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="target"/> is <see langword="null"/>.</exception>
    public static LoopbackForwarder Start(Stream target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return new LoopbackForwarder(target);
    }

    /// <summary>Stops listening and closes both sides.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Stops listening and closes both sides.</summary>
    /// <returns>A task that completes when the copying has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _run.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }

        await _target.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        Socket client;
        try
        {
            client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
        }
        finally
        {
            // One connection only: nobody else may attach to this stream.
            _listener.Dispose();
        }

        client.NoDelay = true;
        var local = new NetworkStream(client, ownsSocket: false);
        using (client)
        await using (local.ConfigureAwait(false))
        {
            var up = PumpAsync(local, _target, shutdownTarget: true);
            var down = PumpAsync(_target, local, shutdownTarget: false);
            var first = await Task.WhenAny(up, down).ConfigureAwait(false);
            if (first == down)
            {
                // The node closed: tell the client, stop reading from it.
                SafeShutdown(client, SocketShutdown.Send);
                await _stop.CancelAsync().ConfigureAwait(false);
            }

            try
            {
                await Task.WhenAll(up, down).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
            }

            await _target.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task PumpAsync(Stream from, Stream to, bool shutdownTarget)
    {
        try
        {
            if (from is Wire.Streams.ProxySshStream frames)
            {
                // Received frames go from their pooled buffers straight to the socket.
                ReadOnlyMemory<byte> frame;
                while (!(frame = await frames.ReadFrameAsync(_stop.Token).ConfigureAwait(false)).IsEmpty)
                {
                    await to.WriteAsync(frame, _stop.Token).ConfigureAwait(false);
                }
            }
            else
            {
                var buffer = new byte[BufferSize];
                int read;
                while ((read = await from.ReadAsync(buffer, _stop.Token).ConfigureAwait(false)) > 0)
                {
                    await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token).ConfigureAwait(false);
                }
            }

            if (shutdownTarget && to is Wire.Streams.ProxySshStream proxy)
            {
                await proxy.ShutdownWriteAsync(_stop.Token).ConfigureAwait(false);
            }
            else if (shutdownTarget && to is NetworkStream network)
            {
                SafeShutdown(network.Socket, SocketShutdown.Send);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
    }

    private static void SafeShutdown(Socket socket, SocketShutdown how)
    {
        try
        {
            socket.Shutdown(how);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
