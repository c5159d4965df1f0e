using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Proto.Join.V1;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Streams;
using LegacyJoin = Teleport.MachineId.Wire.Proto.Legacy.Client.JoinService;

namespace Teleport.MachineId.Wire.Join;

/// <summary>The bound keypair keys a join may need: the active key, older keys, and new ones on rotation.</summary>
internal interface IBoundKeypairKeys
{
    /// <summary>The private key for <paramref name="publicKey"/> (the active key or one from the key history), or null.</summary>
    PrivateKey? FindKey(PublicKeyInfo publicKey);

    /// <summary>
    /// Generates a key for <paramref name="suite"/> and stores it durably (in the key history)
    /// <em>before</em> returning: the cluster may bind it as soon as the answer leaves.
    /// </summary>
    Task<PrivateKey> CreateKeyAsync(SignatureAlgorithmSuite suite, CancellationToken cancellationToken);
}

/// <summary>What a bound keypair join presents.</summary>
/// <param name="TokenName">The token resource's name (not a secret).</param>
/// <param name="RegistrationSecret">The registration secret; sent only while there is no join state (a first join).</param>
/// <param name="PreviousJoinState">The join state document from the last join; empty before the first.</param>
/// <param name="Keys">The keys.</param>
internal sealed record BoundKeypairJoinParameters(string TokenName, string? RegistrationSecret, ReadOnlyMemory<byte> PreviousJoinState, IBoundKeypairKeys Keys);

/// <summary>A bound keypair join's outcome: the identity, the key the cluster has bound, and the join state to present next time.</summary>
internal sealed class BoundKeypairJoinOutcome
{
    public required JoinResult Join { get; init; }

    /// <summary>The bound public key after the join (changed by a rotation).</summary>
    public required PublicKeyInfo BoundPublicKey { get; init; }

    /// <summary>The signed join state document (a JWT; opaque to the client).</summary>
    public required byte[] JoinState { get; init; }

    /// <summary>How many keys the cluster asked for (registration or rotation).</summary>
    public int NewKeysRequested { get; init; }
}

/// <summary>
/// The <c>bound_keypair</c> join, over either protocol tbot 18 speaks. The unified
/// <c>teleport.join.v1.JoinService/Join</c> (<c>lib/join/joinclient/join_boundkeypair.go</c>):
/// ClientInit → ServerInit → BoundKeypairInit{bot params, registration secret while unbound, previous
/// join state} → challenges and rotation requests → Result{BotResult{certificates, bound_keypair_result}}.
/// The legacy <c>proto.JoinService/RegisterUsingBoundKeypairMethod</c> of Teleport 18.0/18.1
/// (<c>lib/auth/join/join.go</c>): keys generated first for the suite the cluster reports →
/// init{RegisterUsingTokenRequest, registration secret, previous join state} → the same challenges and
/// rotation requests → certs{Certs, join state, bound public key}. Both sign a challenge the same way
/// (a compact JWS over its bytes with the key the cluster names) and store a requested key before
/// answering with it.
/// </summary>
internal static class BoundKeypairJoin
{
    /// <summary>The legacy stream's gRPC method.</summary>
    internal const string LegacyOperation = "proto.JoinService/RegisterUsingBoundKeypairMethod";

    /// <summary>A join never needs more exchanges than registration + rotation, each with a challenge.</summary>
    private const int MaxExchanges = 8;

