using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Network;

namespace Teleport.MachineId.Testing.Server;

/// <summary>
/// The proxy's <c>GET /webapi/connectionupgrade</c> (Teleport's <c>lib/web/conn_upgrade.go</c>): a client
/// behind an L7 load balancer turns its HTTP/1.1 connection into a tunnel whose bytes go to the
/// proxy's ALPN router, exactly as if they had arrived on the web port. The types are read from
/// <c>X-Teleport-Upgrade</c> and <c>Upgrade</c>; WebSocket is preferred (subprotocol <c>alpn</c> or
/// <c>alpn-ping</c>, binary frames; <c>alpn-ping</c> gets WebSocket pings), then the legacy raw
/// <c>alpn-ping</c> (ping-framed packets) and <c>alpn</c>; anything else is 404.
/// </summary>
internal static partial class ConnectionUpgradeEndpoint
{
    private const string UpgradePath = "/webapi/connectionupgrade";
    private const string TeleportHeader = "X-Teleport-Upgrade";
    private const string Alpn = "alpn";
    private const string AlpnPing = "alpn-ping";
    private const string WebSocketType = "websocket";

    public static void Map(WebApplication app, EmulatorRuntime runtime) =>
        app.MapGet(UpgradePath, context => HandleAsync(context, runtime));

    private static async Task HandleAsync(HttpContext context, EmulatorRuntime runtime)
    {
        var logger = runtime.LoggerFactory.CreateLogger("Teleport.MachineId.Testing.ConnectionUpgrade");
        var headers = context.Request.Headers;
        var upgrades = headers[TeleportHeader].Concat(headers.Upgrade)
            .SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        var remote = context.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, context.Connection.RemotePort) : null;
        if (upgrades.Contains(WebSocketType, StringComparer.Ordinal))
        {
            await WebSocketAsync(context, runtime, remote, logger).ConfigureAwait(false);
        }
        else if (upgrades.Contains(AlpnPing, StringComparer.Ordinal))
        {
            await LegacyAsync(context, runtime, AlpnPing, remote, logger).ConfigureAwait(false);
        }
        else if (upgrades.Contains(Alpn, StringComparer.Ordinal))
        {
            await LegacyAsync(context, runtime, Alpn, remote, logger).ConfigureAwait(false);
        }
        else
        {
            await WebApi.WriteErrorAsync(context, TraceException.NotFound($"unsupported upgrade types: [{string.Join(" ", upgrades)}]")).ConfigureAwait(false);
        }
    }

    private static async Task WebSocketAsync(HttpContext context, EmulatorRuntime runtime, EndPoint? remote, ILogger logger)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await WebApi.WriteErrorAsync(context, TraceException.BadParameter("not a WebSocket handshake")).ConfigureAwait(false);
            return;
        }

        // gorilla/websocket picks the client's first subprotocol the server supports.
        var protocol = context.WebSockets.WebSocketRequestedProtocols
            .FirstOrDefault(p => p is Alpn or AlpnPing);
        var ping = protocol == AlpnPing;
        var interval = runtime.Settings.ConnectionUpgradePingInterval;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = protocol,

            // alpn-ping: WebSocket pings at the proxy's interval (a timeout makes .NET send pings, not
            // unsolicited pongs). Unlike Teleport, a client that answers none for ten intervals is
            // dropped, so tests notice a client that does not answer pings.
            KeepAliveInterval = ping ? interval : Timeout.InfiniteTimeSpan,
            KeepAliveTimeout = ping ? interval * 10 : Timeout.InfiniteTimeSpan,
        }).ConfigureAwait(false);
        if (protocol is null)
        {
            // Teleport closes a WebSocket without a known subprotocol at once.
            var requested = string.Join(",", context.WebSockets.WebSocketRequestedProtocols);
            Log.UnknownSubprotocol(logger, requested);
            return;
        }

        Log.Upgraded(logger, "WebSocket", protocol, remote);
        var tunnel = WebSocketStream.Create(socket, WebSocketMessageType.Binary, closeTimeout: TimeSpan.FromSeconds(2));
        await runtime.WebRouter.RouteUpgradedAsync(tunnel, remote, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task LegacyAsync(HttpContext context, EmulatorRuntime runtime, string type, EndPoint? remote, ILogger logger)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true })
        {
            await WebApi.WriteErrorAsync(context, TraceException.BadParameter("failed to hijack connection")).ConfigureAwait(false);
            return;
        }

        context.Response.Headers.Upgrade = type;
        context.Response.Headers[TeleportHeader] = type;
        context.Response.Headers.Connection = "Upgrade";
        var opaque = await upgrade.UpgradeAsync().ConfigureAwait(false);
        Log.Upgraded(logger, "legacy", type, remote);
        if (type != AlpnPing)
        {
            await runtime.WebRouter.RouteUpgradedAsync(opaque, remote, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var framed = new PingFramedStream(opaque);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var pings = PingAsync(framed, runtime.Settings.ConnectionUpgradePingInterval, runtime.Clock, stop.Token);
        try
        {
            await runtime.WebRouter.RouteUpgradedAsync(framed, remote, context.RequestAborted).ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await pings.ConfigureAwait(false);
        }
    }

    private static async Task PingAsync(PingFramedStream stream, TimeSpan interval, TimeProvider clock, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(interval, clock);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await stream.WritePingAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The tunnel ended.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9210, EventName = "EmulatorConnectionUpgraded", Level = LogLevel.Debug,
            Message = "Connection from {Remote} upgraded ({Mode}, {Type}); handed to the ALPN router")]
        public static partial void Upgraded(ILogger logger, string mode, string type, EndPoint? remote);

        [LoggerMessage(EventId = 9211, EventName = "EmulatorConnectionUpgradeUnknownSubprotocol", Level = LogLevel.Debug,
            Message = "WebSocket upgrade without a known subprotocol (client asked for [{Protocols}]); closed")]
        public static partial void UnknownSubprotocol(ILogger logger, string protocols);
    }
}
