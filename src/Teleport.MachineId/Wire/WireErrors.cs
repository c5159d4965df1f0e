using System.Net;
using System.Text.Json;
using Grpc.Core;
using Teleport.MachineId.Wire.Discovery;

namespace Teleport.MachineId.Wire;

/// <summary>What kind of operation failed: decides how server refusals are classified.</summary>
internal enum WireOperationKind
{
    /// <summary>An ordinary call with an identity: refusals are access denied / not found / …</summary>
    Call,

    /// <summary>A join: every refusal by the server is a <see cref="TeleportJoinException"/>.</summary>
    Join,

    /// <summary>
    /// A join with a reusable token and a proof (an ID token, a service account token, a bound key):
    /// refusals are <see cref="TeleportJoinException"/>s whose hint is about the proof, not single use.
    /// </summary>
    DelegatedJoin,
}

/// <summary>
/// The one place that turns gRPC statuses, Teleport's HTTP JSON errors and transport failures into
/// the public exception hierarchy (<see cref="TeleportException"/> and subtypes), with messages
/// that say what was called, on which endpoint and what to do — and never carry secrets.
/// </summary>
internal static class WireErrors
{
    private const int MaxDetailLength = 600;
    private const string NotSentKey = "Teleport.MachineId.Wire.NotSent";

    /// <summary>Maps a failed gRPC call.</summary>
    /// <param name="exception">The gRPC failure.</param>
    /// <param name="operation">What was called (e.g. <c>GenerateUserCerts</c>).</param>
    /// <param name="endpoint">Where (e.g. <c>Auth via TLS-routing proxy localhost:3080</c>).</param>
    /// <param name="kind">Call or join.</param>
    /// <param name="secret">A secret the server might echo (the join token); replaced in messages.</param>
    /// <returns>The exception to throw.</returns>
    public static TeleportException FromRpc(RpcException exception, string operation, string endpoint, WireOperationKind kind = WireOperationKind.Call, string? secret = null)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (FindTeleportException(exception.Status.DebugException) is { } local)
        {
            return Rewrap(local, $"{operation} on {endpoint}: ");
        }

        var code = exception.StatusCode;

        // A failure raised on this side (connection reset, refused, TLS): grpc-dotnet's detail strings
        // the exception chain together with .NET type names; the innermost message says it in words.
        var detail = exception.Status.DebugException is { } raisedHere
            ? Clean(Innermost(raisedHere).Message, secret).TrimEnd('.')
            : Clean(exception.Status.Detail, secret);
        var what = $"{operation} on {endpoint}";
        var server = detail.Length == 0 ? $"status {code}" : $"{code}: {detail}";
        if (code == StatusCode.ResourceExhausted && IsSizeLimit(detail))
        {
            // A message over a size limit fails the same way every time: not a reason to retry.
            return new TeleportProtocolException(
                $"{what} failed: a message was larger than the receiver accepts ({server}). Check the size of what is sent (a join token file, for example).", exception);
        }

        switch (code)
        {
            case StatusCode.Unavailable:
            case StatusCode.DeadlineExceeded:
            case StatusCode.ResourceExhausted:
            case StatusCode.Aborted:
            case StatusCode.Cancelled:
                return new TeleportConnectionException(
                    $"{what} failed ({server}). The cluster could not be reached or is busy; check connectivity and retry.", exception);
            case StatusCode.Unimplemented:
                return new TeleportProtocolException(
                    $"{what} failed: the server does not implement it ({server}). It may not be a Teleport 18 cluster, or the address points at the wrong service.", exception);
            case StatusCode.Internal:
            case StatusCode.DataLoss:
                return new TeleportProtocolException(
                    $"{what} failed with a protocol error ({server}). Check that the address points at a Teleport 18 cluster.", exception);
        }

        if (kind is WireOperationKind.Join or WireOperationKind.DelegatedJoin)
        {
            return new TeleportJoinException($"Joining via {endpoint} was refused ({server}). {JoinHint(kind)}", exception);
        }

