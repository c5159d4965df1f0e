namespace Teleport.MachineId;

/// <summary>
/// Stable <see cref="Microsoft.Extensions.Logging.EventId"/> values of the log messages
/// Teleport.MachineId writes, so applications can filter or alert on them.
/// </summary>
/// <remarks>
/// Ranges: 1000–1099 join, 2000–2099 renewal, 3000–3099 destinations, 4000–4099 SSH and outputs,
/// 5000–5099 wire. An id, once published, keeps its meaning; retired ids are not reused.
/// </remarks>
public static class MachineIdEventIds
{
    // 1000–1099: join and storage (Teleport.MachineId identity provider).

    /// <summary>The bot storage was opened and locked (Debug).</summary>
    public const int BotStorageOpened = 1000;

    /// <summary>A valid identity was loaded from storage (Information).</summary>
    public const int BotIdentityLoaded = 1001;

    /// <summary>A stored identity was not used: expired, unreadable, or produced by another token (Warning).</summary>
    public const int BotStoredIdentityDiscarded = 1002;

    /// <summary>A stale in-flight renewal record was removed at start-up (Information).</summary>
    public const int BotStaleRenewalRecordCleared = 1003;

    /// <summary>The bot is joining the cluster (Information).</summary>
    public const int BotJoining = 1004;

    /// <summary>The bot joined the cluster (Information).</summary>
    public const int BotJoined = 1005;

    /// <summary>A join attempt failed; it will be retried (Warning).</summary>
    public const int BotJoinFailed = 1006;

    /// <summary>The bot needs a fresh join with a new token and has none (Error).</summary>
    public const int BotJoinRequired = 1007;

    /// <summary>The configured token differs from the one that produced the stored identity; joining again (Information).</summary>
    public const int BotTokenChanged = 1008;

    /// <summary>
    /// A renewal's outcome is uncertain (or the identity expired) and the join method can join again
    /// on its own; the bot joins again instead of waiting for a new token (Warning).
    /// </summary>
    public const int BotRejoiningUnattended = 1009;

    /// <summary>A one-shot join or renewal failed; the exception reaches the caller, who reports it (Debug).</summary>
    public const int BotAttemptFailed = 1010;

    // 1020–1039: delegated and bound keypair join methods.

    /// <summary>The bound keypair key history is unreadable; joining goes on without it (Warning).</summary>
    public const int BotBoundKeypairHistoryUnreadable = 1020;

    /// <summary>An ID token was obtained for a delegated join (source named, never the token) (Debug).</summary>
    public const int BotIdTokenObtained = 1021;

    /// <summary>A bound keypair join completed: bound key, recovery or rotation (Information).</summary>
    public const int BotBoundKeypairJoined = 1022;

    // 2000–2099: renewal.

    /// <summary>A renewal started (Debug).</summary>
    public const int BotRenewing = 2000;

    /// <summary>The identity was renewed (Information).</summary>
    public const int BotRenewed = 2001;

    /// <summary>A renewal failed; the last identity is still served and the renewal is retried (Warning).</summary>
    public const int BotRenewalFailed = 2002;

    /// <summary>The cluster granted a shorter lifetime than requested (Warning).</summary>
    public const int BotTtlShortened = 2003;

    /// <summary>The next renewal was scheduled (Debug).</summary>
    public const int BotRenewalScheduled = 2004;

    /// <summary>A renewal got no answer after its request may have reached the cluster (Debug; the error that follows, <see cref="BotJoinRequired"/>, says what to do).</summary>
    public const int BotRenewalOutcomeUnknown = 2005;

    /// <summary>The identity expired before it could be renewed (Error).</summary>
    public const int BotIdentityExpired = 2006;

    /// <summary>A certificate authority rotation was detected; a renewal follows (Information).</summary>
    public const int BotCaRotationDetected = 2007;

    /// <summary>The certificate authority watch failed and will reconnect (Debug).</summary>
    public const int BotCaWatchFailed = 2008;

    /// <summary>The cluster does not support the certificate authority watch (Information).</summary>
    public const int BotCaWatchNotSupported = 2009;

    /// <summary>A bot instance heartbeat was submitted (Debug).</summary>
    public const int BotHeartbeatSubmitted = 2010;

    /// <summary>A heartbeat failed (Debug).</summary>
    public const int BotHeartbeatFailed = 2011;

    /// <summary>The cluster does not implement heartbeats; they are turned off (Information).</summary>
    public const int BotHeartbeatsNotSupported = 2012;

