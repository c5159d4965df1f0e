using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// What the identity engine needs from the cluster: join, renew, heartbeats and CA rotation
/// notices. The production implementation sits on the wire client; tests may use the emulator
/// through it.
/// </summary>
/// <remarks>
/// Failures are <see cref="TeleportException"/> subtypes (connection errors transient, access denied
/// final). <see cref="RenewAsync"/> must throw <see cref="RenewalOutcomeUnknownException"/> when the
/// request may have reached the cluster but no answer arrived, because the cluster may then have
/// advanced the bot's generation.
/// </remarks>
internal interface IBotCredentialClient : IAsyncDisposable
{
    /// <summary>
    /// The cluster's signature algorithm suite, which decides the bot's key algorithm; queried with
    /// the current identity when there is one, unauthenticated (before joining) otherwise.
    /// </summary>
    Task<SignatureAlgorithmSuite> GetSignatureAlgorithmSuiteAsync(BotIdentity? identity, CancellationToken cancellationToken);

    /// <summary>
    /// Joins with the <c>token</c> method (role <c>Bot</c>), generating the key for the cluster's
    /// suite (the unified join service tells it only after the join started).
    /// </summary>
    Task<BotJoinResult> JoinWithTokenAsync(string token, TimeSpan credentialTtl, CancellationToken cancellationToken);

    /// <summary>
    /// Joins with an OIDC-style method (<c>github</c>, <c>gitlab</c>, <c>kubernetes</c>): the token
    /// resource's name and the ID token (<c>RegisterUsingToken</c> with <c>IDToken</c>). With
    /// <paramref name="presentIdentity"/> the join is made on Auth over a connection authenticated by
    /// the current identity, so the cluster keeps the bot instance.
    /// </summary>
    /// <exception cref="TeleportJoinException">The cluster refused the ID token.</exception>
    Task<BotJoinResult> JoinWithIdTokenAsync(string tokenName, string idToken, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken);

    /// <summary>
    /// Joins with the <c>bound_keypair</c> method (<c>teleport.join.v1</c>); with
    /// <paramref name="presentIdentity"/> on Auth authenticated by the current identity (a re-join
    /// keeping the bot instance, no recovery consumed).
    /// </summary>
    /// <exception cref="TeleportJoinException">The cluster refused the join.</exception>
    Task<BoundKeypairJoinAnswer> JoinWithBoundKeypairAsync(
        Wire.Join.BoundKeypairJoinParameters parameters, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken);

    /// <summary>
    /// Renews a renewable identity with <c>GenerateUserCerts</c> on an mTLS connection
    /// authenticated by <paramref name="identity"/>, for a new key.
    /// </summary>
    /// <param name="identity">The identity to renew (the one presented).</param>
    /// <param name="publicKey">The new key.</param>
    /// <param name="expires">The requested expiry.</param>
    /// <param name="beforeSend">
    /// Awaited immediately before the request leaves — after the route and connection are resolved
    /// and the request is built — and never when the call fails before that point. Its exceptions
    /// end the call with nothing sent.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="RenewalOutcomeUnknownException">The request may have been processed but no answer arrived.</exception>
    Task<IssuedBotCertificates> RenewAsync(
        BotIdentity identity, PublicKeyInfo publicKey, DateTimeOffset expires, Func<CancellationToken, Task> beforeSend, CancellationToken cancellationToken);

    /// <summary>Submits a bot instance heartbeat.</summary>
    /// <exception cref="NotSupportedException">The cluster does not implement heartbeats.</exception>
    Task SubmitHeartbeatAsync(BotIdentity identity, BotHeartbeat heartbeat, CancellationToken cancellationToken);

    /// <summary>
    /// Watches the cluster's certificate authorities; yields every change (the engine filters by
    /// rotation phase). Ends or throws when the stream breaks.
    /// </summary>
    /// <exception cref="NotSupportedException">The cluster does not implement the watch.</exception>
    IAsyncEnumerable<CertificateAuthorityChange> WatchCertificateAuthoritiesAsync(BotIdentity identity, CancellationToken cancellationToken);
}

/// <summary>A bound keypair join's identity, the key the cluster has bound, and the join state to present next time.</summary>
/// <param name="Join">The key and certificates.</param>
/// <param name="Outcome">The bound key, join state and how many new keys the cluster asked for.</param>
internal sealed record BoundKeypairJoinAnswer(BotJoinResult Join, Wire.Join.BoundKeypairJoinOutcome Outcome);

/// <summary>Certificates the cluster issued on a join or renewal (Teleport's <c>proto.Certs</c>, text forms).</summary>
/// <param name="TlsCertificatePem">The TLS certificate, PEM.</param>
/// <param name="SshCertificate">The SSH certificate, authorized_keys line.</param>
/// <param name="TlsCaCertificatesPem">The TLS CA certificates (user and host CAs), PEM each.</param>
/// <param name="SshCaKeys">The SSH CA keys (user and host CAs), authorized_keys lines.</param>
internal sealed record IssuedBotCertificates(
    string TlsCertificatePem,
    string SshCertificate,
    IReadOnlyList<string> TlsCaCertificatesPem,
    IReadOnlyList<string> SshCaKeys);

/// <summary>A certificate authority was put (created or updated) by the cluster.</summary>
/// <param name="Type">The CA type: <c>host</c>, <c>user</c>, <c>db</c>, …</param>
/// <param name="ClusterName">The cluster the CA belongs to.</param>
/// <param name="RotationPhase">The rotation phase (<c>""</c>, <c>init</c>, <c>update_clients</c>, <c>update_servers</c>, <c>standby</c>, <c>rollback</c>).</param>
internal sealed record CertificateAuthorityChange(string Type, string ClusterName, string RotationPhase);

/// <summary>
/// A renewal request may have reached the cluster but its answer was lost (connection reset,
/// deadline): the cluster may have advanced the bot's generation.
/// </summary>
internal sealed class RenewalOutcomeUnknownException : TeleportException
{
    public RenewalOutcomeUnknownException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Creates the credential client for a provider; <paramref name="currentIdentity"/> returns the
/// provider's current identity, the one every authenticated call must present.
/// </summary>
internal delegate IBotCredentialClient BotCredentialClientFactory(
    MachineIdOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, Func<BotIdentity?> currentIdentity);
