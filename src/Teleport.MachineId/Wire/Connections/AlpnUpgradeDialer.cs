using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>
/// The client side of Teleport's ALPN connection upgrade (<c>api/client/alpn_conn_upgrade.go</c>,
/// <c>alpn_websocket.go</c>): an HTTPS request <c>GET /webapi/connectionupgrade</c> to the proxy's web
/// address — which an L7 load balancer forwards — that turns the connection into a tunnel; the
/// caller then runs the real TLS handshake (with its ALPN and SNI) inside it.
/// </summary>
/// <remarks>
/// <para>WebSocket (Teleport 15.1+, the only form a Teleport 18 client sends): <c>Upgrade:
/// websocket</c>, <c>Connection: Upgrade</c>, <c>Sec-WebSocket-Protocol: alpn</c> (or
/// <c>alpn-ping</c> for long-lived connections, whose server sends WebSocket pings),
/// <c>Sec-WebSocket-Version: 13</c> and a key; the <c>101</c> answer is checked (protocol, accept
/// key) and the bytes then travel in binary frames, framed by the BCL's <see cref="WebSocket"/> and
/// exposed as a <see cref="WebSocketStream"/> (pings answered, close = end of stream, frames streamed
/// into the reader's buffer).</para>
/// <para>Legacy (Teleport 17's <c>TELEPORT_TLS_ROUTING_CONN_UPGRADE_MODE=legacy</c>): <c>Upgrade</c>
/// and <c>X-Teleport-Upgrade</c> carry <c>alpn</c>/<c>alpn-ping</c>; after <c>101</c> the connection is
/// the tunnel, with <see cref="PingFramedStream"/> framing for <c>alpn-ping</c>. A <c>101</c> that is
/// not a WebSocket answer is treated as legacy, as Teleport's client does.</para>
/// <para>404 means the server (or the load balancer) does not know the path: a clear
/// <see cref="TeleportProtocolException"/>; other statuses are mapped like web API errors.</para>
/// </remarks>
internal sealed class AlpnUpgradeDialer : IDisposable
{
    private const int MaxErrorBodyBytes = 4096;
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);
    private const string WebSocketAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private readonly HostPort _proxy;
    private readonly ServerTrust _trust;
    private readonly WireClientOptions _options;
    private readonly ILogger _logger;
    private readonly HttpMessageInvoker _http;
    private readonly Uri _uri;

    /// <summary>Creates the dialer; nothing connects until <see cref="ConnectAsync"/>.</summary>
    /// <param name="proxy">The proxy's web address (a load balancer in front of it).</param>
    /// <param name="trust">How the web (load balancer) certificate is verified.</param>
    /// <param name="options">Client options.</param>
    /// <param name="logger">Logger.</param>
    public AlpnUpgradeDialer(HostPort proxy, ServerTrust trust, WireClientOptions options, ILogger logger)
    {
        _proxy = proxy;
        _trust = trust;
        _options = options;
        _logger = logger;
        Peer = $"proxy {proxy} (connection upgrade)";

        // The scheme is http because the connect callback does TLS (verified as configured); the
        // upgraded connection leaves the pool, so each upgrade gets its own connection.
        _uri = new Uri($"http://{proxy}{WireProtocol.ConnectionUpgradePath}");
        _http = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = ConnectTlsAsync,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        });
    }

    /// <summary>Who answers, for messages.</summary>
    public string Peer { get; }

    /// <summary>Opens an upgraded tunnel to the proxy.</summary>
    /// <param name="withPing">Ask for <c>alpn-ping</c> (long-lived connections: Auth, transport) rather than <c>alpn</c>.</param>
    /// <param name="cancellationToken">Cancels the upgrade.</param>
    /// <returns>A stream whose bytes reach the proxy's ALPN router.</returns>
    /// <exception cref="TeleportProtocolException">404 (server or load balancer does not serve the upgrade), or an invalid answer.</exception>
    /// <exception cref="TeleportConnectionException">The proxy could not be reached, or answered with a transient status.</exception>
    /// <exception cref="CertificateValidationException">The web (load balancer) certificate is not trusted.</exception>
    public async Task<Stream> ConnectAsync(bool withPing, CancellationToken cancellationToken)
    {
        var type = withPing ? WireProtocol.ConnectionUpgradeAlpnPing : WireProtocol.ConnectionUpgradeAlpn;
        var legacy = string.Equals(_options.GetEnvironmentVariable(WireProtocol.ConnectionUpgradeModeEnvironmentVariable), "legacy", StringComparison.OrdinalIgnoreCase);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        using var request = new HttpRequestMessage(HttpMethod.Get, _uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var headers = request.Headers;
        headers.TryAddWithoutValidation("User-Agent", WireProtocol.UserAgent);
        if (legacy)
        {
            headers.TryAddWithoutValidation("Upgrade", type);
            headers.TryAddWithoutValidation(WireProtocol.ConnectionUpgradeTeleportHeader, type);
        }
        else
        {
            headers.TryAddWithoutValidation("Upgrade", WireProtocol.ConnectionUpgradeWebSocket);
            headers.TryAddWithoutValidation("Sec-WebSocket-Protocol", type);
            headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
            headers.TryAddWithoutValidation("Sec-WebSocket-Key", key);
        }

        // RFC 7230: Upgrade needs "Connection: Upgrade"; some load balancers (ngrok, Tailscale) insist.
        headers.TryAddWithoutValidation("Connection", "Upgrade");

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw WireErrors.FromTransport(ex, $"GET {WireProtocol.ConnectionUpgradePath}", Peer);
        }

        var keep = false;
        try
        {
            if (response.StatusCode != HttpStatusCode.SwitchingProtocols)
            {
                throw await UpgradeRefusedAsync(response, type, cancellationToken).ConfigureAwait(false);
            }

            var tunnel = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            Stream result;
            if (response.Headers.Upgrade.Any(p => string.Equals(p.Name, WireProtocol.ConnectionUpgradeWebSocket, StringComparison.OrdinalIgnoreCase)))
            {
                CheckWebSocketAnswer(response, type, key);
                var socket = WebSocket.CreateFromStream(tunnel, new WebSocketCreationOptions
                {
                    IsServer = false,
                    SubProtocol = type,

                    // The server keeps alpn-ping tunnels alive; the client only answers its pings.
                    KeepAliveInterval = Timeout.InfiniteTimeSpan,
                });
                result = WebSocketStream.Create(socket, WebSocketMessageType.Binary, closeTimeout: CloseTimeout);
                WireLog.ConnectionUpgraded(_logger, _proxy, "WebSocket", type);
            }
            else
            {
                result = withPing ? new PingFramedStream(tunnel) : tunnel;
                WireLog.ConnectionUpgraded(_logger, _proxy, "legacy", type);
            }

            keep = true;
            return result;
        }
        finally
        {
            if (!keep)
            {
                response.Dispose();
            }
        }
    }

    /// <summary>Closes idle connections.</summary>
    public void Dispose() => _http.Dispose();

    private static void CheckWebSocketAnswer(HttpResponseMessage response, string type, string key)
    {
        var protocol = response.Headers.TryGetValues("Sec-WebSocket-Protocol", out var protocols) ? string.Join(",", protocols) : string.Empty;
        if (!string.Equals(protocol, type, StringComparison.Ordinal))
        {
            throw new TeleportProtocolException(
                $"The WebSocket connection upgrade failed: the proxy answered Sec-WebSocket-Protocol '{protocol}' instead of '{type}'.");
        }

        var accept = response.Headers.TryGetValues("Sec-WebSocket-Accept", out var accepts) ? string.Join(",", accepts) : string.Empty;
#pragma warning disable CA5350 // RFC 6455 defines Sec-WebSocket-Accept with SHA-1; it checks the handshake, not security.
        var expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + WebSocketAcceptGuid)));
