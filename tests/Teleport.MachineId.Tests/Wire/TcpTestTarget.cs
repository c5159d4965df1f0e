using System.Net;
using System.Net.Sockets;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>What a <see cref="TcpTestTarget"/> does with each connection.</summary>
internal enum TcpTargetBehavior
{
    /// <summary>Sends back everything it receives; closes after the client's end of stream.</summary>
    Echo,

    /// <summary>Writes bytes as fast as the connection takes them, never reads.</summary>
    Source,

    /// <summary>Accepts the connection and reads nothing until <see cref="TcpTestTarget.StartDraining"/>, then reads to the end.</summary>
    Sink,
}

/// <summary>A plain TCP service on a real loopback socket, registered in the emulator as a ProxySSH target.</summary>
internal sealed class TcpTestTarget : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly TcpTargetBehavior _behavior;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly TaskCompletionSource _drain = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _bytesSent;
    private long _bytesReceived;

    public TcpTestTarget(TcpTargetBehavior behavior)
    {
        _behavior = behavior;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    public int Connections { get; private set; }

    /// <summary>Completes when a connection ended (the peer closed or reset it).</summary>
    public TaskCompletionSource ConnectionClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets a sink start reading (and so notice the end of the connection).</summary>
    public void StartDraining() => _drain.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        await AcceptLoop.StopAsync(_stop, _listener, _loop);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            Connections++;
            _ = HandleAsync(socket);
        }
    }

    private async Task HandleAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                switch (_behavior)
                {
                    case TcpTargetBehavior.Echo:
                        await EchoAsync(socket);
                        break;
                    case TcpTargetBehavior.Source:
                        await SourceAsync(socket);
                        break;
                    default:
                        await _drain.Task.WaitAsync(_stop.Token);
                        var buffer = new byte[64 * 1024];
                        int read;
                        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                        {
                            Interlocked.Add(ref _bytesReceived, read);
                        }

                        break;
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                ConnectionClosed.TrySetResult();
            }
        }
    }

    private async Task EchoAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            Interlocked.Add(ref _bytesReceived, read);
            var sent = 0;
            while (sent < read)
            {
                sent += await socket.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, _stop.Token);
            }

            Interlocked.Add(ref _bytesSent, read);
        }
    }

    private async Task SourceAsync(Socket socket)
    {
        var buffer = new byte[16 * 1024];
        Random.Shared.NextBytes(buffer);
        while (true)
        {
            var sent = await socket.SendAsync(buffer, SocketFlags.None, _stop.Token);
            Interlocked.Add(ref _bytesSent, sent);
        }
    }
}