    /// <summary>Runs the join on <paramref name="invoker"/> (the proxy's join gRPC, or Auth — authenticated for a re-join).</summary>
    /// <exception cref="TokenJoin.UnifiedJoinUnavailableException">The server does not implement the unified join service.</exception>
    /// <exception cref="TeleportJoinException">The cluster refused the join, or asked for a key this bot does not hold.</exception>
    /// <exception cref="TeleportConnectionException">The cluster could not be reached.</exception>
    /// <exception cref="TeleportProtocolException">The server broke the protocol.</exception>
    public static async Task<BoundKeypairJoinOutcome> JoinAsync(
        CallInvoker invoker, string endpoint, BoundKeypairJoinParameters parameters, DateTimeOffset expires, ILogger logger, CancellationToken cancellationToken)
    {
        var operation = $"{TokenJoin.UnifiedOperation} on {endpoint}";
        using var call = new Proto.Join.V1.JoinService.JoinServiceClient(invoker).Join(cancellationToken: cancellationToken);
        PrivateKey? key = null;
        try
        {
            await GrpcCallFailures.WriteAsync(call, new JoinRequest
            {
                ClientInit = new ClientInit { JoinMethod = WireProtocol.BoundKeypairJoinMethod, TokenName = parameters.TokenName, SystemRole = WireProtocol.BotSystemRole },
            }, cancellationToken).ConfigureAwait(false);

            var first = await TokenJoin.ReceiveAsync(call, endpoint, cancellationToken).ConfigureAwait(false);
            if (first.PayloadCase != JoinResponse.PayloadOneofCase.Init)
            {
                throw await TokenJoin.GiveUpAsync(call, GivingUp.Types.Reason.UnsupportedMessageType,
                    $"expected ServerInit, got {first.PayloadCase}", $"{operation} answered ClientInit with {first.PayloadCase} instead of ServerInit.").ConfigureAwait(false);
            }

            if (!string.Equals(first.Init.JoinMethod, WireProtocol.BoundKeypairJoinMethod, StringComparison.Ordinal))
            {
                throw await TokenJoin.GiveUpAsync(call, GivingUp.Types.Reason.UnsupportedJoinMethod,
                    $"this client is configured for bound_keypair, not '{first.Init.JoinMethod}'",
                    $"The token '{parameters.TokenName}' is for the join method '{first.Init.JoinMethod}', but this bot is configured for 'bound_keypair'.",
                    join: true).ConfigureAwait(false);
            }

            var suite = ParseSuite(first.Init.SignatureAlgorithmSuite);
            key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
            var initial = new BoundKeypairInit
            {
                ClientParams = new ClientParams
                {
                    BotParams = new BotParams
                    {
                        PublicKeys = new PublicKeys
                        {
                            PublicTlsKey = ByteString.CopyFrom(key.PublicKey.ExportSubjectPublicKeyInfo()),
                            PublicSshKey = ByteString.CopyFrom(key.PublicKey.ToSshWire()),
                        },
                        Expires = Timestamp.FromDateTimeOffset(expires),
                    },
                },
                PreviousJoinState = ByteString.CopyFrom(parameters.PreviousJoinState.Span),
            };

            initial.InitialJoinSecret = InitialSecret(parameters);

            await GrpcCallFailures.WriteAsync(call, new JoinRequest { BoundKeypairInit = initial }, cancellationToken).ConfigureAwait(false);

            var newKeys = 0;
            for (var exchange = 0; exchange < MaxExchanges; exchange++)
            {
                var message = await TokenJoin.ReceiveAsync(call, endpoint, cancellationToken).ConfigureAwait(false);
                switch (message.PayloadCase)
                {
                    case JoinResponse.PayloadOneofCase.Challenge when message.Challenge.PayloadCase == Challenge.PayloadOneofCase.BoundKeypairChallenge:
                        var challenge = message.Challenge.BoundKeypairChallenge;
                        var signed = Sign(parameters, initial.InitialJoinSecret.Length > 0, challenge.PublicKey.ToStringUtf8(), challenge.Challenge, operation);
                        if (signed.Error is { } refusal)
                        {
                            throw await TokenJoin.GiveUpAsync(call, GivingUp.Types.Reason.ChallengeSolutionFailed, signed.ServerMessage, refusal.Message, join: refusal is TeleportJoinException)
                                .ConfigureAwait(false);
                        }

                        await GrpcCallFailures.WriteAsync(call, new JoinRequest
                        {
                            Solution = new ChallengeSolution { BoundKeypairChallengeSolution = new BoundKeypairChallengeSolution { Solution = ByteString.CopyFromUtf8(signed.Solution) } },
                        }, cancellationToken).ConfigureAwait(false);
                        break;
                    case JoinResponse.PayloadOneofCase.Challenge when message.Challenge.PayloadCase == Challenge.PayloadOneofCase.BoundKeypairRotationRequest:
                        var created = await CreateKeyAsync(parameters, ParseSuite(message.Challenge.BoundKeypairRotationRequest.SignatureAlgorithmSuite), logger, cancellationToken)
                            .ConfigureAwait(false);
                        newKeys++;
                        await GrpcCallFailures.WriteAsync(call, new JoinRequest
                        {
                            Solution = new ChallengeSolution
                            {
                                BoundKeypairRotationResponse = new BoundKeypairRotationResponse { PublicKey = ByteString.CopyFromUtf8(created.ToAuthorizedKey()) },
                            },
                        }, cancellationToken).ConfigureAwait(false);
                        break;
                    case JoinResponse.PayloadOneofCase.Result when message.Result.PayloadCase == Result.PayloadOneofCase.BotResult:
                        var bot = message.Result.BotResult;
                        if (bot.BoundKeypairResult is not { } bound)
                        {
                            throw new TeleportProtocolException($"{operation} returned a bot result without the bound keypair result.");
                        }

                        var boundKey = ParseBoundKey(bound.PublicKey.ToStringUtf8(), operation);
                        var certificates = IssuedCertificates.FromJoinService(bot.Certificates ?? new Certificates(), operation);
                        await TokenJoin.CompleteQuietlyAsync(call).ConfigureAwait(false);
                        var result = TokenJoin.Check(new JoinResult(key, certificates, suite, JoinApi.Unified), operation);
                        key = null;
                        return new BoundKeypairJoinOutcome { Join = result, BoundPublicKey = boundKey, JoinState = bound.JoinState.ToByteArray(), NewKeysRequested = newKeys };
                    default:
                        var got = message.PayloadCase switch
                        {
                            JoinResponse.PayloadOneofCase.Challenge => "Challenge." + message.Challenge.PayloadCase,
                            JoinResponse.PayloadOneofCase.Result => "Result." + message.Result.PayloadCase,
                            _ => message.PayloadCase.ToString(),
                        };
                        throw await TokenJoin.GiveUpAsync(call, GivingUp.Types.Reason.UnsupportedMessageType,
                            $"unexpected message {got}", $"{operation} sent {got}, which a bound keypair join does not expect.").ConfigureAwait(false);
                }
            }

            throw await TokenJoin.GiveUpAsync(call, GivingUp.Types.Reason.Unspecified,
                "too many challenges", $"{operation} kept sending challenges after {MaxExchanges} exchanges.").ConfigureAwait(false);
        }
        catch (RpcException ex) when (WireErrors.IsUnimplemented(ex))
        {
            throw new TokenJoin.UnifiedJoinUnavailableException($"{endpoint} does not implement {TokenJoin.UnifiedOperation}.", ex);
        }
        catch (RpcException ex)
        {
            WireLog.CallFailed(logger, TokenJoin.UnifiedOperation, endpoint, ex.StatusCode);
            throw WireErrors.FromRpc(ex, TokenJoin.UnifiedOperation, endpoint, WireOperationKind.DelegatedJoin, parameters.RegistrationSecret);
        }
        finally
        {
            key?.Dispose();
        }
    }

