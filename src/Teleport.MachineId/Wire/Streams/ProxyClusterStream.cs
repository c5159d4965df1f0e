using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire.Proto.Transport.V1;

namespace Teleport.MachineId.Wire.Streams;

/// <summary>
/// A byte stream to a cluster's Auth Service through the proxy's SSH transport port:
/// <c>TransportService.ProxyCluster</c>. It carries an end-to-end TLS session with Auth; this is
/// how Auth is reached when the proxy has no TLS routing.
/// </summary>
internal sealed class ProxyClusterStream : GrpcFrameStream<ProxyClusterRequest, ProxyClusterResponse>
{
    private const string Operation = "TransportService.ProxyCluster";

    private readonly ProxyClusterRequest _request = new();
    private readonly Frame _frame = new();

    private ProxyClusterStream(AsyncDuplexStreamingCall<ProxyClusterRequest, ProxyClusterResponse> call, int frameSize, string endpoint, ILogger logger)
        : base(call, frameSize, Operation, endpoint, logger)
    {
        _request.Frame = _frame;
    }

    /// <summary>Opens the stream: the first request names only the cluster.</summary>
    /// <param name="invoker">The proxy's transport endpoint.</param>
    /// <param name="cluster">The cluster whose Auth to reach.</param>
    /// <param name="frameSize">Largest payload per frame sent.</param>
    /// <param name="endpoint">Where the call runs, for messages.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The open stream.</returns>
    /// <exception cref="TeleportException">The proxy refused the stream (mapped subtype).</exception>
    public static async Task<ProxyClusterStream> OpenAsync(
        CallInvoker invoker, string cluster, int frameSize, string endpoint, ILogger logger, CancellationToken cancellationToken)
    {
        var client = new TransportService.TransportServiceClient(invoker);
        // The stream outlives the opening token; disposing it ends the call.
        var call = client.ProxyCluster(cancellationToken: CancellationToken.None);
        try
        {
            await GrpcCallFailures.WriteAsync(call, new ProxyClusterRequest { Cluster = cluster }, cancellationToken).ConfigureAwait(false);
            return new ProxyClusterStream(call, frameSize, endpoint, logger);
        }
        catch (RpcException ex)
        {
            call.Dispose();
            throw WireErrors.FromRpc(ex, Operation, endpoint);
        }
        catch
        {
            call.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override ProxyClusterRequest CreateFrame(ByteString payload)
    {
        _frame.Payload = payload;
        return _request;
    }

    /// <inheritdoc />
    protected override bool TryGetPayload(ProxyClusterResponse response, out ReadOnlyMemory<byte> payload)
    {
        if (response.Frame is { } frame)
        {
            payload = frame.Payload.Memory;
            return true;
        }

        payload = default;
        return false;
    }
}
