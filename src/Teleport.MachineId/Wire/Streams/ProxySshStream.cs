using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire.Proto.Transport.V1;

namespace Teleport.MachineId.Wire.Streams;

/// <summary>
/// A byte stream to a node's SSH port through the proxy: <c>TransportService.ProxySSH</c>. Give it
/// to an SSH client (SSH.NET over a local socket pair, or stdin/stdout for <c>ssh-proxy-command</c>).
/// The SSH handshake runs end to end with the node; the proxy only relays.
/// </summary>
/// <remarks>See <see cref="GrpcFrameStream{TRequest, TResponse}"/> for buffering, cancellation and disposal.</remarks>
internal sealed class ProxySshStream : GrpcFrameStream<ProxySSHRequest, ProxySshResponseFrame>
{
    private const string Operation = "TransportService.ProxySSH";

    private readonly ProxySSHRequest _request = new();
    private readonly Frame _frame = new();

    private ProxySshStream(AsyncDuplexStreamingCall<ProxySSHRequest, ProxySshResponseFrame> call, bool fipsEnabled, int frameSize, string endpoint, ILogger logger)
        : base(call, frameSize, Operation, endpoint, logger)
    {
        FipsEnabled = fipsEnabled;
        _request.Ssh = _frame;
    }

    /// <summary>Whether the cluster runs in FIPS mode (from the first response's details).</summary>
    public bool FipsEnabled { get; }

    /// <summary>
    /// Opens the stream: sends only <c>dial_target</c>, then waits for the first response, which must
    /// carry only <c>details</c>.
    /// </summary>
    /// <param name="invoker">The proxy's transport endpoint.</param>
    /// <param name="hostPort">The target, <c>host:port</c> (node name, address or UUID).</param>
    /// <param name="cluster">The cluster the node is in.</param>
    /// <param name="frameSize">Largest payload per frame sent.</param>
    /// <param name="endpoint">Where the call runs, for messages.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels opening (not the stream once open).</param>
    /// <returns>The open stream.</returns>
    /// <exception cref="TeleportException">The proxy refused or could not reach the target (mapped subtype).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<ProxySshStream> OpenAsync(
        CallInvoker invoker, string hostPort, string cluster, int frameSize, string endpoint, ILogger logger, CancellationToken cancellationToken)
    {
        // The stream outlives the opening token; cancelling a read or write (or disposing) ends it.
        var call = invoker.AsyncDuplexStreamingCall(ProxySshWire.Method, host: null, new CallOptions(cancellationToken: CancellationToken.None));
        try
        {
            await GrpcCallFailures.WriteAsync(
                call, new ProxySSHRequest { DialTarget = new TargetHost { HostPort = hostPort, Cluster = cluster } }, cancellationToken).ConfigureAwait(false);
            if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                throw StatusFailure(call, hostPort, endpoint);
            }

            var first = call.ResponseStream.Current;
            if (!first.HasDetails || first.HasSshFrame)
            {
                first.Release();
                throw new TeleportProtocolException(
                    $"{Operation} to {hostPort} on {endpoint}: the first response must carry only the cluster details.");
            }

            var stream = new ProxySshStream(call, first.FipsEnabled, frameSize, endpoint, logger);
            WireLog.ProxySshOpened(logger, hostPort, cluster, endpoint, first.FipsEnabled);
            return stream;
        }
        catch (RpcException ex)
        {
            call.Dispose();
            throw WireErrors.FromRpc(ex, $"{Operation} to {hostPort}", endpoint);
        }
        catch
        {
            call.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override ProxySSHRequest CreateFrame(ByteString payload)
    {
        _frame.Payload = payload;
        return _request;
    }

    /// <inheritdoc />
    protected override bool TryGetPayload(ProxySshResponseFrame response, out ReadOnlyMemory<byte> payload)
    {
        // Agent frames are only sent to clients that offered an agent; this one does not.
        payload = response.Payload;
        return response.HasSshFrame;
    }

    /// <inheritdoc />
    protected override void ReleasePayload(ProxySshResponseFrame response) => response.Release();

    private static TeleportException StatusFailure(AsyncDuplexStreamingCall<ProxySSHRequest, ProxySshResponseFrame> call, string hostPort, string endpoint)
    {
        var status = call.GetStatus();
        return status.StatusCode == StatusCode.OK
            ? new TeleportProtocolException($"{Operation} to {hostPort} on {endpoint} ended before sending the cluster details.")
            : WireErrors.FromRpc(new RpcException(status), $"{Operation} to {hostPort}", endpoint);
    }
}
