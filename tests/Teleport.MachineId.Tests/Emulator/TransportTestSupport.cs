using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Wire.Proto.Transport.V1;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>
/// A local TCP port whose connections are carried by <c>ProxySSH</c> streams to one target, so real
/// <c>ssh</c> can reach a node through the emulated proxy (the job tbot's ssh-proxy-command does).
/// </summary>
internal sealed class ProxySshBridge : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly GrpcChannel _channel;
    private readonly string _hostPort;
    private readonly string _cluster;
    private readonly Task _loop;

    public ProxySshBridge(GrpcChannel channel, string hostPort, string cluster)
    {
        _channel = channel;
        _hostPort = hostPort;
        _cluster = cluster;
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        await AcceptLoop.StopAsync(_stop, _listener, _loop);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        {
            using var call = new TransportService.TransportServiceClient(_channel).ProxySSH(EmulatorClient.Options(cancellationToken: _stop.Token));
            await call.RequestStream.WriteAsync(new ProxySSHRequest { DialTarget = new TargetHost { HostPort = _hostPort, Cluster = _cluster } });
            if (!await call.ResponseStream.MoveNext(_stop.Token))
            {
                return;
            }

            var stream = client.GetStream();
            var up = Task.Run(async () =>
            {
                var buffer = new byte[16 * 1024];
                int read;
                while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    await call.RequestStream.WriteAsync(new ProxySSHRequest { Ssh = new Frame { Payload = ByteString.CopyFrom(buffer, 0, read) } });
                }

                await call.RequestStream.CompleteAsync();
            });
            try
            {
                while (await call.ResponseStream.MoveNext(_stop.Token))
                {
                    var payload = call.ResponseStream.Current.Ssh?.Payload;
                    if (payload is { IsEmpty: false })
                    {
                        await stream.WriteAsync(payload.Memory, _stop.Token);
                    }
                }
            }
            catch (Exception ex) when (ex is RpcException or IOException or OperationCanceledException)
            {
            }

            client.Client.Shutdown(SocketShutdown.Send);
            try
            {
                await up;
            }
            catch (Exception ex) when (ex is RpcException or IOException or OperationCanceledException or InvalidOperationException)
            {
            }
        }
    }
}

/// <summary>A <see cref="Stream"/> over a <c>ProxyCluster</c> call: writes become request frames, response frames are read.</summary>
internal sealed class ProxyClusterStream(AsyncDuplexStreamingCall<ProxyClusterRequest, ProxyClusterResponse> call, string cluster) : Stream
{
    private ReadOnlyMemory<byte> _pending;
    private bool _first = true;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_pending.IsEmpty)
        {
            if (!await call.ResponseStream.MoveNext(cancellationToken))
            {
                return 0;
            }

            _pending = call.ResponseStream.Current.Frame?.Payload.Memory ?? ReadOnlyMemory<byte>.Empty;
        }

        var n = Math.Min(buffer.Length, _pending.Length);
        _pending[..n].CopyTo(buffer);
        _pending = _pending[n..];
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var request = new ProxyClusterRequest { Frame = new Frame { Payload = ByteString.CopyFrom(buffer.Span) } };
        if (_first)
        {
            request.Cluster = cluster;
            _first = false;
        }

        await call.RequestStream.WriteAsync(request, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            call.Dispose();
        }

        base.Dispose(disposing);
    }
}
