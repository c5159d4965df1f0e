using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire;

/// <summary>Log messages of the wire layer (event ids 5000–5099, see <see cref="MachineIdEventIds"/>). Never tokens, keys or certificate bytes.</summary>
internal static partial class WireLog
{
    [LoggerMessage(EventId = MachineIdEventIds.WireClusterDiscovered, EventName = "WireClusterDiscovered", Level = LogLevel.Information,
        Message = "Proxy {Proxy} serves cluster {Cluster} (Teleport {Version}, TLS routing {TlsRouting}, signature algorithm suite {Suite}, SSH proxy {SshProxy})")]
    public static partial void ClusterDiscovered(ILogger logger, HostPort proxy, string cluster, string version, bool tlsRouting, Crypto.SignatureAlgorithmSuite suite, HostPort sshProxy);

    [LoggerMessage(EventId = MachineIdEventIds.WireTlsConnected, EventName = "WireTlsConnected", Level = LogLevel.Debug,
        Message = "TLS connection to {Peer} established (ALPN {Alpn}, {TlsVersion}, client certificate serial {Serial})")]
    public static partial void TlsConnected(ILogger logger, string peer, System.Net.Security.SslApplicationProtocol alpn, System.Security.Authentication.SslProtocols tlsVersion, string serial);