#pragma warning restore CA5350
        if (!string.Equals(accept, expected, StringComparison.Ordinal))
        {
            throw new TeleportProtocolException("The WebSocket connection upgrade failed: the proxy's Sec-WebSocket-Accept does not match the key sent.");
        }
    }

    private async Task<TeleportException> UpgradeRefusedAsync(HttpResponseMessage response, string type, CancellationToken cancellationToken)
    {
        var body = await ReadBoundedAsync(response.Content, cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        WireLog.HttpCallFailed(_logger, $"GET {WireProtocol.ConnectionUpgradePath}", Peer, status);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            // Teleport: NotImplemented "... Please upgrade the server and try again."
            return new TeleportProtocolException(
                $"The ALPN connection upgrade through {_proxy} failed: GET {WireProtocol.ConnectionUpgradePath} (upgrade type {type}) answered HTTP 404. " +
                "The Teleport proxy is too old for the connection upgrade (WebSocket upgrade needs Teleport 15.1 or later), or the load balancer in front of it " +
                "does not forward that path: upgrade the server, forward /webapi/connectionupgrade with its Upgrade headers, or let the load balancer pass TLS through.");
        }

        if (status is >= 200 and < 300)
        {
            return new TeleportProtocolException(
                $"The ALPN connection upgrade through {_proxy} failed: the server answered HTTP {status} instead of 101 Switching Protocols; " +
                "the load balancer may not forward the Upgrade and Connection headers.");
        }

        var error = WireErrors.FromHttp(response.StatusCode, body, $"GET {WireProtocol.ConnectionUpgradePath} (upgrade type {type})", Peer);
        return error is TeleportConnectionException ? error
            : new TeleportProtocolException($"The ALPN connection upgrade through {_proxy} failed to switch protocols: {error.Message}", error);
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[MaxErrorBodyBytes];
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false)) > 0)
            {
                filled += read;
            }

            return buffer[..filled];
        }
    }

    private async ValueTask<Stream> ConnectTlsAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var tcp = await TlsConnector.ConnectTcpAsync(_proxy, Peer, cancellationToken).ConfigureAwait(false);
        var target = new TlsTarget(Peer, _proxy.Host, [WireProtocol.Http11], RequireNegotiatedProtocol: false);
        return await TlsConnector.AuthenticateAsync(tcp, target, identity: null, _trust, _options.TimeProvider, _logger, cancellationToken).ConfigureAwait(false);
    }
}
