using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// A real Kestrel HTTPS/HTTP2 gRPC server on 127.0.0.1 for scripted peers: a test authority's server
/// certificate, the gRPC services a test maps, and a state object those services receive by injection.
/// </summary>
internal static class ScriptedGrpcHost
{
    /// <summary>Starts the server with <paramref name="state"/> as a singleton and the services <paramref name="map"/> maps.</summary>
    public static async Task<(WebApplication App, HostPort Address)> StartAsync<TState>(TState state, Action<WebApplication> map)
        where TState : class
    {
        using var authority = new TestAuthority("scripted.test");
        var certificate = authority.IssueServer();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(state);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // The SDK's gRPC channels run over streams it opens itself and name the http scheme.
            kestrel.AllowAlternateSchemes = true;
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(certificate);
            });
        });
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return (app, new HostPort("127.0.0.1", new Uri(address).Port));
    }

    /// <summary>Stops and disposes a server <see cref="StartAsync"/> started.</summary>
    public static async ValueTask StopAsync(WebApplication? app)
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
