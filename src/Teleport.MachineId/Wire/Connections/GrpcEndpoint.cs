using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>
/// One Teleport gRPC endpoint (Auth through the proxy, Auth direct, the proxy's join or transport
/// service): one pooled HTTP/2 <see cref="GrpcChannel"/> whose connections are opened by a callback
/// (TCP or a tunnel, then TLS with Teleport's SNI/ALPN) and spoken to with HTTP/2 prior knowledge.
/// </summary>
/// <remarks>
/// Before each call the endpoint asks its profile selector which identity and trust apply now and
/// routes the call to the connection pool of that profile; the TLS handshake of a new connection
/// presents that profile's certificate. A renewed identity therefore takes effect on the next call
/// without rebuilding anything, and calls in flight keep their connection. Every request carries
/// the gRPC metadata <c>version</c> and this client's <c>User-Agent</c>. Thread-safe.
/// </remarks>
internal sealed class GrpcEndpoint : IDisposable
{
    private static readonly HttpRequestOptionsKey<ConnectionProfile> ProfileKey = new("Teleport.MachineId.Wire.ConnectionProfile");

    private readonly Func<CancellationToken, ValueTask<ConnectionProfile>> _selectProfile;
    private readonly Func<ConnectionProfile, CancellationToken, Task<Stream>> _openStream;
    private readonly WireClientOptions _options;
    private readonly GrpcChannel _channel;

    /// <summary>Creates the endpoint; nothing is connected until the first call.</summary>
    /// <param name="description">Who the peer is, for messages (e.g. <c>Auth via TLS-routing proxy localhost:3080</c>).</param>
    /// <param name="authority">The HTTP/2 <c>:authority</c> to send (the peer's host name).</param>
    /// <param name="selectProfile">Which identity and trust apply to the next call.</param>
    /// <param name="openStream">Opens an authenticated stream to the peer for a profile.</param>
    /// <param name="options">Client options (timeouts, pooling, logging).</param>
    /// <param name="maxReceiveMessageBytes">The largest message accepted from the peer (<see cref="InputLimits"/>).</param>
    public GrpcEndpoint(
        string description,
        string authority,
        Func<CancellationToken, ValueTask<ConnectionProfile>> selectProfile,
        Func<ConnectionProfile, CancellationToken, Task<Stream>> openStream,
        WireClientOptions options,
        int maxReceiveMessageBytes = InputLimits.GrpcMessageBytes)
    {
        Description = description;
        _selectProfile = selectProfile;
        _openStream = openStream;
        _options = options;
        var sockets = new SocketsHttpHandler
        {
            ConnectCallback = ConnectAsync,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            PooledConnectionLifetime = options.PooledConnectionLifetime,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            // Bulk ProxySSH streams: fewer WINDOW_UPDATE round trips; still a bounded 1 MiB per stream.
            InitialHttp2StreamWindowSize = 1024 * 1024,
            MaxResponseHeadersLength = InputLimits.HttpResponseHeadersBytes / 1024,
        };

        _channel = GrpcChannel.ForAddress("http://teleport-wire.invalid", new GrpcChannelOptions
        {
            HttpHandler = new RoutingHandler(this, authority) { InnerHandler = sockets },
            DisposeHttpClient = true,
            LoggerFactory = options.LoggerFactory,
            ThrowOperationCanceledOnCancellation = true,
            MaxReceiveMessageSize = maxReceiveMessageBytes,
            MaxRetryAttempts = 0,
        });
        Invoker = _channel.CreateCallInvoker();
    }

    /// <summary>Who the peer is, for messages.</summary>
    public string Description { get; }

    /// <summary>Invokes calls on this endpoint.</summary>
    public CallInvoker Invoker { get; }

    /// <summary>Closes the channel and its connections; calls in flight are cancelled.</summary>
    public void Dispose() => _channel.Dispose();

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        if (!context.InitialRequestMessage.Options.TryGetValue(ProfileKey, out var profile))
        {
            throw new InvalidOperationException("A request reached the connection pool without a connection profile.");
        }

        using var activity = MachineIdActivities.Source.StartActivity(MachineIdActivities.Connect);
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await _openStream(profile, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw WireErrors.MarkNotSent(new TeleportConnectionException(
                $"Connecting to {Description} timed out after {_options.ConnectTimeout.TotalSeconds:0.#} s. Check the address and that the server is reachable.", ex));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // No request has been written to this connection yet.
            WireErrors.MarkNotSent(ex);
            throw;
        }
    }

    /// <summary>Routes each request to the connection pool of the current profile and adds Teleport's metadata.</summary>
    private sealed class RoutingHandler(GrpcEndpoint endpoint, string authority) : DelegatingHandler
    {
        private static readonly ProductInfoHeaderValue[] UserAgent = ParseUserAgent();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            ConnectionProfile profile;
            try
            {
                profile = await endpoint._selectProfile(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Choosing the identity and trust (e.g. the CA-pin bootstrap) failed before this request was sent.
                WireErrors.MarkNotSent(ex);
                throw;
            }

            request.Options.Set(ProfileKey, profile);
            request.RequestUri = profile.GetRequestUri(request.RequestUri!.PathAndQuery);
            request.Headers.Host = authority;
            request.Headers.TryAddWithoutValidation(WireProtocol.VersionMetadataKey, WireProtocol.CompatibilityVersion);
            request.Headers.UserAgent.Clear();
            foreach (var product in UserAgent)
            {
                request.Headers.UserAgent.Add(product);
            }

            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        private static ProductInfoHeaderValue[] ParseUserAgent()
        {
            var headers = new HttpRequestMessage().Headers;
            headers.UserAgent.ParseAdd(WireProtocol.UserAgent + " grpc-dotnet");
            return [.. headers.UserAgent];
        }
    }
}
