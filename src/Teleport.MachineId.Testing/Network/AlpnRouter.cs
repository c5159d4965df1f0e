using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Testing.Network;

/// <summary>Which public proxy port a router serves.</summary>
internal enum RouterRole
{
    /// <summary>The proxy web port: web, join gRPC and (with TLS routing) Auth passthrough and SSH-gRPC.</summary>
    Web,

    /// <summary>The separate SSH proxy port (TLS routing off): SSH-gRPC only.</summary>
    SshProxy,
}

/// <summary>Where the router sends a connection after looking at its ClientHello.</summary>
internal interface IRouterTargets
{
    bool TlsRoutingEnabled { get; }

    string ClusterName { get; }

    bool AuthOnline { get; }

    /// <summary>Whether the proxy accepts connections (a restart drill takes it offline).</summary>
    bool ProxyOnline { get; }

    int AuthPort { get; }

    int WebPort { get; }

    /// <summary>The HTTP/2 server's endpoint for terminated <c>teleport-proxy-grpc</c> connections.</summary>
    InProcessEndPoint ProxyGrpcEndPoint { get; }

    /// <summary>The HTTP/2 server's endpoint for terminated <c>teleport-proxy-ssh-grpc</c> connections.</summary>
    InProcessEndPoint SshGrpcEndPoint { get; }

    X509Certificate2 WebCertificate { get; }

    X509Certificate2 ProxyCertificate { get; }

    /// <summary>Hands terminated connections to the HTTP/2 server in-process.</summary>
    InProcessTransport Transport { get; }

    /// <summary>Whether a client certificate for SSH-gRPC chains to the user CA and is valid now.</summary>
    bool VerifyUserCertificate(X509Certificate2 certificate);
}

/// <summary>
/// The proxy's TLS router (Teleport's ALPN/SNI multiplexer): peeks at the ClientHello and either
/// pipes raw bytes to Auth (<c>teleport-auth@&lt;hex&gt;.teleport.cluster.local</c>, not terminated) or to the
/// web endpoint, or terminates TLS itself for <c>teleport-proxy-grpc</c> / <c>teleport-proxy-ssh-grpc</c>
/// and hands the decrypted stream to the HTTP/2 server in-process, with the verified client identity.
/// </summary>
internal sealed partial class AlpnRouter : IAsyncDisposable
{
    public const string AuthProtocolPrefix = "teleport-auth@";
    public const string ProxyGrpcProtocol = "teleport-proxy-grpc";
    public const string ProxySshGrpcProtocol = "teleport-proxy-ssh-grpc";
    public const string ReverseTunnelProtocol = "teleport-reversetunnel";
    public const string ReverseTunnelV2Protocol = "teleport-reversetunnelv2";
    private const string ApiDomainSuffix = ".teleport.cluster.local";
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly RouterRole _role;
    private readonly IRouterTargets _targets;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly ConcurrentDictionary<Task, byte> _handlers = new();
    private Task _acceptLoop = Task.CompletedTask;

    private AlpnRouter(Socket listener, RouterRole role, IRouterTargets targets, ILogger logger)
    {
        _listener = listener;
        _role = role;
        _targets = targets;
        _logger = logger;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Binds the listening socket; call <see cref="Start"/> once the targets exist.</summary>
    public static AlpnRouter Bind(IPEndPoint endpoint, RouterRole role, IRouterTargets targets, ILogger logger)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endpoint);
            socket.Listen(512);
            return new AlpnRouter(socket, role, targets, logger);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Start() => _acceptLoop = AcceptLoopAsync(_stop.Token);

    /// <summary>
    /// Resets every open connection (RST, as when the proxy process dies): piped connections to
    /// Auth and the web endpoint and terminated gRPC connections with their streams alike.
    /// </summary>
    public void ResetAll()
    {
        foreach (var socket in _open.Keys)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already closing.
            }

            socket.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        foreach (var socket in _open.Keys)
        {
            socket.Dispose();
        }

