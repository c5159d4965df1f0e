using System.Net;
using System.Security.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Testing.Network;
using Teleport.MachineId.Testing.Server.Services;

namespace Teleport.MachineId.Testing.Server;

/// <summary>
/// One Kestrel host with four listeners: Auth (TLS, HTTP/2, optional client certificates), the
/// proxy web endpoint (TLS, HTTP/1.1 + HTTP/2) and two in-process HTTP/2 endpoints the router
/// hands terminated <c>teleport-proxy-grpc</c> and <c>teleport-proxy-ssh-grpc</c> connections to
/// (<see cref="InProcessTransport"/>).
/// </summary>
internal sealed class EmulatorWebHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ListenOptions _auth;
    private readonly ListenOptions _web;
    private readonly ListenOptions _issuer;
    private readonly ListenOptions _runner;

    private EmulatorWebHost(WebApplication app, ListenOptions auth, ListenOptions web, ListenOptions issuer, ListenOptions runner)
    {
        _app = app;
        _auth = auth;
        _web = web;
        _issuer = issuer;
        _runner = runner;
    }

    public int AuthPort => _auth.IPEndPoint!.Port;

    public int WebPort => _web.IPEndPoint!.Port;

    public int IssuerPort => _issuer.IPEndPoint!.Port;

    public int ActionsRunnerPort => _runner.IPEndPoint!.Port;

    public static async Task<EmulatorWebHost> StartAsync(EmulatorRuntime runtime, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Teleport.MachineId.Testing" });
        builder.Services.AddSingleton(runtime.LoggerFactory);
        builder.Services.AddLogging();
        builder.Services.AddSingleton(runtime);
        builder.Services.AddRouting();
        builder.Services.AddGrpc(options =>
        {
            options.Interceptors.Add<EmulatorInterceptor>();
            options.EnableDetailedErrors = false;
            options.MaxReceiveMessageSize = 16 * 1024 * 1024;
        });
        builder.WebHost.UseKestrelCore();

        // Kestrel picks, per endpoint, the transport that can bind it: sockets for IP endpoints,
        // this one for the router's in-process endpoints.
        builder.Services.AddSingleton<IConnectionListenerFactory>(runtime.Transport);

        ListenOptions? auth = null, web = null, issuer = null, runner = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // A relay frame (up to 64 KiB) must not have to drain before the next one is produced:
            // above this much unsent response data a write waits (bounded buffering per stream).
            kestrel.Limits.MaxResponseBufferSize = 1024 * 1024;

            // Clients that bring their own TLS stream (ConnectCallback over teleport-auth@…) send
            // :scheme http on a TLS connection; grpc-go servers do not check it, so neither do we.
            kestrel.AllowAlternateSchemes = true;
            kestrel.Listen(new IPEndPoint(runtime.Settings.ListenAddress, runtime.Settings.AuthPort), listen =>
            {
                auth = listen;
                listen.Protocols = HttpProtocols.Http2;
                listen.Use(next => async connection =>
                {
                    // Auth offline: refuse new connections (the socket is accepted, then closed at once).
                    if (!runtime.Faults.AuthOnline)
                    {
                        connection.Abort();
                        return;
                    }

                    runtime.AuthConnections.Add(connection);
                    try
                    {
                        await next(connection).ConfigureAwait(false);
                    }
                    finally
                    {
                        runtime.AuthConnections.Remove(connection);
                    }
                });
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificateSelector = (_, _) => runtime.Certificates.Auth,
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    // Go's VerifyClientCertIfGiven: a presented certificate must chain to the user or
                    // host CA and be valid now, or the handshake fails.
                    ClientCertificateValidation = (certificate, _, _) => runtime.Verifier.Verify(certificate) is not null,
                    CheckCertificateRevocation = false,
                    SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                });
            });
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                web = listen;
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = runtime.Certificates.Web,
                    CheckCertificateRevocation = false,
                    SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                });
            });
            // The test OIDC issuer (a GHES / self-hosted GitLab stand-in) and the Actions runner's
            // token endpoint: separate loopback listeners, as they are separate services.
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                issuer = listen;
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = runtime.Certificates.Web,
                    CheckCertificateRevocation = false,
                    SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                });
            });
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                runner = listen;
                listen.Protocols = HttpProtocols.Http1;
            });
            kestrel.Listen(runtime.ProxyGrpcEndPoint, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(runtime.SshGrpcEndPoint, listen => listen.Protocols = HttpProtocols.Http2);
        });

        var app = builder.Build();
        app.UseWebSockets();
        app.UseRouting();
        WebApi.Map(app, runtime);
        ConnectionUpgradeEndpoint.Map(app, runtime);
        IssuerApi.Map(app, runtime);
        app.MapGrpcService<AuthServiceImpl>();
        app.MapGrpcService<LegacyJoinServiceImpl>();
        app.MapGrpcService<UnifiedJoinServiceImpl>();
        app.MapGrpcService<TrustServiceImpl>();
        app.MapGrpcService<ClusterConfigServiceImpl>();
        app.MapGrpcService<BotInstanceServiceImpl>();
        app.MapGrpcService<TransportServiceImpl>();
        app.MapFallback(context => WebApi.WriteErrorAsync(context, Cluster.TraceException.NotFound("not found")));

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new EmulatorWebHost(app, auth!, web!, issuer!, runner!);
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                await _app.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
