using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Wire.Discovery;
using Teleport.MachineId.Wire.Proto.Join.V1;
using Teleport.MachineId.Wire.Streams;
using LegacyJoin = Teleport.MachineId.Wire.Proto.Legacy.Client.JoinService;
using RegisterUsingTokenRequest = Teleport.MachineId.Wire.Proto.Legacy.Types.RegisterUsingTokenRequest;

namespace Teleport.MachineId.Wire.Join;

/// <summary>
/// The three ways to join with a token (teleport-protocol.md §3): the unified
/// <c>teleport.join.v1.JoinService/Join</c> stream, and the legacy proxy HTTP and Auth gRPC calls.
/// Keys are generated for the cluster's signature algorithm suite. The token is never logged and
/// is removed from any server message that echoes it.
/// </summary>
internal static class TokenJoin
{
    internal const string UnifiedOperation = "teleport.join.v1.JoinService/Join";

    /// <summary>Thrown when the server does not serve the unified join service; the caller falls back to a legacy API.</summary>
    internal sealed class UnifiedJoinUnavailableException(string message, Exception inner) : Exception(message, inner);

    /// <summary>
    /// Joins over the unified join stream: ClientInit → ServerInit (join method, suite) → keys
    /// generated for the suite → TokenInit{BotParams} → Result{BotResult}. On any client-side
    /// failure after ServerInit a <c>GivingUp</c> message tells the server why.
    /// </summary>
    /// <param name="invoker">Where to call (the proxy's join gRPC or Auth).</param>
    /// <param name="endpoint">Its description, for messages.</param>
    /// <param name="token">The join token (secret).</param>
    /// <param name="expires">Requested expiry of the bot certificates.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels the join.</param>
    /// <returns>The result.</returns>
    /// <exception cref="UnifiedJoinUnavailableException">The server does not implement the unified join service.</exception>
    /// <exception cref="TeleportJoinException">The server refused the token.</exception>
    /// <exception cref="TeleportConnectionException">The server could not be reached.</exception>
    /// <exception cref="TeleportProtocolException">The server broke the protocol.</exception>
    public static async Task<JoinResult> JoinUnifiedAsync(
        CallInvoker invoker, string endpoint, string token, DateTimeOffset expires, ILogger logger, CancellationToken cancellationToken)
    {
        using var call = new JoinService.JoinServiceClient(invoker).Join(cancellationToken: cancellationToken);
        PrivateKey? key = null;
        try
        {
            await GrpcCallFailures.WriteAsync(call, new JoinRequest
            {
                ClientInit = new ClientInit { JoinMethod = WireProtocol.TokenJoinMethod, TokenName = token, SystemRole = WireProtocol.BotSystemRole },
            }, cancellationToken).ConfigureAwait(false);

            var first = await ReceiveAsync(call, endpoint, cancellationToken).ConfigureAwait(false);
            if (first.PayloadCase != JoinResponse.PayloadOneofCase.Init)
            {
                throw await GiveUpAsync(call, GivingUp.Types.Reason.UnsupportedMessageType,
                    $"expected ServerInit, got {first.PayloadCase}", $"{UnifiedOperation} on {endpoint} answered ClientInit with {first.PayloadCase} instead of ServerInit.").ConfigureAwait(false);
            }

            var init = first.Init;
            if (!string.Equals(init.JoinMethod, WireProtocol.TokenJoinMethod, StringComparison.Ordinal))
            {
                throw await GiveUpAsync(call, GivingUp.Types.Reason.UnsupportedJoinMethod,
                    $"this client supports only the token join method, not '{init.JoinMethod}'",
                    $"The token is for the join method '{init.JoinMethod}', but this client joins with 'token'. Create a bot token with join method token.",
                    join: true).ConfigureAwait(false);
            }

            if (!SignatureAlgorithmSuite.TryParse(init.SignatureAlgorithmSuite, out var suite) || !suite.IsKnown)
            {
                throw await GiveUpAsync(call, GivingUp.Types.Reason.Unspecified,
                    "unsupported signature algorithm suite",
                    $"{UnifiedOperation} on {endpoint} announced a signature algorithm suite this client does not know; update Teleport.MachineId.").ConfigureAwait(false);
            }

            key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
            var bot = new BotParams
            {
                PublicKeys = new PublicKeys
                {
                    PublicTlsKey = ByteString.CopyFrom(key.PublicKey.ExportSubjectPublicKeyInfo()),
                    PublicSshKey = ByteString.CopyFrom(key.PublicKey.ToSshWire()),
                },
                Expires = Timestamp.FromDateTimeOffset(expires),
            };
            await GrpcCallFailures.WriteAsync(call, new JoinRequest { TokenInit = new TokenInit { ClientParams = new ClientParams { BotParams = bot } } }, cancellationToken)
                .ConfigureAwait(false);

            var second = await ReceiveAsync(call, endpoint, cancellationToken).ConfigureAwait(false);
            if (second.PayloadCase != JoinResponse.PayloadOneofCase.Result || second.Result.PayloadCase != Result.PayloadOneofCase.BotResult)
            {
                var got = second.PayloadCase == JoinResponse.PayloadOneofCase.Result ? $"Result.{second.Result.PayloadCase}" : second.PayloadCase.ToString();
                throw await GiveUpAsync(call, GivingUp.Types.Reason.UnsupportedMessageType,
                    $"expected a bot Result, got {got}", $"{UnifiedOperation} on {endpoint} answered TokenInit with {got} instead of a bot result.").ConfigureAwait(false);
            }

            var certificates = IssuedCertificates.FromJoinService(
                second.Result.BotResult.Certificates ?? new Certificates(), $"{UnifiedOperation} on {endpoint}");
            await CompleteQuietlyAsync(call).ConfigureAwait(false);
            var result = Check(new JoinResult(key, certificates, suite, JoinApi.Unified), $"{UnifiedOperation} on {endpoint}");
            key = null;
            return result;
        }
        catch (RpcException ex) when (WireErrors.IsUnimplemented(ex))
        {
            throw new UnifiedJoinUnavailableException($"{endpoint} does not implement {UnifiedOperation}.", ex);
        }
        catch (RpcException ex)
        {
            WireLog.CallFailed(logger, UnifiedOperation, endpoint, ex.StatusCode);
            throw WireErrors.FromRpc(ex, UnifiedOperation, endpoint, WireOperationKind.Join, token);
        }
        finally
        {
            key?.Dispose();
        }
    }

