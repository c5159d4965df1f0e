using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;
using Teleport.MachineId.Testing.Cluster;

namespace Teleport.MachineId.Testing.Server;

/// <summary>
/// Runs before every gRPC call: serves each service only on its endpoints (Unimplemented elsewhere,
/// like an unknown service), applies injected latency and failures, refuses proxy calls that need
/// Auth while it is offline, validates the <c>version</c> metadata as Teleport's Auth middleware
/// does, and maps <see cref="TraceException"/> to gRPC statuses.
/// </summary>
internal sealed class EmulatorInterceptor(EmulatorRuntime runtime) : Interceptor
{
    private const string UnifiedJoinService = "teleport.join.v1.JoinService";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        await BeforeAsync(context).ConfigureAwait(false);
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (TraceException ex)
        {
            throw ex.ToRpcException();
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await BeforeAsync(context).ConfigureAwait(false);
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (TraceException ex)
        {
            throw ex.ToRpcException();
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await BeforeAsync(context).ConfigureAwait(false);
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (TraceException ex)
        {
            throw ex.ToRpcException();
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await BeforeAsync(context).ConfigureAwait(false);
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }
        catch (TraceException ex)
        {
            throw ex.ToRpcException();
        }
    }

    internal static bool Serves(EndpointKind endpoint, string service, bool unifiedJoin) => endpoint switch
    {
        EndpointKind.Auth => service is "proto.AuthService" or "proto.JoinService" or "teleport.trust.v1.TrustService"
            or "teleport.clusterconfig.v1.ClusterConfigService" or "teleport.machineid.v1.BotInstanceService"
            || (service == UnifiedJoinService && unifiedJoin),
        EndpointKind.ProxyGrpc => service == "proto.JoinService" || (service == UnifiedJoinService && unifiedJoin),
        EndpointKind.SshGrpc => service == "teleport.transport.v1.TransportService",
        _ => false,
    };

    private async Task BeforeAsync(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var endpoint = RequestContext.Endpoint(http, runtime);
        var method = context.Method;
        var service = method.Split('/', StringSplitOptions.RemoveEmptyEntries) is [var name, ..] ? name : string.Empty;
        if (!Serves(endpoint, service, runtime.UnifiedJoinEnabled))
        {
            throw new RpcException(new Status(StatusCode.Unimplemented, $"unknown service {service}"));
        }

        var latency = runtime.Faults.Latency;
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, context.CancellationToken).ConfigureAwait(false);
        }

        if (runtime.Faults.TryTakeFailure(method, out var status, out var message))
        {
            throw new RpcException(new Status(status, message));
        }

        if (endpoint == EndpointKind.ProxyGrpc && !runtime.Faults.AuthOnline)
        {
            throw TraceException.ConnectionProblem("failed to connect to the auth service: connection refused").ToRpcException();
        }

        ValidateClientVersion(http, endpoint);
    }

    private void ValidateClientVersion(HttpContext http, EndpointKind endpoint)
    {
        var header = http.Request.Headers["version"];
        if (header.Count == 0)
        {
            return;
        }

        if (SemanticVersion.TryParse(header[0], out var version) && version.CompareTo(runtime.Settings.MinClientVersion) >= 0)
        {
            return;
        }

        // Teleport closes the connection of an unsupported client after answering AccessDenied.
        if (endpoint == EndpointKind.Auth)
        {
            var connectionId = http.Connection.Id;
            http.Response.OnCompleted(async () =>
            {
                await Task.Delay(100).ConfigureAwait(false);
                runtime.AuthConnections.Abort(connectionId);
            });
        }

        throw TraceException.AccessDenied("client version is unsupported").ToRpcException();
    }
}
