using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire.Connections;
using Teleport.MachineId.Wire.Proto.Legacy.Client;

namespace Teleport.MachineId.Wire.Calls;

/// <summary>One unary gRPC call with the client's call timeout and Teleport's error mapping.</summary>
internal static class UnaryCall
{
    /// <summary>Runs one unary call on <paramref name="endpoint"/>.</summary>
    /// <param name="endpoint">Where to call.</param>
    /// <param name="operation">What is called, for messages.</param>
    /// <param name="start">Starts the call.</param>
    /// <param name="options">The client options (call timeout, clock).</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The answer.</returns>
    /// <exception cref="TeleportException">The call failed, mapped by <see cref="WireErrors"/>.</exception>
    /// <exception cref="OperationCanceledException">The caller cancelled, or the channel was disposed.</exception>
    public static async Task<TResponse> RunAsync<TResponse>(
        GrpcEndpoint endpoint, string operation, Func<CallInvoker, CallOptions, AsyncUnaryCall<TResponse>> start,
        WireClientOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.CallTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var call = start(endpoint.Invoker, new CallOptions(cancellationToken: linked.Token));
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            WireLog.CallFailed(logger, operation, endpoint.Description, ex.StatusCode);
            throw WireErrors.FromRpc(ex, operation, endpoint.Description);
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TeleportConnectionException(
                $"{operation} on {endpoint.Description} did not answer within {options.CallTimeout.TotalSeconds:0.#} s; the call can be retried.", ex);
        }
    }

    /// <summary><c>proto.AuthService/Ping</c> on <paramref name="auth"/>.</summary>
    /// <exception cref="TeleportException">The call failed.</exception>
    public static async Task<AuthPing> PingAsync(GrpcEndpoint auth, WireClientOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var ping = await RunAsync(auth, "Ping",
            (invoker, callOptions) => new AuthService.AuthServiceClient(invoker).PingAsync(new PingRequest(), callOptions), options, logger, cancellationToken)
            .ConfigureAwait(false);
        return ProtoModels.ToPing(ping);
    }
}
