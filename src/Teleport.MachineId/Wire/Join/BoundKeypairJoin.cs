using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Wire.Proto.Join.V1;
using Teleport.MachineId.Wire.Streams;

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
/// The <c>bound_keypair</c> join over <c>teleport.join.v1.JoinService/Join</c>
/// (<c>lib/join/joinclient/join_boundkeypair.go</c>): ClientInit → ServerInit → BoundKeypairInit{bot
/// params, registration secret while unbound, previous join state} → challenges signed with the key
/// the cluster names (a compact JWS over the challenge bytes) and, when asked, a new key for the
/// suite → Result{BotResult{certificates, bound_keypair_result}}.
/// </summary>
internal static class BoundKeypairJoin
{
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
        using var call = new JoinService.JoinServiceClient(invoker).Join(cancellationToken: cancellationToken);
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

            // tbot sends the registration secret only while the bot holds no join state.
            if (parameters.PreviousJoinState.IsEmpty && !string.IsNullOrEmpty(parameters.RegistrationSecret))
            {
                initial.InitialJoinSecret = parameters.RegistrationSecret;
            }

            await GrpcCallFailures.WriteAsync(call, new JoinRequest { BoundKeypairInit = initial }, cancellationToken).ConfigureAwait(false);

            var newKeys = 0;
            for (var exchange = 0; exchange < MaxExchanges; exchange++)
            {
                var message = await TokenJoin.ReceiveAsync(call, endpoint, cancellationToken).ConfigureAwait(false);
                switch (message.PayloadCase)
                {
                    case JoinResponse.PayloadOneofCase.Challenge when message.Challenge.PayloadCase == Challenge.PayloadOneofCase.BoundKeypairChallenge:
                        var solution = await SolveAsync(call, parameters, initial.InitialJoinSecret.Length > 0, message.Challenge.BoundKeypairChallenge, operation)
                            .ConfigureAwait(false);
                        await GrpcCallFailures.WriteAsync(call, new JoinRequest
                        {
                            Solution = new ChallengeSolution { BoundKeypairChallengeSolution = new BoundKeypairChallengeSolution { Solution = ByteString.CopyFromUtf8(solution) } },
                        }, cancellationToken).ConfigureAwait(false);
                        break;
                    case JoinResponse.PayloadOneofCase.Challenge when message.Challenge.PayloadCase == Challenge.PayloadOneofCase.BoundKeypairRotationRequest:
                        var rotationSuite = ParseSuite(message.Challenge.BoundKeypairRotationRequest.SignatureAlgorithmSuite);
                        WireLog.BoundKeypairKeyRequested(logger, rotationSuite.Name);
                        using (var created = await parameters.Keys.CreateKeyAsync(rotationSuite, cancellationToken).ConfigureAwait(false))
                        {
                            newKeys++;
                            await GrpcCallFailures.WriteAsync(call, new JoinRequest
                            {
                                Solution = new ChallengeSolution
                                {
                                    BoundKeypairRotationResponse = new BoundKeypairRotationResponse { PublicKey = ByteString.CopyFromUtf8(created.PublicKey.ToAuthorizedKey()) },
                                },
                            }, cancellationToken).ConfigureAwait(false);
                        }

                        break;
                    case JoinResponse.PayloadOneofCase.Result when message.Result.PayloadCase == Result.PayloadOneofCase.BotResult:
                        var bot = message.Result.BotResult;
                        if (bot.BoundKeypairResult is not { } bound)
                        {
                            throw new TeleportProtocolException($"{operation} returned a bot result without the bound keypair result.");
                        }

                        PublicKeyInfo boundKey;
                        try
                        {
                            boundKey = PublicKeyInfo.ParseAuthorizedKey(bound.PublicKey.ToStringUtf8());
                        }
                        catch (TeleportFormatException ex)
                        {
                            throw new TeleportProtocolException($"{operation} returned an unreadable bound public key.", ex);
                        }

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

    /// <summary>Signs the challenge with the key the cluster names, or gives up when the bot does not hold it.</summary>
    private static async Task<string> SolveAsync(
        AsyncDuplexStreamingCall<JoinRequest, JoinResponse> call, BoundKeypairJoinParameters parameters, bool sentSecret, BoundKeypairChallenge challenge, string operation)
    {
        var keys = parameters.Keys;
        PublicKeyInfo wanted;
        try
        {
            wanted = PublicKeyInfo.ParseAuthorizedKey(challenge.PublicKey.ToStringUtf8());
        }
        catch (TeleportFormatException)
        {
            throw await TokenJoin.GiveUpAsync(call, GivingUp.Types.Reason.ChallengeSolutionFailed,
                "could not parse the challenge's public key", $"{operation} sent a challenge for an unreadable public key.").ConfigureAwait(false);
        }

        if (keys.FindKey(wanted) is not { } signer)
        {
            var why = sentSecret
                ? $"The join token '{parameters.TokenName}' is already bound to another key ({wanted}): its registration secret has been used (registration secrets are single use). " +
                  "Register this bot with a new token or registration secret, or restore the storage of the bot that holds the key."
                : $"The cluster asked this bot to prove the key {wanted}, which is not in its storage (neither the active key nor the key history). " +
                  "The bot's storage does not belong to this token's bound key: restore the storage, or have an administrator reset the token's bound key.";
            throw await TokenJoin.GiveUpAsync(call, GivingUp.Types.Reason.ChallengeSolutionFailed,
                "could not lookup signer for public key: no matching key found", why, join: true).ConfigureAwait(false);
        }

        return CompactJws.Sign(signer, Encoding.UTF8.GetBytes(challenge.Challenge));
    }

    private static SignatureAlgorithmSuite ParseSuite(string name) =>
        SignatureAlgorithmSuite.TryParse(name, out var suite) && suite.IsKnown
            ? suite
            : throw new TeleportProtocolException($"The cluster announced the signature algorithm suite '{name}', which this version of Teleport.MachineId does not know; update it.");
}