    /// <summary>
    /// Runs the join on the legacy <c>proto.JoinService/RegisterUsingBoundKeypairMethod</c> stream (Teleport
    /// 18.0/18.1, which do not serve the unified join service): on <paramref name="invoker"/> (the proxy's
    /// join gRPC, direct Auth, or Auth authenticated for a re-join), with keys for <paramref name="suite"/>
    /// (what the proxy's discovery or Auth's Ping reports, as tbot does on this path).
    /// </summary>
    /// <exception cref="TeleportJoinException">The cluster refused the join, or asked for a key this bot does not hold.</exception>
    /// <exception cref="TeleportConnectionException">The cluster could not be reached.</exception>
    /// <exception cref="TeleportProtocolException">The server broke the protocol, or does not implement bound keypair joins.</exception>
    public static async Task<BoundKeypairJoinOutcome> JoinLegacyAsync(
        CallInvoker invoker, string endpoint, SignatureAlgorithmSuite suite, BoundKeypairJoinParameters parameters, DateTimeOffset expires, ILogger logger,
        CancellationToken cancellationToken)
    {
        var operation = $"{LegacyOperation} on {endpoint}";
        var key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
        try
        {
            using var call = new LegacyJoin.JoinServiceClient(invoker).RegisterUsingBoundKeypairMethod(cancellationToken: cancellationToken);
            var initial = new RegisterUsingBoundKeypairInitialRequest
            {
                JoinRequest = TokenJoin.LegacyRequest(key.PublicKey, parameters.TokenName, expires),
                InitialJoinSecret = InitialSecret(parameters),
                PreviousJoinState = ByteString.CopyFrom(parameters.PreviousJoinState.Span),
            };
            await GrpcCallFailures.WriteAsync(call, new RegisterUsingBoundKeypairMethodRequest { Init = initial }, cancellationToken).ConfigureAwait(false);

            var newKeys = 0;
            for (var exchange = 0; exchange < MaxExchanges; exchange++)
            {
                var message = await TokenJoin.ReceiveAsync(call, LegacyOperation, endpoint, cancellationToken).ConfigureAwait(false);
                switch (message.ResponseCase)
                {
                    case RegisterUsingBoundKeypairMethodResponse.ResponseOneofCase.Challenge:
                        var signed = Sign(parameters, initial.InitialJoinSecret.Length > 0, message.Challenge.PublicKey, message.Challenge.Challenge, operation);
                        if (signed.Error is { } refusal)
                        {
                            // This stream has no GivingUp message: tbot ends it with the error (the server sees it cancelled).
                            throw refusal;
                        }

                        await GrpcCallFailures.WriteAsync(call, new RegisterUsingBoundKeypairMethodRequest
                        {
                            ChallengeResponse = new RegisterUsingBoundKeypairChallengeResponse { Solution = ByteString.CopyFromUtf8(signed.Solution) },
                        }, cancellationToken).ConfigureAwait(false);
                        break;
                    case RegisterUsingBoundKeypairMethodResponse.ResponseOneofCase.Rotation:
                        var created = await CreateKeyAsync(parameters, ProtoModels.ToSuite(message.Rotation.SignatureAlgorithmSuite), logger, cancellationToken).ConfigureAwait(false);
                        newKeys++;
                        await GrpcCallFailures.WriteAsync(call, new RegisterUsingBoundKeypairMethodRequest
                        {
                            RotationResponse = new RegisterUsingBoundKeypairRotationResponse { PublicKey = created.ToAuthorizedKey() },
                        }, cancellationToken).ConfigureAwait(false);
                        break;
                    case RegisterUsingBoundKeypairMethodResponse.ResponseOneofCase.Certs:
                        var issued = message.Certs;
                        var boundKey = ParseBoundKey(issued.PublicKey, operation);
                        var certificates = IssuedCertificates.FromProto(issued.Certs ?? new Certs(), operation);
                        await TokenJoin.CompleteQuietlyAsync(call).ConfigureAwait(false);
                        var result = TokenJoin.Check(new JoinResult(key, certificates, suite, JoinApi.LegacyBoundKeypairStream), operation);
                        key = null;
                        return new BoundKeypairJoinOutcome { Join = result, BoundPublicKey = boundKey, JoinState = issued.JoinState.ToByteArray(), NewKeysRequested = newKeys };
                    default:
                        throw new TeleportProtocolException($"{operation} sent a message this client does not know ({message.ResponseCase}); update Teleport.MachineId.");
                }
            }

            throw new TeleportProtocolException($"{operation} kept sending challenges after {MaxExchanges} exchanges.");
        }
        catch (RpcException ex) when (WireErrors.IsUnimplemented(ex))
        {
            throw new TeleportProtocolException(
                $"{endpoint} implements neither teleport.join.v1.JoinService/Join nor {LegacyOperation}: the cluster does not support bound_keypair joins " +
                "(Teleport 18.0 or later does). Upgrade the cluster, or use another join method.", ex);
        }
        catch (RpcException ex)
        {
            WireLog.CallFailed(logger, LegacyOperation, endpoint, ex.StatusCode);
            throw WireErrors.FromRpc(ex, LegacyOperation, endpoint, WireOperationKind.DelegatedJoin, parameters.RegistrationSecret);
        }
        finally
        {
            key?.Dispose();
        }
    }

