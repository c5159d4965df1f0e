using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Wire.Discovery;

/// <summary>
/// The proxy's HTTPS web API: <c>GET /webapi/find</c> (discovery) and the legacy token join
/// <c>POST /webapi/host/credentials</c>. The proxy's web certificate is verified against the OS
/// trust store or the caller's CA bundle; <c>insecure</c> (explicit only) skips that and, on a
/// loopback proxy, allows Teleport's plain-HTTP fallback.
/// </summary>
internal sealed class ProxyWebClient : IDisposable
{
    private static readonly string TooLargeAnswer =
        $"The proxy's answer is larger than {InputLimits.Describe(InputLimits.WebApiResponseBytes)} (InputLimits.WebApiResponseBytes); check that the address is a Teleport proxy.";

    private readonly HostPort _proxy;
    private readonly WireClientOptions _options;
    private readonly ServerTrust _trust;
    private readonly ILogger _logger;
    private readonly HttpClient _https;
    private readonly Lazy<HttpClient> _plain;

    /// <summary>Creates the client; nothing is connected until the first request.</summary>
    /// <param name="proxy">The proxy's web address.</param>
    /// <param name="trust">How to verify the proxy's web certificate.</param>
    /// <param name="options">Client options.</param>
    public ProxyWebClient(HostPort proxy, ServerTrust trust, WireClientOptions options)
    {
        _proxy = proxy;
        Peer = $"proxy {proxy} (web)";
        _trust = trust;
        _options = options;
        _logger = options.LoggerFactory.CreateLogger("Teleport.MachineId.Wire.ProxyWebClient");
        _https = CreateClient(tls: true);
        _plain = new Lazy<HttpClient>(() => CreateClient(tls: false), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Who answers, for messages.</summary>
    public string Peer { get; }

    /// <summary>Asks the proxy about its cluster (<c>GET /webapi/find</c>).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The discovery.</returns>
    /// <exception cref="TeleportConnectionException">The proxy could not be reached or the TLS handshake failed.</exception>
    /// <exception cref="CertificateValidationException">The proxy's certificate is not trusted.</exception>
    /// <exception cref="TeleportProtocolException">The answer is not Teleport's.</exception>
    /// <exception cref="TeleportException">The proxy answered with an error.</exception>
    public async Task<ClusterDiscovery> FindAsync(CancellationToken cancellationToken)
    {
        const string operation = "GET /webapi/find";
        var body = await SendAsync(HttpMethod.Get, "/webapi/find", content: null, operation, WireOperationKind.Call, secret: null, cancellationToken).ConfigureAwait(false);
        var discovery = ParseFindResponse(body, _proxy, $"{operation} on {Peer}");
        WireLog.ClusterDiscovered(_logger, _proxy, discovery.ClusterName, discovery.ServerVersion, discovery.TlsRoutingEnabled,
            discovery.SignatureAlgorithmSuite, discovery.SshProxyAddress);
        return discovery;
    }

    /// <summary>Legacy token join through the proxy (<c>POST /webapi/host/credentials</c>).</summary>
    /// <param name="request">The request; its token is never logged or put into messages.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The issued certificates.</returns>
    /// <exception cref="TeleportJoinException">The proxy refused the join.</exception>
    /// <exception cref="TeleportConnectionException">The proxy could not be reached.</exception>
    /// <exception cref="CertificateValidationException">The proxy's certificate is not trusted.</exception>
    /// <exception cref="TeleportProtocolException">The answer is not Teleport's.</exception>
    public async Task<IssuedCertificates> RegisterUsingTokenAsync(RegisterUsingTokenRequestJson request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        const string operation = "POST /webapi/host/credentials";
        var payload = JsonSerializer.SerializeToUtf8Bytes(request, WireJsonContext.Default.RegisterUsingTokenRequestJson);
        var delegated = !string.IsNullOrEmpty(request.IdToken);
        var body = await SendAsync(HttpMethod.Post, "/webapi/host/credentials", payload, operation,
            delegated ? WireOperationKind.DelegatedJoin : WireOperationKind.Join, delegated ? request.IdToken : request.Token, cancellationToken).ConfigureAwait(false);
        return ParseCertsResponse(body, $"{operation} on {Peer}");
    }

    /// <summary>Reads a <c>/webapi/find</c> (or <c>/webapi/ping</c>) answer.</summary>
    /// <param name="body">The response body (UTF-8 JSON).</param>
    /// <param name="proxy">The proxy asked, for derived addresses.</param>
    /// <param name="source">The request and peer, for messages.</param>
    /// <returns>The discovery.</returns>
    /// <exception cref="TeleportProtocolException">The answer is not Teleport's.</exception>
    internal static ClusterDiscovery ParseFindResponse(ReadOnlySpan<byte> body, HostPort proxy, string source)
    {
        FindResponseJson? json;
        try
        {
            json = JsonSerializer.Deserialize(body, WireJsonContext.Default.FindResponseJson);
        }
        catch (JsonException ex)
        {
            throw new TeleportProtocolException($"{source} returned invalid JSON; check that {proxy} is a Teleport proxy's web address.", ex);
        }

        if (json is null)
        {
            throw new TeleportProtocolException($"{source} returned an empty answer; check that {proxy} is a Teleport proxy's web address.");
        }

        return ClusterDiscovery.FromJson(json, proxy);
    }

    /// <summary>Reads a legacy join answer (<c>POST /webapi/host/credentials</c>).</summary>
    /// <param name="body">The response body (UTF-8 JSON).</param>
    /// <param name="source">The request and peer, for messages.</param>
    /// <returns>The issued certificates.</returns>
    /// <exception cref="TeleportProtocolException">The answer is not Teleport's.</exception>
    internal static IssuedCertificates ParseCertsResponse(ReadOnlySpan<byte> body, string source)
    {
        CertsJson? certs;
        try
        {
            certs = JsonSerializer.Deserialize(body, WireJsonContext.Default.CertsJson);
        }
        catch (JsonException ex)
        {
            throw new TeleportProtocolException($"{source} returned invalid JSON instead of certificates.", ex);
        }

        if (certs?.Tls is not { Length: > 0 } || certs.Ssh is not { Length: > 0 })
        {
            throw new TeleportProtocolException($"{source} returned no certificates.");
        }

        return IssuedCertificates.FromLegacy(
            certs.Ssh, certs.Tls,
            (certs.TlsCaCerts ?? []).Select(b => (ReadOnlyMemory<byte>)b),
            (certs.SshCaCerts ?? []).Select(b => (ReadOnlyMemory<byte>)b),
            source);
    }

    /// <summary>Closes idle connections.</summary>
    public void Dispose()
    {
        _https.Dispose();
        if (_plain.IsValueCreated)
        {
            _plain.Value.Dispose();
        }
    }

    private async Task<byte[]> SendAsync(
        HttpMethod method, string path, byte[]? content, string operation, WireOperationKind kind, string? secret, CancellationToken cancellationToken)
    {
        try
        {
            return await SendOnceAsync(_https, method, path, content, operation, kind, secret, cancellationToken).ConfigureAwait(false);
        }
        catch (TeleportConnectionException ex) when (_options.Insecure && _proxy.IsLoopback && !cancellationToken.IsCancellationRequested)
        {
            // Teleport's doWithFallback: only with insecure, only for a loopback proxy.
            WireLog.PlainHttpFallback(_logger, ex, $"https://{_proxy}{path}");
            return await SendOnceAsync(_plain.Value, method, path, content, operation, kind, secret, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<byte[]> SendOnceAsync(
        HttpClient client, HttpMethod method, string path, byte[]? content, string operation, WireOperationKind kind, string? secret, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("User-Agent", WireProtocol.UserAgent);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (content is not null)
        {
            request.Content = new ByteArrayContent(content);

            // Teleport's CSRF check requires exactly this content type.
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        using var timeout = new CancellationTokenSource(_options.WebRequestTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            var body = await ReadBoundedAsync(response.Content, linked.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var error = WireErrors.FromHttp(response.StatusCode, body, operation, Peer, kind, secret);
                WireLog.HttpCallFailed(_logger, operation, Peer, (int)response.StatusCode);
                throw error;
            }

            return body;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The request timeout, or the handler's connect timeout: not the caller's cancellation.
            throw new TeleportConnectionException(
                $"{operation} on {Peer} timed out (request timeout {_options.WebRequestTimeout.TotalSeconds:0.#} s, connect timeout {_options.ConnectTimeout.TotalSeconds:0.#} s); check connectivity to the proxy and retry.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw WireErrors.FromTransport(ex, operation, Peer);
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > InputLimits.WebApiResponseBytes)
        {
            throw new TeleportProtocolException(TooLargeAnswer);
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > InputLimits.WebApiResponseBytes)
                {
                    throw new TeleportProtocolException(TooLargeAnswer);
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
    }

    private HttpClient CreateClient(bool tls)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = tls ? ConnectTlsAsync : ConnectPlainAsync,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            PooledConnectionLifetime = _options.PooledConnectionLifetime,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ConnectTimeout = _options.ConnectTimeout,
            MaxResponseHeadersLength = InputLimits.HttpResponseHeadersBytes / 1024,
        };

        // The scheme is http because the connect callback already did TLS.
        return new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = new Uri($"http://{_proxy}/"),
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    private async ValueTask<Stream> ConnectTlsAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        try
        {
            var tcp = await TlsConnector.ConnectTcpAsync(_proxy, Peer, cancellationToken).ConfigureAwait(false);
            var target = new TlsTarget(Peer, _proxy.Host, [WireProtocol.Http11], RequireNegotiatedProtocol: false);
            return await TlsConnector.AuthenticateAsync(tcp, target, identity: null, _trust, _options.TimeProvider, _logger, cancellationToken).ConfigureAwait(false);
        }
        catch (TeleportException ex)
        {
            // The request waits for this connection: nothing has been sent yet.
            WireErrors.MarkNotSent(ex);
            throw;
        }
    }

    private async ValueTask<Stream> ConnectPlainAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await TlsConnector.ConnectTcpAsync(_proxy, $"proxy {_proxy} (plain HTTP)", cancellationToken).ConfigureAwait(false);
        }
        catch (TeleportException ex)
        {
            WireErrors.MarkNotSent(ex);
            throw;
        }
    }
}
