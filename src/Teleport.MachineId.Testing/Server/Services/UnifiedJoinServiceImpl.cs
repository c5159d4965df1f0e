using Google.Protobuf;
using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Cluster.Joins;
using Teleport.MachineId.Testing.Proto.Join.V1;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// <c>teleport.join.v1.JoinService/Join</c> (teleport-protocol.md §3.6) for the <c>token</c> method
/// (ClientInit → ServerInit(join method, suite) → TokenInit{BotParams} → Result{BotResult}) and the
/// <c>bound_keypair</c> method (… → BoundKeypairInit → BoundKeypairChallenge ⇄ solution, optional
/// rotation → Result{BotResult{bound_keypair_result}}). A client that sends GivingUp ends the join;
/// the attempt is audited. On Auth, a caller with a valid bot identity re-joins as that bot instance.
/// Served only when unified joins are enabled.
/// </summary>
internal sealed class UnifiedJoinServiceImpl(EmulatorRuntime runtime) : JoinService.JoinServiceBase
{
    public override async Task Join(IAsyncStreamReader<JoinRequest> requestStream, IServerStreamWriter<JoinResponse> responseStream, ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var onAuth = RequestContext.Endpoint(http, runtime) == EndpointKind.Auth;
        var api = onAuth ? "teleport.join.v1.JoinService (auth)" : "teleport.join.v1.JoinService (proxy)";
        try
        {
            var first = await NextAsync(requestStream, context).ConfigureAwait(false);
            if (first.PayloadCase != JoinRequest.PayloadOneofCase.ClientInit)
            {
                throw TraceException.BadParameter($"first message on join stream was not ClientInit, got {first.PayloadCase}");
            }

            var init = first.ClientInit;
            if (init.ProxySuppliedParameters is not null)
            {
                throw TraceException.AccessDenied("client set ProxySuppliedParameters but did not authenticate as a proxy");
            }

            if (init.ForwardedByProxy)
            {
                throw TraceException.BadParameter("client claims to be a proxy forwarding the request but did not authenticate as a proxy (this is a bug)");
            }

            var token = runtime.Auth.ValidateToken(init.TokenName, init.SystemRole, string.Empty, string.Empty);
            if (init.HasJoinMethod && init.JoinMethod != token.JoinMethod)
            {
                throw TraceException.BadParameter($"client requested join method {init.JoinMethod}, provision token only supports method {token.JoinMethod}");
            }

            if (token.JoinMethod is not (EmulatorJoinMethods.Token or EmulatorJoinMethods.BoundKeypair))
            {
                throw TraceException.BadParameter($"join method {token.JoinMethod} is not supported by this join service, use RegisterUsingToken");
            }

            await responseStream.WriteAsync(new JoinResponse
            {
                Init = new ServerInit { JoinMethod = token.JoinMethod, SignatureAlgorithmSuite = runtime.Settings.Suite.Name },
            }).ConfigureAwait(false);

            var next = await NextAsync(requestStream, context).ConfigureAwait(false);
            ThrowIfGivingUp(next, token, api);
            var caller = onAuth ? RequestContext.Caller(http, runtime) : null;
            if (token.JoinMethod == EmulatorJoinMethods.Token)
            {
                if (next.PayloadCase != JoinRequest.PayloadOneofCase.TokenInit)
                {
                    throw TraceException.BadParameter($"expected TokenInit, got {next.PayloadCase}");
                }

                var certificates = await runtime.Auth.JoinBotAsync(JoinRequestFor(init, next.TokenInit.ClientParams, "TokenInit", api, context, caller), context.CancellationToken)
                    .ConfigureAwait(false);
                await responseStream.WriteAsync(new JoinResponse
                {
                    Result = new Result { BotResult = new BotResult { Certificates = ProtoConvert.ToJoinCertificates(certificates) } },
                }).ConfigureAwait(false);
                return;
            }

            if (next.PayloadCase != JoinRequest.PayloadOneofCase.BoundKeypairInit)
            {
                throw TraceException.BadParameter($"expected BoundKeypairInit, got {next.PayloadCase}");
            }

            var boundKeypairInit = next.BoundKeypairInit;
            var request = new BoundKeypairJoinRequest
            {
                Join = JoinRequestFor(init, boundKeypairInit.ClientParams, "BoundKeypairInit", api, context, caller),
                InitialJoinSecret = boundKeypairInit.InitialJoinSecret,
                PreviousJoinState = boundKeypairInit.PreviousJoinState.ToStringUtf8(),
            };
            var channel = new StreamChannel(requestStream, responseStream, context, token, api, runtime);
            var result = await runtime.BoundKeypairs.JoinAuditedAsync(token, request, channel, context.CancellationToken).ConfigureAwait(false);

            await responseStream.WriteAsync(new JoinResponse
            {
                Result = new Result
                {
                    BotResult = new BotResult
                    {
                        Certificates = ProtoConvert.ToJoinCertificates(result.Certificates),
                        BoundKeypairResult = new BoundKeypairResult
                        {
                            JoinState = ByteString.CopyFromUtf8(result.JoinState),
                            PublicKey = ByteString.CopyFromUtf8(result.BoundPublicKey),
                        },
                    },
                },
            }).ConfigureAwait(false);
        }
        catch (TraceException ex) when (ex.Kind != TraceKind.Unknown)
        {
            throw ex.ToRpcException();
        }
    }