    /// <summary>tbot sends the registration secret only while the bot holds no join state (a first join).</summary>
    private static string InitialSecret(BoundKeypairJoinParameters parameters) =>
        parameters.PreviousJoinState.IsEmpty && !string.IsNullOrEmpty(parameters.RegistrationSecret) ? parameters.RegistrationSecret : string.Empty;

    /// <summary>
    /// Signs <paramref name="challenge"/> with the key the cluster names (<paramref name="publicKeyText"/>,
    /// authorized_keys form). When the bot does not hold it, <see cref="Signed.Error"/> says why for the
    /// caller, <see cref="Signed.ServerMessage"/> for the server.
    /// </summary>
    private static Signed Sign(BoundKeypairJoinParameters parameters, bool sentSecret, string publicKeyText, string challenge, string operation)
    {
        PublicKeyInfo wanted;
        try
        {
            wanted = PublicKeyInfo.ParseAuthorizedKey(publicKeyText);
        }
        catch (TeleportFormatException)
        {
            return new Signed(null, "could not parse the challenge's public key", new TeleportProtocolException($"{operation} sent a challenge for an unreadable public key."));
        }

        if (parameters.Keys.FindKey(wanted) is not { } signer)
        {
            var why = sentSecret
                ? $"The join token '{parameters.TokenName}' is already bound to another key ({wanted}): its registration secret has been used (registration secrets are single use). " +
                  "Register this bot with a new token or registration secret, or restore the storage of the bot that holds the key."
                : $"The cluster asked this bot to prove the key {wanted}, which is not in its storage (neither the active key nor the key history). " +
                  "The bot's storage does not belong to this token's bound key: restore the storage, or have an administrator reset the token's bound key.";
            return new Signed(null, "could not lookup signer for public key: no matching key found", new TeleportJoinException(why));
        }

        return new Signed(CompactJws.Sign(signer, Encoding.UTF8.GetBytes(challenge)), string.Empty, null);
    }

