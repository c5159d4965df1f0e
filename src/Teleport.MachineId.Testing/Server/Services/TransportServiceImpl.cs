using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Proto.Transport.V1;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// <c>teleport.transport.v1.TransportService</c> on the proxy's SSH-gRPC endpoint (teleport-protocol.md §8b):
/// ProxySSH dials a registered node or TCP target (subject to <c>node_labels</c>) and relays bytes
/// both ways with backpressure; ProxyCluster relays raw bytes to Auth (the path to Auth without TLS
/// routing); GetClusterDetails answers a cheap ping. Callers need a valid, unexpired, unlocked identity.
/// </summary>
internal sealed partial class TransportServiceImpl(EmulatorRuntime runtime, ILogger<TransportServiceImpl> logger) : TransportService.TransportServiceBase
{
    // Largest payload read from the target per response frame: a read takes what is already there
    // (several SSH packets when the target is ahead), so bulk transfers need fewer frames.
    private const int FrameSize = 64 * 1024;

    public override Task<GetClusterDetailsResponse> GetClusterDetails(GetClusterDetailsRequest request, ServerCallContext context)
    {
        RequestContext.RequireCaller(context, runtime);
        return Task.FromResult(new GetClusterDetailsResponse { Details = new ClusterDetails { FipsEnabled = false } });
    }

    public override async Task ProxySSH(IAsyncStreamReader<ProxySSHRequest> requestStream, IServerStreamWriter<ProxySSHResponse> responseStream, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, runtime.Stopping);
        if (!await requestStream.MoveNext(stop.Token).ConfigureAwait(false))
        {
            return;
        }

        var first = requestStream.Current;
        var target = first.DialTarget ?? throw TraceException.BadParameter("the first ProxySSH request must carry dial_target");
        if (!string.IsNullOrEmpty(target.Cluster) && target.Cluster != runtime.Settings.ClusterName)
        {
            throw TraceException.NotFound($"cluster \"{target.Cluster}\" is not found");
        }

        var host = HostOf(target.HostPort);
        var suffix = "." + runtime.Settings.ClusterName;
        if (host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
        {
            host = host[..^suffix.Length];
        }

        var resolved = runtime.State.ResolveTarget(host, target.HostPort)
            ?? throw TraceException.NotFound($"target host \"{host}\" is not found in cluster \"{runtime.Settings.ClusterName}\"");
        var roles = runtime.State.ResolveRoles(caller.Roles.Where(r => runtime.State.GetRole(r) is not null));
        if (!RoleEvaluation.MatchesNode(roles, resolved.Labels))
        {
            throw TraceException.AccessDenied($"access denied to {caller.Username} connecting to {resolved.Name}");
        }

        using var socket = await DialAsync(resolved.Address, stop.Token).ConfigureAwait(false);
        Log.Dialed(logger, caller.Username, resolved.Name, resolved.Address);

        // The first response carries only the cluster details; SSH bytes follow.
        await responseStream.WriteAsync(new ProxySSHResponse { Details = new ClusterDetails { FipsEnabled = false } }, stop.Token).ConfigureAwait(false);
        if (first.Ssh is { } initial && !initial.Payload.IsEmpty)
        {
            await socket.SendAsync(initial.Payload.Memory, SocketFlags.None, stop.Token).ConfigureAwait(false);
        }

        await RelayAsync(
            socket,
            async cancellationToken =>
            {
                while (await requestStream.MoveNext(cancellationToken).ConfigureAwait(false))
                {
                    if (requestStream.Current.Ssh is { } frame && !frame.Payload.IsEmpty)
                    {
                        return frame.Payload;
                    }
                }

                return null;
            },
            ResponseWriter(responseStream, new ProxySSHResponse { Ssh = new Frame() }, static (response, payload) => response.Ssh.Payload = payload),
            stop.Token).ConfigureAwait(false);
    }

    public override async Task ProxyCluster(IAsyncStreamReader<ProxyClusterRequest> requestStream, IServerStreamWriter<ProxyClusterResponse> responseStream, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, runtime.Stopping);
        if (!await requestStream.MoveNext(stop.Token).ConfigureAwait(false))
        {
            return;
        }