    [LoggerMessage(EventId = MachineIdEventIds.WireServerCertificateRejected, EventName = "WireServerCertificateRejected", Level = LogLevel.Warning,
        Message = "Refused the server certificate of {Peer}: {Reason}")]
    public static partial void ServerCertificateRejected(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.WireUnexpectedAlpn, EventName = "WireUnexpectedAlpn", Level = LogLevel.Warning,
        Message = "{Peer} selected ALPN protocol {Alpn}, which was not offered for this connection; closed it")]
    public static partial void UnexpectedAlpn(ILogger logger, string peer, string alpn);

    [LoggerMessage(EventId = MachineIdEventIds.WireInsecureMode, EventName = "WireInsecureMode", Level = LogLevel.Warning,
        Message = "TLS certificates of {Target} are NOT verified because insecure mode was set explicitly; never use this in production")]
    public static partial void InsecureMode(ILogger logger, string target);

    [LoggerMessage(EventId = MachineIdEventIds.WirePlainHttpFallback, EventName = "WirePlainHttpFallback", Level = LogLevel.Warning,
        Message = "HTTPS request to {Url} failed in insecure mode; trying plain HTTP because the proxy is on a loopback address")]
    public static partial void PlainHttpFallback(ILogger logger, Exception exception, string url);

    [LoggerMessage(EventId = MachineIdEventIds.WireJoinStarted, EventName = "WireJoinStarted", Level = LogLevel.Information,
        Message = "Joining the cluster with a token via {Endpoint}")]
    public static partial void JoinStarted(ILogger logger, string endpoint);

    [LoggerMessage(EventId = MachineIdEventIds.WireJoinSucceeded, EventName = "WireJoinSucceeded", Level = LogLevel.Information,
        Message = "Joined as {User} (bot instance {BotInstance}, generation {Generation}, certificate serial {Serial}, valid until {NotAfter:u}) via {Api}")]
    public static partial void JoinSucceeded(ILogger logger, string user, string botInstance, int generation, string serial, DateTimeOffset notAfter, Join.JoinApi api);

    [LoggerMessage(EventId = MachineIdEventIds.WireJoinFallback, EventName = "WireJoinFallback", Level = LogLevel.Information,
        Message = "{Endpoint} does not serve teleport.join.v1.JoinService (an older Teleport 18 release); joining with the legacy {Api}")]
    public static partial void JoinFallback(ILogger logger, string endpoint, string api);

    [LoggerMessage(EventId = MachineIdEventIds.WireBoundKeypairKeyRequested, EventName = "WireBoundKeypairKeyRequested", Level = LogLevel.Information,
        Message = "The cluster asked for a new bound keypair key (suite {Suite}); generating and storing it before answering")]
    public static partial void BoundKeypairKeyRequested(ILogger logger, string suite);

    [LoggerMessage(EventId = MachineIdEventIds.WireCaPinsVerified, EventName = "WireCaPinsVerified", Level = LogLevel.Information,
        Message = "The {Count} CA certificate(s) of Auth at {Auth} match the configured CA pins")]
    public static partial void CaPinsVerified(ILogger logger, int count, HostPort auth);

    [LoggerMessage(EventId = MachineIdEventIds.WireCallFailed, EventName = "WireCallFailed", Level = LogLevel.Debug,
        Message = "{Operation} on {Endpoint} failed with gRPC status {Status}")]
    public static partial void CallFailed(ILogger logger, string operation, string endpoint, Grpc.Core.StatusCode status);

    [LoggerMessage(EventId = MachineIdEventIds.WireHttpCallFailed, EventName = "WireHttpCallFailed", Level = LogLevel.Debug,
        Message = "{Operation} on {Endpoint} failed with HTTP status {Status}")]
    public static partial void HttpCallFailed(ILogger logger, string operation, string endpoint, int status);

    [LoggerMessage(EventId = MachineIdEventIds.WireHeartbeatUnsupported, EventName = "WireHeartbeatUnsupported", Level = LogLevel.Information,
        Message = "The cluster does not implement BotInstanceService.SubmitHeartbeat; heartbeats are skipped")]
    public static partial void HeartbeatUnsupported(ILogger logger);

    [LoggerMessage(EventId = MachineIdEventIds.WireWatchStarted, EventName = "WireWatchStarted", Level = LogLevel.Debug,
        Message = "Watching certificate authorities of cluster {Cluster} via {Endpoint}")]
    public static partial void WatchStarted(ILogger logger, string cluster, string endpoint);

    [LoggerMessage(EventId = MachineIdEventIds.WireProxySshOpened, EventName = "WireProxySshOpened", Level = LogLevel.Debug,
        Message = "ProxySSH stream to {Target} in cluster {Cluster} opened via {Endpoint} (FIPS {Fips})")]
    public static partial void ProxySshOpened(ILogger logger, string target, string cluster, string endpoint, bool fips);

    [LoggerMessage(EventId = MachineIdEventIds.WireProxySshClosed, EventName = "WireProxySshClosed", Level = LogLevel.Debug,
        Message = "Stream {Stream} closed after {BytesWritten} bytes sent and {BytesRead} bytes received")]
    public static partial void StreamClosed(ILogger logger, string stream, long bytesWritten, long bytesRead);

    [LoggerMessage(EventId = MachineIdEventIds.WireCaPathLoaded, EventName = "WireCaPathLoaded", Level = LogLevel.Information,
        Message = "Trusting {Count} Auth CA certificate(s) from {Path}")]
    public static partial void CaPathLoaded(ILogger logger, int count, string path);

    [LoggerMessage(EventId = MachineIdEventIds.WireRouteAttempt, EventName = "WireRouteAttempt", Level = LogLevel.Debug,
        Message = "{Operation}: trying {Address} {Role}")]
    public static partial void RouteAttempt(ILogger logger, string operation, HostPort address, string role);

    [LoggerMessage(EventId = MachineIdEventIds.WireRouteFailed, EventName = "WireRouteFailed", Level = LogLevel.Debug,
        Message = "{Operation}: {Address} {Role} did not work before anything was sent: {Reason}")]
    public static partial void RouteFailed(ILogger logger, string operation, HostPort address, string role, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.WireRouteSelected, EventName = "WireRouteSelected", Level = LogLevel.Information,
        Message = "Using auth_server {Address} {Role}")]
    public static partial void RouteSelected(ILogger logger, HostPort address, string role);

    [LoggerMessage(EventId = MachineIdEventIds.WireConnectionUpgradeDecided, EventName = "WireConnectionUpgradeDecided", Level = LogLevel.Debug,
        Message = "ALPN connection upgrade required for {Proxy}: {Required} ({Reason})")]
    public static partial void ConnectionUpgradeDecided(ILogger logger, string proxy, bool required, string reason);

    [LoggerMessage(EventId = MachineIdEventIds.WireConnectionUpgraded, EventName = "WireConnectionUpgraded", Level = LogLevel.Debug,
        Message = "Connection to {Proxy} upgraded ({Mode}, {Type}); the TLS handshake for the endpoint runs inside it")]
    public static partial void ConnectionUpgraded(ILogger logger, HostPort proxy, string mode, string type);
}