        return code switch
        {
            StatusCode.PermissionDenied or StatusCode.Unauthenticated => new TeleportAccessDeniedException(
                $"{what} was denied ({server}). The identity lacks permission, has expired or is locked; a bot that was denied renewal must join again with a new token.", exception),
            StatusCode.NotFound => new TeleportNotFoundException($"{what} found nothing ({server}).", exception),
            _ => new TeleportException($"{what} failed ({server}).", exception),
        };
    }

    /// <summary>Maps a non-success HTTP answer of the proxy's web API (<c>{"error":{"message":…}}</c>).</summary>
    /// <param name="status">HTTP status.</param>
    /// <param name="body">The response body, or <see langword="null"/>.</param>
    /// <param name="operation">What was called (e.g. <c>POST /webapi/host/credentials</c>).</param>
    /// <param name="endpoint">Where (the proxy address).</param>
    /// <param name="kind">Call or join.</param>
    /// <param name="secret">A secret to keep out of messages.</param>
    /// <returns>The exception to throw.</returns>
    public static TeleportException FromHttp(HttpStatusCode status, ReadOnlySpan<byte> body, string operation, string endpoint, WireOperationKind kind = WireOperationKind.Call, string? secret = null)
    {
        var message = Clean(ReadErrorMessage(body), secret);
        var server = message.Length == 0 ? $"HTTP {(int)status} {status}" : $"HTTP {(int)status}: {message}";
        var what = $"{operation} on {endpoint}";
        var code = (int)status;
        if (code == 413 || (code == 429 && IsSizeLimit(message)))
        {
            // 413, or Teleport's read limit (trace.LimitExceeded "the read limit is reached", sent as 429):
            // the same request is refused every time, so this is permanent, never "retry later".
            return new TeleportProtocolException(
                $"{what} was refused because the request is too large ({server}). Check the size of what is sent (a join token file, for example); retrying cannot help.");
        }

        if (code is 429 or 502 or 503 or 504 or 408)
        {
            return new TeleportConnectionException($"{what} failed ({server}). The proxy or the cluster behind it is unavailable or busy; retry later.");
        }

        if (code == 501)
        {
            return new TeleportProtocolException($"{what} failed: the server does not implement it ({server}).");
        }

        if (kind is WireOperationKind.Join or WireOperationKind.DelegatedJoin && code is >= 400 and < 500)
        {
            return new TeleportJoinException($"Joining via {endpoint} was refused ({server}). {JoinHint(kind)}");
        }

        return code switch
        {
            401 or 403 => new TeleportAccessDeniedException($"{what} was denied ({server})."),
            404 => new TeleportNotFoundException($"{what} found nothing ({server}). Check that the address is a Teleport proxy's web address."),
            _ => new TeleportException($"{what} failed ({server})."),
        };
    }

    private static string JoinHint(WireOperationKind kind) => kind == WireOperationKind.DelegatedJoin
        ? "Check that the join token resource exists for this bot and that what the bot presented (ID token, service account token, bound key or registration secret) matches its spec."
        : "Check that the token exists, is a bot token, has not expired and has not been used already (token joins are single-use).";

    /// <summary>Maps a transport failure (HTTP client, socket, TLS) that is not an <see cref="RpcException"/>.</summary>
    /// <param name="exception">The failure.</param>
    /// <param name="operation">What was called.</param>
    /// <param name="endpoint">Where.</param>
    /// <returns>The exception to throw.</returns>
    public static TeleportException FromTransport(Exception exception, string operation, string endpoint)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (FindTeleportException(exception) is { } local)
        {
            return ReferenceEquals(local, exception) ? local : Rewrap(local, $"{operation} on {endpoint}: ");
        }

        return new TeleportConnectionException(
            $"{operation} on {endpoint} failed: {Innermost(exception).Message.TrimEnd('.')}. Check the address and connectivity; the call can be retried.", exception);
    }

    /// <summary>The first <see cref="TeleportException"/> in an exception's chain (inner exceptions, gRPC debug exceptions, aggregates).</summary>
    public static TeleportException? FindTeleportException(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 16; depth++)
        {
            switch (exception)
            {
                case TeleportException teleport:
                    return teleport;
                case RpcException rpc when rpc.Status.DebugException is not null:
                    exception = rpc.Status.DebugException;
                    continue;
                case AggregateException aggregate when aggregate.InnerExceptions.Count == 1:
                    exception = aggregate.InnerExceptions[0];
                    continue;
                default:
                    exception = exception.InnerException;
                    continue;
            }
        }

        return null;
    }

    /// <summary>A new exception of the same type and reason, with a context prefix and the original as inner exception.</summary>
    public static TeleportException Rewrap(TeleportException exception, string prefix)
    {
        var message = exception.Message.StartsWith(prefix, StringComparison.Ordinal) ? exception.Message : prefix + exception.Message;
        return WithMessage(exception, message, exception);
    }

    /// <summary>A new exception of the same type and reason as <paramref name="exception"/>, with another message and inner exception.</summary>
    public static TeleportException WithMessage(TeleportException exception, string message, Exception inner) => exception switch
    {
        CertificateValidationException certificate => new CertificateValidationException(certificate.Failure, message, inner),
        TeleportConnectionException => new TeleportConnectionException(message, inner),
        TeleportAccessDeniedException => new TeleportAccessDeniedException(message, inner),
        TeleportNotFoundException => new TeleportNotFoundException(message, inner),
        TeleportJoinException => new TeleportJoinException(message, inner),
        TeleportProtocolException => new TeleportProtocolException(message, inner),
        TeleportFormatException => new TeleportProtocolException(message, inner),
        _ => new TeleportException(message, inner),
    };

    /// <summary>
    /// Marks <paramref name="exception"/> as raised while a connection was being set up or a route
    /// resolved (TCP, TLS, trust bootstrap, discovery): the request it was for never left this
    /// process, so trying another route cannot repeat it on the server.
    /// </summary>
    /// <returns><paramref name="exception"/>, to be thrown.</returns>
    public static TException MarkNotSent<TException>(TException exception)
        where TException : Exception
    {
        ArgumentNullException.ThrowIfNull(exception);
        exception.Data[NotSentKey] = true;
        return exception;
    }

    /// <summary>Whether a failure (anywhere in its chain) was marked by <see cref="MarkNotSent"/>.</summary>
    public static bool WasNotSent(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 16; depth++)
        {
            if (exception.Data.Contains(NotSentKey))
            {
                return true;
            }

            exception = exception switch
            {
                RpcException { Status.DebugException: { } debug } => debug,
                AggregateException { InnerExceptions.Count: 1 } aggregate => aggregate.InnerExceptions[0],
                _ => exception.InnerException,
            };
        }

        return false;
    }

    /// <summary>Whether a gRPC failure means the server does not have the method.</summary>
    public static bool IsUnimplemented(RpcException exception) =>
        exception.StatusCode == StatusCode.Unimplemented && FindTeleportException(exception.Status.DebugException) is null;

    private static string ReadErrorMessage(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return string.Empty;
        }

        try
        {
            var error = JsonSerializer.Deserialize(body, WireJsonContext.Default.WebErrorJson);
            return error?.Error?.Message ?? string.Empty;
        }
        catch (JsonException)
        {
            // Not Teleport's JSON (a load balancer page, …): the body is not quoted, it may be anything.
            return $"a non-JSON body of {body.Length} bytes";
        }
    }

    private static string Clean(string? detail, string? secret)
    {
        var text = (detail ?? string.Empty).Trim();
        if (!string.IsNullOrEmpty(secret))
        {
            // A real token is long and is replaced wherever it appears; a very short one (a typo,
            // a test value) only where it stands alone, so "x" does not turn "expired" into "e<redacted>pired".
            text = secret.Length >= 8
                ? text.Replace(secret, "<redacted>", StringComparison.Ordinal)
                : System.Text.RegularExpressions.Regex.Replace(
                    text, $@"(?<![\w-]){System.Text.RegularExpressions.Regex.Escape(secret)}(?![\w-])", "<redacted>", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        }

        text = text.ReplaceLineEndings(" ");
        return text.Length > MaxDetailLength ? text[..MaxDetailLength] + "…" : text;
    }

    // grpc-go: "grpc: received message larger than max (N vs. M)", "trying to send message larger than max";
    // grpc-dotnet: "Received message exceeds the maximum configured message size."; Teleport's HTTP
    // read limit: "the read limit is reached".
    private static bool IsSizeLimit(string detail) =>
        detail.Contains("larger than max", StringComparison.OrdinalIgnoreCase)
        || detail.Contains("exceeds the maximum", StringComparison.OrdinalIgnoreCase)
        || detail.Contains("read limit is reached", StringComparison.OrdinalIgnoreCase);

    private static Exception Innermost(Exception exception)
    {
        var current = exception;
        for (var depth = 0; current.InnerException is not null && depth < 16; depth++)
        {
            current = current.InnerException;
        }

        return current;
    }
}