    /// <summary>A handler of an identity change threw; it was ignored (Warning).</summary>
    public const int BotIdentityChangedHandlerFailed = 2013;

    /// <summary>The renewed identity has a generation other than the expected one (Warning).</summary>
    public const int BotUnexpectedGeneration = 2014;

    /// <summary>The in-flight renewal record could not be removed after a renewal (Warning).</summary>
    public const int BotRenewalRecordClearFailed = 2015;

    // 3000–3099: destinations (Teleport.MachineId.Destinations).

    /// <summary>A destination was initialized and is ready for writes (Information).</summary>
    public const int DestinationInitialized = 3000;

    /// <summary>A destination directory (or a missing parent) was created with mode 0700 (Information).</summary>
    public const int DestinationDirectoryCreated = 3001;

    /// <summary>A set of artifacts was written to a destination (Debug).</summary>
    public const int DestinationArtifactsWritten = 3002;

    /// <summary>
    /// <c>symlinks: try-secure</c> could not use <c>openat2(RESOLVE_NO_SYMLINKS)</c> and fell back to a
    /// weaker check (Warning).
    /// </summary>
    public const int DestinationSecureSymlinksFallback = 3003;

    /// <summary>
    /// An unexpected symbolic link at an artifact name was replaced by the destination's own link;
    /// its target was not written (Warning).
    /// </summary>
    public const int DestinationUnexpectedSymlinkReplaced = 3004;

    /// <summary>ACL readers are configured but ACLs could not be applied; they are disabled (Warning).</summary>
    public const int DestinationAclsUnavailable = 3005;

    /// <summary>An ACL that did not match the configured readers was corrected (Warning).</summary>
    public const int DestinationAclCorrected = 3006;

    /// <summary>Readers are configured but <c>acls: off</c>, so no ACLs are managed (Information).</summary>
    public const int DestinationAclsIgnored = 3007;

    /// <summary>An old generation of artifacts was removed from a destination directory (Debug).</summary>
    public const int DestinationGenerationRemoved = 3008;

    /// <summary>Cleaning up old generations or temporary entries failed; the write itself succeeded (Warning).</summary>
    public const int DestinationCleanupFailed = 3009;

    /// <summary>A plain file at an artifact name (for example written by tbot) was replaced by a link (Information).</summary>
    public const int DestinationPlainFileReplaced = 3010;

    /// <summary>The link of an artifact that is no longer part of the set was removed (Debug).</summary>
    public const int DestinationStaleLinkRemoved = 3011;

    /// <summary>A read raced with a write that removed the generation being read; the read was retried (Debug).</summary>
    public const int DestinationReadRetried = 3012;

    /// <summary>The destination directory is writable by its group or by others (Warning).</summary>
    public const int DestinationDirectoryPermissive = 3013;

    // 4000–4099: SSH and outputs (Teleport.MachineId.Outputs): identity outputs, SSH access.

    /// <summary>An identity output renewal started (Debug).</summary>
    public const int OutputRenewing = 4000;

    /// <summary>An identity output wrote a new, consistent set of credentials (Information).</summary>
    public const int OutputWritten = 4001;

    /// <summary>An identity output renewal failed; the previous credentials stay in place and it is retried (Warning).</summary>
    public const int OutputRenewalFailed = 4002;

    /// <summary>An output without roles resolved the bot's impersonable roles (Debug).</summary>
    public const int OutputRolesResolved = 4003;

    /// <summary>The cluster's auth preference could not be read; the suite from discovery is used (Debug).</summary>
    public const int OutputSuiteFallback = 4004;

    /// <summary>The next renewal of an identity output was scheduled (Debug).</summary>
    public const int OutputRenewalScheduled = 4005;

    /// <summary>An identity output was granted a shorter lifetime than it asked for (Information).</summary>
    public const int OutputTtlShortened = 4006;

    /// <summary>An SSH connection to a node through the proxy was opened (Debug).</summary>
    public const int SshNodeConnected = 4010;

    /// <summary>A node's host certificate was refused (Warning).</summary>
    public const int SshHostCertificateRejected = 4011;

    /// <summary>An ssh-multiplexer listens on its sockets and serves connections (Information).</summary>
    public const int MultiplexerListening = 4020;

    /// <summary>An ssh-multiplexer received a request and is dialing the node (Debug).</summary>
    public const int MultiplexerRequest = 4021;

