using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Testing.Proto.Legacy.Client;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>What one call looked like on the server side.</summary>
internal sealed record RecordedCall(string ConnectionId, string? ServerName, string Alpn, string? ClientCertificateSubject, string? Version, string? UserAgent, string Authority);

/// <summary>
/// A real Kestrel HTTPS/HTTP2 gRPC server that answers <c>proto.AuthService/Ping</c> and records how
/// each call arrived (TLS SNI, ALPN, client certificate, metadata, connection), to check the
/// client's wire behaviour from the other side.
/// </summary>
internal sealed class RecordingAuthServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RecordingAuthServer(WebApplication app)
    {
        _app = app;
    }

    public ConcurrentQueue<RecordedCall> Calls { get; } = new();

    public HostPort Address { get; private set; }

    /// <summary>The SNI of the last TLS handshake.</summary>
    public string? LastServerName { get; private set; }

    public static async Task<RecordingAuthServer> StartAsync(X509Certificate2 serverCertificate)
    {
        RecordingAuthServer? created = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddGrpc();
        builder.Services.AddRecordingHolder();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AllowAlternateSchemes = true;
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificateSelector = (_, name) =>
                    {
                        created!.LastServerName = name;
                        return serverCertificate;
                    },
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true,
                });
            });
        });
        var app = builder.Build();
        var server = created = new RecordingAuthServer(app);
        app.Services.GetRequiredService<Holder>().Server = server;
        app.MapGrpcService<RecordingAuthService>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.Address = new HostPort("127.0.0.1", new Uri(address).Port);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Lets the gRPC service reach the server object.</summary>
    internal sealed class Holder
    {
        public RecordingAuthServer? Server { get; set; }
    }

    private sealed class RecordingAuthService(Holder holder) : AuthService.AuthServiceBase
    {
        public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context)
        {
            var http = context.GetHttpContext();
            var alpn = http.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol.ToArray() ?? [];
            holder.Server!.Calls.Enqueue(new RecordedCall(
                http.Connection.Id,
                holder.Server!.LastServerName,
                System.Text.Encoding.ASCII.GetString(alpn),
                http.Connection.ClientCertificate?.Subject,
                context.RequestHeaders.GetValue("version"),
                context.RequestHeaders.GetValue("user-agent"),
                http.Request.Host.Value ?? string.Empty));
            return Task.FromResult(new PingResponse { ClusterName = "recorded", ServerVersion = "18.0.0" });
        }
    }
}

/// <summary>Registers the holder before the app is built.</summary>
internal static class RecordingAuthServerRegistration
{
    public static IServiceCollection AddRecordingHolder(this IServiceCollection services) => services.AddSingleton<RecordingAuthServer.Holder>();
}