        var first = requestStream.Current;
        if (!string.IsNullOrEmpty(first.Cluster) && first.Cluster != runtime.Settings.ClusterName)
        {
            throw TraceException.NotFound($"cluster \"{first.Cluster}\" is not found");
        }

        if (!runtime.Faults.AuthOnline)
        {
            throw TraceException.ConnectionProblem("failed to connect to the auth service: connection refused");
        }

        using var socket = await DialAsync("127.0.0.1:" + runtime.AuthPort.ToString(CultureInfo.InvariantCulture), stop.Token).ConfigureAwait(false);
        Log.Dialed(logger, caller.Username, "auth", "@auth");
        if (first.Frame is { } initial && !initial.Payload.IsEmpty)
        {
            await socket.SendAsync(initial.Payload.Memory, SocketFlags.None, stop.Token).ConfigureAwait(false);
        }

        await RelayAsync(
            socket,
            async cancellationToken =>
            {
                while (await requestStream.MoveNext(cancellationToken).ConfigureAwait(false))
                {
                    if (requestStream.Current.Frame is { } frame && !frame.Payload.IsEmpty)
                    {
                        return frame.Payload;
                    }
                }

                return null;
            },
            ResponseWriter(responseStream, new ProxyClusterResponse { Frame = new Frame() }, static (response, payload) => response.Frame.Payload = payload),
            stop.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Relays until the target closes: request frames are written to the socket one at a time and
    /// socket reads become response frames one at a time, so a slow side slows the other (HTTP/2 and
    /// TCP flow control), nothing is buffered without bound.
    /// </summary>
    private static async Task RelayAsync(Socket socket, Func<CancellationToken, Task<ByteString?>> readFrame,
        Func<ByteString, CancellationToken, Task> writeFrame, CancellationToken cancellationToken)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var upstream = Task.Run(async () =>
        {
            try
            {
                while (await readFrame(done.Token).ConfigureAwait(false) is { } payload)
                {
                    await socket.SendAsync(payload.Memory, SocketFlags.None, done.Token).ConfigureAwait(false);
                }

                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or RpcException)
            {
            }
        }, CancellationToken.None);

        var buffer = new byte[FrameSize];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, done.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                // No copy: the frame is serialized before the write completes, and the buffer is
                // reused only after that.
                await writeFrame(UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)), done.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // The target broke the connection: end the stream.
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
            await upstream.ConfigureAwait(false);
        }
    }

    /// <summary>Writes each payload in one reused response message (one frame is written at a time).</summary>
    private static Func<ByteString, CancellationToken, Task> ResponseWriter<TResponse>(
        IServerStreamWriter<TResponse> responseStream, TResponse response, Action<TResponse, ByteString> setPayload) =>
        (payload, cancellationToken) =>
        {
            setPayload(response, payload);
            return responseStream.WriteAsync(response, cancellationToken);
        };

    private static async Task<Socket> DialAsync(string address, CancellationToken cancellationToken)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw TraceException.BadParameter($"invalid target address {address}");
        }

        var host = address[..colon].Trim('[', ']');
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (IPAddress.TryParse(host, out var ip))
            {
                await socket.ConnectAsync(new IPEndPoint(ip, port), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            }

            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw TraceException.ConnectionProblem($"failed to dial {address}: {ex.SocketErrorCode}");
        }
    }

    private static string HostOf(string hostPort)
    {
        if (hostPort.StartsWith('['))
        {
            var end = hostPort.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? hostPort[1..end] : hostPort;
        }

        var colon = hostPort.LastIndexOf(':');
        return colon > 0 && hostPort.IndexOf(':', StringComparison.Ordinal) == colon ? hostPort[..colon] : hostPort;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9300, EventName = "EmulatorProxyDial", Level = LogLevel.Debug,
            Message = "{User} dialed {Target} ({Address}) through the proxy")]
        public static partial void Dialed(ILogger logger, string user, string target, string address);
    }
}
