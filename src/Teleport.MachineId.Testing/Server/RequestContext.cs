using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Network;

namespace Teleport.MachineId.Testing.Server;

/// <summary>Per-call facts the interceptor works out once: endpoint and authenticated caller.</summary>
internal static class RequestContext
{
    private const string CallerKey = "teleport.emulator.caller";
    private const string EndpointKey = "teleport.emulator.endpoint";

    public static EndpointKind Endpoint(HttpContext http, EmulatorRuntime runtime)
    {
        if (http.Items.TryGetValue(EndpointKey, out var cached) && cached is EndpointKind kind)
        {
            return kind;
        }

        // Connections the router terminated carry its facts as a connection feature.
        var proxied = http.Features.Get<ProxiedConnection>();
        kind = proxied is not null ? runtime.EndpointOf(proxied.EndPoint) : runtime.EndpointOf(http.Connection.LocalPort);
        http.Items[EndpointKey] = kind;
        return kind;
    }

    /// <summary>The verified caller identity, or null for an unauthenticated caller.</summary>
    public static CallerIdentity? Caller(HttpContext http, EmulatorRuntime runtime)
    {
        if (http.Items.TryGetValue(CallerKey, out var cached))
        {
            return cached as CallerIdentity;
        }

        var certificate = Endpoint(http, runtime) switch
        {
            EndpointKind.Auth => http.Connection.ClientCertificate,
            EndpointKind.SshGrpc => http.Features.Get<ProxiedConnection>()?.ClientCertificate,
            _ => null,
        };
        var caller = runtime.Verifier.Verify(certificate);
        http.Items[CallerKey] = caller;
        return caller;
    }

    public static CallerIdentity? Caller(ServerCallContext context, EmulatorRuntime runtime) => Caller(context.GetHttpContext(), runtime);

    /// <summary>The authenticated, unlocked caller; otherwise AccessDenied as Teleport answers a Nop identity.</summary>
    /// <exception cref="TraceException">No valid identity, or a lock is in force.</exception>
    public static CallerIdentity RequireCaller(ServerCallContext context, EmulatorRuntime runtime)
    {
        var caller = Caller(context, runtime)
            ?? throw TraceException.AccessDenied("access denied: this call requires a valid client certificate");
        runtime.Auth.EnsureNotLocked(caller);
        return caller;
    }

    public static string RemoteAddress(ServerCallContext context) =>
        context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? string.Empty;
}