    /// <summary>An ssh-multiplexer connection failed: a malformed request or a node that could not be reached; the client was told on its stderr (Warning).</summary>
    public const int MultiplexerConnectionFailed = 4022;

    /// <summary>An ssh-multiplexer connection ended, with its duration (Debug).</summary>
    public const int MultiplexerConnectionClosed = 4023;

    /// <summary>An ssh-multiplexer renewed its in-memory credentials (Information).</summary>
    public const int MultiplexerRenewed = 4024;

    /// <summary>An SSH agent connection of an ssh-multiplexer ended with an error (Debug).</summary>
    public const int MultiplexerAgentFailed = 4025;

    /// <summary>An ssh_host output wrote a host key and certificate (Information).</summary>
    public const int SshHostOutputWritten = 4030;

    // 5000–5099: wire (Teleport.MachineId.Wire, internal): discovery, connections, join, calls.

    /// <summary>The proxy's <c>/webapi/find</c> answered: cluster, version, TLS routing, suite (Information).</summary>
    public const int WireClusterDiscovered = 5000;

    /// <summary>A TLS connection to a Teleport endpoint was established (Debug).</summary>
    public const int WireTlsConnected = 5001;

    /// <summary>A server certificate was refused: wrong CA, name, or validity (Warning).</summary>
    public const int WireServerCertificateRejected = 5002;

    /// <summary>A server selected an ALPN protocol this client did not ask for; the connection was closed (Warning).</summary>
    public const int WireUnexpectedAlpn = 5003;

    /// <summary>TLS verification is disabled because <c>insecure</c> was set explicitly (Warning).</summary>
    public const int WireInsecureMode = 5004;

    /// <summary>HTTPS to a loopback proxy failed in insecure mode; plain HTTP is tried, as Teleport does (Warning).</summary>
    public const int WirePlainHttpFallback = 5005;

    /// <summary>A join with a token started (Information).</summary>
    public const int WireJoinStarted = 5006;

    /// <summary>A join succeeded: bot user, instance, generation, expiry (Information).</summary>
    public const int WireJoinSucceeded = 5007;

    /// <summary>The server does not serve the unified join service; the legacy join API is used (Information).</summary>
    public const int WireJoinFallback = 5008;

    /// <summary>The Auth Service's CA certificates matched the configured CA pins (Information).</summary>
    public const int WireCaPinsVerified = 5009;

    /// <summary>A gRPC call to the cluster failed (Debug; the exception that reaches the caller carries the details).</summary>
    public const int WireCallFailed = 5010;

    /// <summary>The cluster does not accept bot heartbeats (older Teleport); they are skipped (Information).</summary>
    public const int WireHeartbeatUnsupported = 5011;

    /// <summary>A watch of certificate authorities was opened (Debug).</summary>
    public const int WireWatchStarted = 5012;

    /// <summary>A <c>ProxySSH</c> stream to a node was opened (Debug).</summary>
    public const int WireProxySshOpened = 5013;

    /// <summary>A <c>ProxySSH</c> stream was closed, with byte counts (Debug).</summary>
    public const int WireProxySshClosed = 5014;

    /// <summary>The trusted Auth CA certificates were read from <c>ca_path</c> (Information).</summary>
    public const int WireCaPathLoaded = 5015;

    /// <summary>A request to the proxy's web API failed with an HTTP error status (Debug).</summary>
    public const int WireHttpCallFailed = 5016;

    /// <summary>The cluster asked a bound keypair bot for a new key (registration or rotation).</summary>
    public const int WireBoundKeypairKeyRequested = 5017;

    /// <summary>An operation tries the configured <c>auth_server</c> address as the Auth Service or as a proxy (Debug).</summary>
    public const int WireRouteAttempt = 5018;

    /// <summary>Trying the <c>auth_server</c> address one way failed before anything was sent; the next way is tried (Debug).</summary>
    public const int WireRouteFailed = 5019;

    /// <summary>The <c>auth_server</c> address is now used as the Auth Service or as a proxy (Information).</summary>
    public const int WireRouteSelected = 5020;

    /// <summary>Whether a proxy needs the ALPN connection upgrade was decided, with the reason (Debug).</summary>
    public const int WireConnectionUpgradeDecided = 5021;

    /// <summary>A connection to a proxy was upgraded into a tunnel for ALPN-routed TLS (Debug).</summary>
    public const int WireConnectionUpgraded = 5022;
}