    /// <summary>A new key for the cluster's request, stored durably (key history) before its public key is returned to be sent.</summary>
    private static async Task<PublicKeyInfo> CreateKeyAsync(BoundKeypairJoinParameters parameters, SignatureAlgorithmSuite suite, ILogger logger, CancellationToken cancellationToken)
    {
        WireLog.BoundKeypairKeyRequested(logger, suite.Name);
        using var created = await parameters.Keys.CreateKeyAsync(suite, cancellationToken).ConfigureAwait(false);
        return created.PublicKey;
    }

    private static PublicKeyInfo ParseBoundKey(string text, string operation)
    {
        try
        {
            return PublicKeyInfo.ParseAuthorizedKey(text);
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportProtocolException($"{operation} returned an unreadable bound public key.", ex);
        }
    }

    /// <summary>A signed challenge, or why it could not be signed.</summary>
    private readonly record struct Signed(string? Solution, string ServerMessage, TeleportException? Error);

    private static SignatureAlgorithmSuite ParseSuite(string name) =>
        SignatureAlgorithmSuite.TryParse(name, out var suite) && suite.IsKnown
            ? suite
            : throw new TeleportProtocolException($"The cluster announced the signature algorithm suite '{name}', which this version of Teleport.MachineId does not know; update it.");
}