        try
        {
            await _acceptLoop.ConfigureAwait(false);
            await Task.WhenAll(_handlers.Keys).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>The cluster name a <c>teleport-auth@</c> protocol names, or null when it is not one.</summary>
    internal static string? DecodeAuthProtocolCluster(string protocol)
    {
        if (!protocol.StartsWith(AuthProtocolPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var host = protocol[AuthProtocolPrefix.Length..];
        if (!host.EndsWith(ApiDomainSuffix, StringComparison.Ordinal))
        {
            return string.Empty;
        }

        var hex = host[..^ApiDomainSuffix.Length];
        try
        {
            return hex.Length == 0 || hex.Length % 2 != 0 || hex.Any(char.IsAsciiLetterUpper) ? string.Empty : Encoding.UTF8.GetString(Convert.FromHexString(hex));
        }
        catch (FormatException)
        {
            return string.Empty;
        }
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (!_targets.ProxyOnline)
            {
                // Proxy offline: the port refuses (accepted, then reset at once).
                socket.LingerState = new LingerOption(true, 0);
                socket.Dispose();
                continue;
            }

            socket.NoDelay = true;
            _open[socket] = 0;
            var handler = HandleAsync(socket, cancellationToken);
            _handlers[handler] = 0;
            _ = handler.ContinueWith(
                (t, state) => ((AlpnRouter)state!)._handlers.TryRemove(t, out _),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
    {
        try
        {
            await RouteAsync(new NetworkStream(socket, ownsSocket: true), socket.RemoteEndPoint, upgraded: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _open.TryRemove(socket, out _);
        }
    }

    /// <summary>
    /// Routes a connection that arrived through the web endpoint's ALPN connection upgrade
    /// (<c>/webapi/connectionupgrade</c>) exactly like one accepted on the port; completes when it ends.
    /// </summary>
    /// <param name="tunnel">The upgraded stream (WebSocket or legacy); owned and closed by the router.</param>
    /// <param name="remote">The client's address as the web endpoint saw it.</param>
    /// <param name="cancellationToken">Ends the connection.</param>
    public async Task RouteUpgradedAsync(Stream tunnel, EndPoint? remote, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        await RouteAsync(tunnel, remote, upgraded: true, linked.Token).ConfigureAwait(false);
    }

    private async Task RouteAsync(Stream network, EndPoint? remote, bool upgraded, CancellationToken cancellationToken)
    {
        try
        {
            byte[] buffered;
            ClientHelloInfo? hello;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(HelloTimeout);
                (buffered, hello) = await ClientHello.ReadAsync(network, timeout.Token).ConfigureAwait(false);
            }

            if (hello is null)
            {
                Log.NotTls(_logger, _role);
                return;
            }

            switch (Decide(hello))
            {
                case Route.AuthPassthrough:
                    if (!_targets.AuthOnline)
                    {
                        return;
                    }

                    await PipeAsync(network, buffered, _targets.AuthPort, cancellationToken).ConfigureAwait(false);
                    break;
                case Route.Web:
                    await PipeAsync(network, buffered, _targets.WebPort, cancellationToken).ConfigureAwait(false);
                    break;
                case Route.ProxyGrpc:
                    // Through the upgrade a Teleport proxy presents its host certificate here (the client
                    // checks it with verifyALPNUpgradedConn); directly, its web certificate.
                    await TerminateAsync(network, remote, buffered, ProxyGrpcProtocol, upgraded ? _targets.ProxyCertificate : _targets.WebCertificate,
                        requireClientCertificate: false, _targets.ProxyGrpcEndPoint, cancellationToken).ConfigureAwait(false);
                    break;
                case Route.SshGrpc:
                    await TerminateAsync(network, remote, buffered, ProxySshGrpcProtocol, _targets.ProxyCertificate, requireClientCertificate: true,
                        _targets.SshGrpcEndPoint, cancellationToken).ConfigureAwait(false);
                    break;
                case Route.ReverseTunnel:
                    await AnswerReverseTunnelAsync(network, buffered, hello, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    Log.Refused(_logger, _role, hello.ApplicationProtocols);

                    break;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or AuthenticationException)
        {
            Log.ConnectionEnded(_logger, _role, ex);
        }
        finally
        {
            await network.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Route Decide(ClientHelloInfo hello)
    {
        foreach (var protocol in hello.ApplicationProtocols)
        {
            if (_role == RouterRole.SshProxy)
            {
                if (protocol == ProxySshGrpcProtocol)
                {
                    return Route.SshGrpc;
                }

                continue;
            }

            if (protocol.StartsWith(AuthProtocolPrefix, StringComparison.Ordinal))
            {
                if (!_targets.TlsRoutingEnabled)
                {
                    continue;
                }

                var cluster = DecodeAuthProtocolCluster(protocol);
                return cluster == _targets.ClusterName ? Route.AuthPassthrough : Route.Close;
            }

            if (protocol == ProxySshGrpcProtocol && _targets.TlsRoutingEnabled)
            {
                return Route.SshGrpc;
            }

            if (protocol == ProxyGrpcProtocol)
            {
                return Route.ProxyGrpc;
            }

            if (protocol is ReverseTunnelProtocol or ReverseTunnelV2Protocol)
            {
                return Route.ReverseTunnel;
            }
        }

        return _role == RouterRole.Web ? Route.Web : Route.Close;
    }

    private async Task PipeAsync(Stream client, byte[] buffered, int port, CancellationToken cancellationToken)
    {
        var upstream = await ConnectAsync(port, cancellationToken).ConfigureAwait(false);
        var upstreamStream = new NetworkStream(upstream, ownsSocket: true);
        await upstreamStream.WriteAsync(buffered, cancellationToken).ConfigureAwait(false);
        await StreamRelay.RunAsync(client, upstreamStream, cancellationToken).ConfigureAwait(false);
    }

    private async Task TerminateAsync(Stream client, EndPoint? remote, byte[] buffered, string protocol, X509Certificate2 certificate,
        bool requireClientCertificate, InProcessEndPoint endpoint, CancellationToken cancellationToken)
    {
        var tls = new SslStream(new PrefixedStream(buffered, client), leaveInnerStreamOpen: false);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            ApplicationProtocols = [new SslApplicationProtocol(protocol)],
            ClientCertificateRequired = requireClientCertificate,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        };
        if (requireClientCertificate)
        {
            options.RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is X509Certificate2 x509 && _targets.VerifyUserCertificate(x509);
        }

        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(HelloTimeout);
            await tls.AuthenticateAsServerAsync(options, timeout.Token).ConfigureAwait(false);
        }

        var clientCertificate = tls.RemoteCertificate as X509Certificate2;
        await _targets.Transport.ServeAsync(endpoint, tls, remote, new ProxiedConnection(endpoint, clientCertificate), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// The reverse tunnel's ALPN is answered (what Teleport clients test to see whether ALPN reaches
    /// the proxy, <c>IsALPNConnUpgradeRequired</c>); the emulator has no reverse-tunnel server, so the
    /// connection is closed after the handshake.
    /// </summary>
    private async Task AnswerReverseTunnelAsync(Stream client, byte[] buffered, ClientHelloInfo hello, CancellationToken cancellationToken)
    {
        var protocol = hello.ApplicationProtocols.First(p => p is ReverseTunnelProtocol or ReverseTunnelV2Protocol);
        var tls = new SslStream(new PrefixedStream(buffered, client), leaveInnerStreamOpen: false);
        await using var _ = tls.ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HelloTimeout);
        await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = _targets.WebCertificate,
            ApplicationProtocols = [new SslApplicationProtocol(protocol)],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, timeout.Token).ConfigureAwait(false);
        Log.ReverseTunnelAnswered(_logger, _role);
    }

    private static async Task<Socket> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private enum Route
    {
        Close,
        AuthPassthrough,
        Web,
        ProxyGrpc,
        SshGrpc,
        ReverseTunnel,
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9200, EventName = "EmulatorRouterNotTls", Level = LogLevel.Debug,
            Message = "{Role} router: the connection did not start with a TLS ClientHello; closed")]
        public static partial void NotTls(ILogger logger, RouterRole role);

        [LoggerMessage(EventId = 9201, EventName = "EmulatorRouterRefused", Level = LogLevel.Debug,
            Message = "{Role} router: no route for ALPN [{Protocols}]; closed")]
        public static partial void Refused(ILogger logger, RouterRole role, IReadOnlyList<string> protocols);

        [LoggerMessage(EventId = 9202, EventName = "EmulatorRouterConnectionEnded", Level = LogLevel.Trace,
            Message = "{Role} router: connection ended")]
        public static partial void ConnectionEnded(ILogger logger, RouterRole role, Exception reason);

        [LoggerMessage(EventId = 9203, EventName = "EmulatorRouterReverseTunnelAnswered", Level = LogLevel.Debug,
            Message = "{Role} router: answered the reverse-tunnel ALPN (no reverse-tunnel server in the emulator); closed")]
        public static partial void ReverseTunnelAnswered(ILogger logger, RouterRole role);
    }

    internal static string EncodeClusterName(string clusterName) =>
        Convert.ToHexString(Encoding.UTF8.GetBytes(clusterName)).ToLower(CultureInfo.InvariantCulture) + ApiDomainSuffix;
}
