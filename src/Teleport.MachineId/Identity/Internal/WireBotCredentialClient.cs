using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Join;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// The production <see cref="IBotCredentialClient"/>: the wire client, presenting the provider's
/// current identity on every authenticated call.
/// </summary>
/// <remarks>
/// The wire client reads its identity through a callback before each call; here that callback is
/// the provider's <see cref="IBotIdentityProvider.Current"/>, which only moves forward after a
/// renewed identity is stored durably. Renewals run one at a time, so during a renewal the
/// presented certificate is exactly the one being renewed — a renewal never presents an older
/// generation than the one it renews from (Teleport would lock the bot).
/// </remarks>
internal sealed class WireBotCredentialClient : IBotCredentialClient
{
    private readonly TeleportWireClient _client;
    private readonly Func<BotIdentity?> _currentIdentity;

    private WireBotCredentialClient(WireClientOptions options, Func<BotIdentity?> currentIdentity)
    {
        _currentIdentity = currentIdentity;
        _client = TeleportWireClient.Create(options, MachineIdWireOptions.BotWireIdentity(currentIdentity));
    }

    /// <exception cref="ArgumentException">An address is malformed or the proxy CA bundle cannot be read.</exception>
    public static WireBotCredentialClient Create(MachineIdOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, Func<BotIdentity?> currentIdentity) =>
        new(MachineIdWireOptions.Create(options, loggerFactory, timeProvider), currentIdentity);

    public async Task<SignatureAlgorithmSuite> GetSignatureAlgorithmSuiteAsync(BotIdentity? identity, CancellationToken cancellationToken)
    {
        if (identity is not null)
        {
            try
            {
                var preference = await _client.GetAuthPreferenceAsync(cancellationToken).ConfigureAwait(false);
                return preference.SignatureAlgorithmSuite;
            }
            catch (TeleportProtocolException)
            {
                // Older servers without ClusterConfigService: the discovery answer has the suite too.
            }
        }

        var discovery = await _client.DiscoverAsync(cancellationToken).ConfigureAwait(false);
        return discovery.SignatureAlgorithmSuite;
    }

    public async Task<BotJoinResult> JoinWithTokenAsync(string token, TimeSpan credentialTtl, CancellationToken cancellationToken)
    {
        // The wire client can surface a bare cancellation when the server finishes the join stream
        // while the client is still writing (an Unimplemented unified join that should fall back to
        // the legacy API, or a refused token) before the call's status is observable. The server
        // issued nothing in that case (it had not received the key yet), so the token is unspent
        // and the join can safely be tried again.
        JoinResult? result = null;
        for (var attempt = 1; result is null; attempt++)
        {
            try
            {
                result = await _client.JoinWithTokenAsync(token, credentialTtl, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (attempt >= 3)
                {
                    throw new TeleportJoinException(
                        "The cluster ended the join before it completed, most often because the token was not found, expired or was already used (token joins are single-use).",
                        ex);
                }
            }
        }

        return new BotJoinResult(result.PrivateKey, ToIssued(result.Certificates));
    }

    public async Task<BotJoinResult> JoinWithIdTokenAsync(string tokenName, string idToken, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken)
    {
        var result = await _client.JoinWithIdTokenAsync(tokenName, idToken, credentialTtl, presentIdentity && _currentIdentity() is not null, cancellationToken)
            .ConfigureAwait(false);
        return new BotJoinResult(result.PrivateKey, ToIssued(result.Certificates));
    }

    public async Task<BoundKeypairJoinAnswer> JoinWithBoundKeypairAsync(
        BoundKeypairJoinParameters parameters, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken)
    {
        var outcome = await _client.JoinWithBoundKeypairAsync(parameters, credentialTtl, presentIdentity && _currentIdentity() is not null, cancellationToken)
            .ConfigureAwait(false);
        return new BoundKeypairJoinAnswer(new BotJoinResult(outcome.Join.PrivateKey, ToIssued(outcome.Join.Certificates)), outcome);
    }

    public async Task<IssuedBotCertificates> RenewAsync(
        BotIdentity identity, PublicKeyInfo publicKey, DateTimeOffset expires, Func<CancellationToken, Task> beforeSend, CancellationToken cancellationToken)
    {
        if (!ReferenceEquals(_currentIdentity(), identity))
        {
            // Nothing was sent: renewing anything but the presented identity could present a stale generation.
            throw new InvalidOperationException("Only the provider's current identity can be renewed.");
        }

        try
        {
            var certificates = await _client.GenerateUserCertsAsync(
                UserCertificateRequest.ForBotRenewal(identity.Username, publicKey, expires), beforeSend, cancellationToken).ConfigureAwait(false);
            return ToIssued(certificates);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && MayHaveReachedServer(ex))
        {
            throw new RenewalOutcomeUnknownException(
                $"The renewal request may have reached the cluster, but no answer arrived ({ex.GetType().Name}).", ex);
        }
    }

    public async Task SubmitHeartbeatAsync(BotIdentity identity, BotHeartbeat heartbeat, CancellationToken cancellationToken)
    {
        if (!await _client.SubmitHeartbeatAsync(heartbeat, cancellationToken).ConfigureAwait(false))
        {
            throw new NotSupportedException("The cluster does not implement bot instance heartbeats.");
        }
    }

    public async IAsyncEnumerable<CertificateAuthorityChange> WatchCertificateAuthoritiesAsync(
        BotIdentity identity, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var events = _client.WatchCertAuthoritiesAsync(identity.ClusterName, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var disposeEvents = events.ConfigureAwait(false);
        while (true)
        {
            try
            {
                if (!await events.MoveNextAsync().ConfigureAwait(false))
                {
                    yield break;
                }
            }
            catch (TeleportProtocolException ex) when (ex.InnerException is RpcException { StatusCode: StatusCode.Unimplemented })
            {
                throw new NotSupportedException("The cluster does not implement WatchEvents.", ex);
            }

            var change = events.Current;
            if (change.Operation == WatchOperation.Put && change.CertAuthority is { } authority)
            {
                yield return new CertificateAuthorityChange(authority.Type, authority.ClusterName, authority.Rotation.Phase);
            }
        }
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();

    /// <summary>
    /// Whether a failed call may have been processed by the server. Definite answers from the
    /// server, and failures to connect, mean it was not; anything that broke after the request
    /// could have been sent (reset stream, deadline, I/O error) means it may have been.
    /// </summary>
    internal static bool MayHaveReachedServer(Exception exception)
    {
        RpcException? rpc = null;
        var cancelled = false;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is RpcException found)
            {
                rpc = found;
                break;
            }

            cancelled |= e is OperationCanceledException;
        }

        if (rpc is null)
        {
            // The wire client gave up waiting after sending (its call timeout), or failed before the call.
            return cancelled;
        }

        if (rpc.Status.DebugException is null)
        {
            // A status the server sent (or a client-side deadline/cancellation without a cause).
            return rpc.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Unknown;
        }

        for (var e = rpc.Status.DebugException; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }:
                case TeleportException:
                case SocketException:
                case AuthenticationException:
                    return false;
            }
        }

        return true;
    }

    private static IssuedBotCertificates ToIssued(IssuedCertificates certificates) => new(
        certificates.TlsCertificatePem ?? throw new TeleportProtocolException("The cluster issued no TLS certificate for the bot."),
        certificates.SshCertificateLine ?? throw new TeleportProtocolException("The cluster issued no SSH certificate for the bot."),
        certificates.TlsCaCertificatePems,
        certificates.SshCaKeyLines);
}