    /// <summary>Legacy join through the proxy's web API (<c>POST /webapi/host/credentials</c>).</summary>
    /// <param name="web">The proxy's web client.</param>
    /// <param name="suite">The suite from discovery.</param>
    /// <param name="token">The join token (the secret for the token method, the token resource's name otherwise).</param>
    /// <param name="expires">Requested expiry.</param>
    /// <param name="cancellationToken">Cancels the join.</param>
    /// <param name="idToken">For the OIDC-style methods, the ID token (<c>id_token</c>; secret).</param>
    /// <returns>The result.</returns>
    /// <exception cref="TeleportJoinException">The proxy refused the token.</exception>
    /// <exception cref="TeleportConnectionException">The proxy could not be reached.</exception>
    /// <exception cref="TeleportProtocolException">The answer is not Teleport's.</exception>
    public static async Task<JoinResult> JoinLegacyHttpAsync(
        ProxyWebClient web, SignatureAlgorithmSuite suite, string token, DateTimeOffset expires, CancellationToken cancellationToken, string? idToken = null)
    {
        var key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
        try
        {
            var request = new RegisterUsingTokenRequestJson
            {
                Role = WireProtocol.BotSystemRole,
                Token = token,
                PublicTlsKey = System.Text.Encoding.UTF8.GetBytes(key.PublicKey.ExportPem()),
                PublicSshKey = System.Text.Encoding.UTF8.GetBytes(key.PublicKey.ToAuthorizedKey() + "\n"),
                IdToken = idToken ?? string.Empty,
                Expires = expires,
            };
            var certificates = await web.RegisterUsingTokenAsync(request, cancellationToken).ConfigureAwait(false);
            var result = Check(new JoinResult(key, certificates, suite, JoinApi.LegacyHttp), $"POST /webapi/host/credentials on {web.Peer}");
            key = null;
            return result;
        }
        finally
        {
            key?.Dispose();
        }
    }

    /// <summary>Legacy join on Auth (<c>proto.JoinService/RegisterUsingToken</c>).</summary>
    /// <param name="invoker">Auth: unauthenticated for a first join; authenticated with the current identity for a re-join (Auth then keeps the bot instance).</param>
    /// <param name="endpoint">Its description.</param>
    /// <param name="suite">The suite from Auth's Ping.</param>
    /// <param name="token">The join token (the secret for the token method, the token resource's name otherwise).</param>
    /// <param name="expires">Requested expiry.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels the join.</param>
    /// <param name="idToken">For the OIDC-style methods, the ID token (<c>IDToken</c>; secret).</param>
    /// <returns>The result.</returns>
    /// <exception cref="TeleportJoinException">Auth refused the token.</exception>
    /// <exception cref="TeleportConnectionException">Auth could not be reached.</exception>
    /// <exception cref="TeleportProtocolException">The answer is malformed.</exception>
    public static async Task<JoinResult> JoinLegacyGrpcAsync(
        CallInvoker invoker, string endpoint, SignatureAlgorithmSuite suite, string token, DateTimeOffset expires, ILogger logger, CancellationToken cancellationToken,
        string? idToken = null)
    {
        const string operation = "proto.JoinService/RegisterUsingToken";
        var key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
        try
        {
            var request = LegacyRequest(key.PublicKey, token, expires);
            request.IDToken = idToken ?? string.Empty;
            Proto.Legacy.Client.Certs certs;
            try
            {
                certs = await new LegacyJoin.JoinServiceClient(invoker).RegisterUsingTokenAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                WireLog.CallFailed(logger, operation, endpoint, ex.StatusCode);
                throw string.IsNullOrEmpty(idToken)
                    ? WireErrors.FromRpc(ex, operation, endpoint, WireOperationKind.Join, token)
                    : WireErrors.FromRpc(ex, operation, endpoint, WireOperationKind.DelegatedJoin, idToken);
            }

            var certificates = IssuedCertificates.FromProto(certs, $"{operation} on {endpoint}");
            var result = Check(new JoinResult(key, certificates, suite, JoinApi.LegacyGrpc), $"{operation} on {endpoint}");
            key = null;
            return result;
        }
        finally
        {
            key?.Dispose();
        }
    }