    private static BotJoinRequest JoinRequestFor(ClientInit init, ClientParams? parameters, string what, string api, ServerCallContext context, CallerIdentity? caller)
    {
        if (parameters?.PayloadCase != ClientParams.PayloadOneofCase.BotParams)
        {
            throw TraceException.BadParameter($"bot joins require BotParams in {what}");
        }

        var bot = parameters.BotParams;
        string? keyError = null;
        PublicKeyInfo? tls = null;
        PublicKeyInfo? ssh = null;
        try
        {
            tls = bot.PublicKeys?.PublicTlsKey is { IsEmpty: false } tlsKey ? PublicKeyInfo.ImportSubjectPublicKeyInfo(tlsKey.Span) : null;
            ssh = bot.PublicKeys?.PublicSshKey is { IsEmpty: false } sshKey ? PublicKeyInfo.FromSshWire(sshKey.Span) : null;
        }
        catch (TeleportFormatException ex)
        {
            keyError = "invalid public key: " + ex.Message;
        }

        return new BotJoinRequest
        {
            Token = init.TokenName,
            Role = init.SystemRole,
            TlsPublicKey = tls,
            SshPublicKey = ssh,
            KeyError = keyError,
            Expires = bot.Expires?.ToDateTimeOffset(),
            RemoteAddress = RequestContext.RemoteAddress(context),
            Caller = caller,
            Api = api,
        };
    }

    private static void ThrowIfGivingUp(JoinRequest message, EmulatorJoinToken token, string api, EmulatorRuntime? runtime = null)
    {
        if (message.PayloadCase != JoinRequest.PayloadOneofCase.GivingUp)
        {
            return;
        }

        var text = $"client gave up on join attempt: {message.GivingUp.Reason}: {message.GivingUp.Msg}";
        runtime?.State.Audit("bot.join", success: false, user: null, text, ("method", token.JoinMethod), ("api", api), ("token_name", token.SafeName));
        throw new RpcException(new Status(StatusCode.Aborted, text));
    }

    private void ThrowIfGivingUp(JoinRequest message, EmulatorJoinToken token, string api) => ThrowIfGivingUp(message, token, api, runtime);

    private static async Task<JoinRequest> NextAsync(IAsyncStreamReader<JoinRequest> requestStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            throw TraceException.BadParameter("the join stream ended before the join completed");
        }

        return requestStream.Current;
    }

    /// <summary>The bound keypair flow's challenges and rotation requests over the stream.</summary>
    private sealed class StreamChannel(
        IAsyncStreamReader<JoinRequest> requests, IServerStreamWriter<JoinResponse> responses, ServerCallContext context,
        EmulatorJoinToken token, string api, EmulatorRuntime runtime) : IBoundKeypairChannel
    {
        public async Task<string> SolveChallengeAsync(string publicKey, string challenge, CancellationToken cancellationToken)
        {
            await responses.WriteAsync(new JoinResponse
            {
                Challenge = new Challenge
                {
                    BoundKeypairChallenge = new BoundKeypairChallenge { PublicKey = ByteString.CopyFromUtf8(publicKey), Challenge = challenge },
                },
            }, cancellationToken).ConfigureAwait(false);
            var answer = await NextAsync(requests, context).ConfigureAwait(false);
            ThrowIfGivingUp(answer, token, api, runtime);
            if (answer.Solution?.PayloadCase != ChallengeSolution.PayloadOneofCase.BoundKeypairChallengeSolution)
            {
                throw TraceException.BadParameter($"client provided unexpected challenge response type {Describe(answer)}");
            }

            return answer.Solution.BoundKeypairChallengeSolution.Solution.ToStringUtf8();
        }

        public async Task<string> RotateAsync(string suite, CancellationToken cancellationToken)
        {
            await responses.WriteAsync(new JoinResponse
            {
                Challenge = new Challenge
                {
                    BoundKeypairRotationRequest = new BoundKeypairRotationRequest { SignatureAlgorithmSuite = suite },
                },
            }, cancellationToken).ConfigureAwait(false);
            var answer = await NextAsync(requests, context).ConfigureAwait(false);
            ThrowIfGivingUp(answer, token, api, runtime);
            if (answer.Solution?.PayloadCase != ChallengeSolution.PayloadOneofCase.BoundKeypairRotationResponse)
            {
                throw TraceException.BadParameter($"client provided unexpected keypair request response type {Describe(answer)}");
            }

            return answer.Solution.BoundKeypairRotationResponse.PublicKey.ToStringUtf8();
        }

        private static string Describe(JoinRequest message) =>
            message.PayloadCase == JoinRequest.PayloadOneofCase.Solution ? "Solution." + message.Solution.PayloadCase : message.PayloadCase.ToString();
    }
}