    /// <summary>
    /// The registration parameters of the legacy gRPC joins (<c>types.RegisterUsingTokenRequest</c>):
    /// role Bot, the token, the TLS public key as PEM, the SSH public key in authorized_keys form, the requested expiry.
    /// </summary>
    internal static RegisterUsingTokenRequest LegacyRequest(PublicKeyInfo publicKey, string token, DateTimeOffset expires) => new()
    {
        Role = WireProtocol.BotSystemRole,
        Token = token,
        PublicTLSKey = ByteString.CopyFromUtf8(publicKey.ExportPem()),
        PublicSSHKey = ByteString.CopyFromUtf8(publicKey.ToAuthorizedKey() + "\n"),
        Expires = Timestamp.FromDateTimeOffset(expires),
    };

    /// <summary>The certificates must both be present and certify the key that was sent.</summary>
    internal static JoinResult Check(JoinResult result, string source)
    {
        var certificates = result.Certificates;
        if (certificates.TlsCertificate is null || certificates.SshCertificate is null)
        {
            throw new TeleportProtocolException($"{source} did not return both the TLS and the SSH certificate.");
        }

        if (certificates.SshCertificate.PublicKey != result.PrivateKey.PublicKey)
        {
            throw new TeleportProtocolException($"{source} returned an SSH certificate for a different key than the one sent.");
        }

        PublicKeyInfo tlsKey;
        try
        {
            tlsKey = PublicKeyInfo.ImportSubjectPublicKeyInfo(certificates.TlsCertificate.PublicKey.ExportSubjectPublicKeyInfo());
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportProtocolException($"{source} returned a TLS certificate with an unsupported key.", ex);
        }

        if (tlsKey != result.PrivateKey.PublicKey)
        {
            throw new TeleportProtocolException($"{source} returned a TLS certificate for a different key than the one sent.");
        }

        if (certificates.TlsCaCertificates.Count == 0)
        {
            throw new TeleportProtocolException($"{source} returned no CA certificates; the cluster's servers could not be verified.");
        }

        return result;
    }

    internal static Task<JoinResponse> ReceiveAsync(AsyncDuplexStreamingCall<JoinRequest, JoinResponse> call, string endpoint, CancellationToken cancellationToken) =>
        ReceiveAsync(call, UnifiedOperation, endpoint, cancellationToken);

    /// <summary>The next message of a join stream; the call's failure as an <see cref="RpcException"/>, or a protocol error when it ends early.</summary>
    internal static async Task<TResponse> ReceiveAsync<TRequest, TResponse>(
        AsyncDuplexStreamingCall<TRequest, TResponse> call, string operation, string endpoint, CancellationToken cancellationToken)
        where TRequest : class
        where TResponse : class
    {
        if (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            return call.ResponseStream.Current;
        }

        var status = call.GetStatus();
        if (status.StatusCode != StatusCode.OK)
        {
            throw new RpcException(status);
        }

        throw new TeleportProtocolException($"{operation} on {endpoint} ended the stream before the join finished.");
    }

    /// <summary>Tells the server why the client stops, half-closes, and returns the exception to throw.</summary>
    internal static async Task<TeleportException> GiveUpAsync(
        AsyncDuplexStreamingCall<JoinRequest, JoinResponse> call, GivingUp.Types.Reason reason, string serverMessage, string clientMessage, bool join = false)
    {
        try
        {
            await call.RequestStream.WriteAsync(new JoinRequest { GivingUp = new GivingUp { Reason = reason, Msg = serverMessage } }).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);

            // Let the server read it and end the stream before the call is disposed (which would
            // reset the stream and could drop the message); bounded, the client's error is what matters.
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (await call.ResponseStream.MoveNext(bound.Token).ConfigureAwait(false))
            {
            }
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or OperationCanceledException)
        {
            // The server may already have closed the stream; the client's error is what matters.
        }

        return join ? new TeleportJoinException(clientMessage) : new TeleportProtocolException(clientMessage);
    }

    internal static async Task CompleteQuietlyAsync<TRequest, TResponse>(AsyncDuplexStreamingCall<TRequest, TResponse> call)
        where TRequest : class
        where TResponse : class
    {
        try
        {
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
        {
            // The result is in hand; the server closing first is fine.
        }
    }
}
