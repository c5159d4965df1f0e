using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Cluster.Joins;
using Teleport.MachineId.Testing.Proto.Legacy.Client;
using Teleport.MachineId.Testing.Proto.Legacy.Types;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// The legacy <c>proto.JoinService</c>, on Auth and on <c>teleport-proxy-grpc</c>:
/// <c>RegisterUsingToken</c> (unary; token joins and the OIDC-style methods' <c>IDToken</c>) and
/// <c>RegisterUsingBoundKeypairMethod</c> (the bound keypair stream of Teleport 18.0/18.1: init →
/// challenges ⇄ solutions, rotation requests ⇄ new public keys → certs with the join state), which runs
/// the same bound keypair logic as the unified join service. On Auth, a caller with a valid bot identity
/// re-joins as its bot instance (Teleport sets <c>BotInstanceID</c> from the certificate).
/// </summary>
internal sealed class LegacyJoinServiceImpl(EmulatorRuntime runtime) : JoinService.JoinServiceBase
{
    public override async Task<Certs> RegisterUsingToken(RegisterUsingTokenRequest request, ServerCallContext context)
    {
        var certificates = await runtime.Auth.JoinBotAsync(JoinRequestFor(request, context, "proto.JoinService"), context.CancellationToken).ConfigureAwait(false);
        return ProtoConvert.ToCerts(certificates);
    }

    public override async Task RegisterUsingBoundKeypairMethod(
        IAsyncStreamReader<RegisterUsingBoundKeypairMethodRequest> requestStream, IServerStreamWriter<RegisterUsingBoundKeypairMethodResponse> responseStream,
        ServerCallContext context)
    {
        try
        {
            var first = await NextAsync(requestStream, context).ConfigureAwait(false);
            if (first.PayloadCase != RegisterUsingBoundKeypairMethodRequest.PayloadOneofCase.Init)
            {
                throw TraceException.BadParameter($"expected an init request, got {first.PayloadCase}");
            }

            var init = first.Init;
            var join = JoinRequestFor(init.JoinRequest ?? new RegisterUsingTokenRequest(), context, "proto.JoinService RegisterUsingBoundKeypairMethod");
            var token = runtime.Auth.ValidateToken(join.Token, join.Role, join.NodeName, join.HostId);
            if (token.JoinMethod != EmulatorJoinMethods.BoundKeypair)
            {
                throw TraceException.BadParameter($"the token join method must be {EmulatorJoinMethods.BoundKeypair}, got {token.JoinMethod}");
            }

            var request = new BoundKeypairJoinRequest
            {
                Join = join,
                InitialJoinSecret = init.InitialJoinSecret,
                PreviousJoinState = init.PreviousJoinState.ToStringUtf8(),
            };
            var result = await runtime.BoundKeypairs.JoinAuditedAsync(token, request, new StreamChannel(requestStream, responseStream, context), context.CancellationToken)
                .ConfigureAwait(false);
            await responseStream.WriteAsync(new RegisterUsingBoundKeypairMethodResponse
            {
                Certs = new RegisterUsingBoundKeypairCertificates
                {
                    Certs = ProtoConvert.ToCerts(result.Certificates),
                    JoinState = ByteString.CopyFromUtf8(result.JoinState),
                    PublicKey = result.BoundPublicKey,
                },
            }).ConfigureAwait(false);
        }
        catch (TraceException ex) when (ex.Kind != TraceKind.Unknown)
        {
            throw ex.ToRpcException();
        }
    }

    /// <summary>The registration parameters as Auth reads them (keys: PEM and authorized_keys); on Auth, the caller's identity.</summary>
    private BotJoinRequest JoinRequestFor(RegisterUsingTokenRequest request, ServerCallContext context, string service)
    {
        string? keyError = null;
        PublicKeyInfo? tls = null;
        PublicKeyInfo? ssh = null;
        try
        {
            tls = request.PublicTLSKey.IsEmpty ? null : PublicKeyInfo.ImportPem(Encoding.UTF8.GetString(request.PublicTLSKey.Span));
            ssh = request.PublicSSHKey.IsEmpty ? null : PublicKeyInfo.ParseAuthorizedKey(Encoding.UTF8.GetString(request.PublicSSHKey.Span));
        }
        catch (TeleportFormatException ex)
        {
            keyError = "invalid public key: " + ex.Message;
        }

        var onAuth = RequestContext.Endpoint(context.GetHttpContext(), runtime) == EndpointKind.Auth;
        return new BotJoinRequest
        {
            Token = request.Token,
            Role = request.Role,
            NodeName = request.NodeName,
            HostId = request.HostID,
            TlsPublicKey = tls,
            SshPublicKey = ssh,
            KeyError = keyError,
            Expires = request.Expires?.ToDateTimeOffset(),
            RemoteAddress = RequestContext.RemoteAddress(context),
            IdToken = request.IDToken,
            Caller = onAuth ? RequestContext.Caller(context, runtime) : null,
            Api = onAuth ? service + " (auth)" : service + " (proxy)",
        };
    }

    private static async Task<RegisterUsingBoundKeypairMethodRequest> NextAsync(
        IAsyncStreamReader<RegisterUsingBoundKeypairMethodRequest> requestStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            throw TraceException.BadParameter("the join stream ended before the join completed");
        }

        return requestStream.Current;
    }

    /// <summary>The bound keypair flow's challenges and rotation requests over the legacy stream (the suite travels as the enum here).</summary>
    private sealed class StreamChannel(
        IAsyncStreamReader<RegisterUsingBoundKeypairMethodRequest> requests, IServerStreamWriter<RegisterUsingBoundKeypairMethodResponse> responses,
        ServerCallContext context) : IBoundKeypairChannel
    {
        public async Task<string> SolveChallengeAsync(string publicKey, string challenge, CancellationToken cancellationToken)
        {
            await responses.WriteAsync(new RegisterUsingBoundKeypairMethodResponse
            {
                Challenge = new RegisterUsingBoundKeypairChallenge { PublicKey = publicKey, Challenge = challenge },
            }, cancellationToken).ConfigureAwait(false);
            var answer = await NextAsync(requests, context).ConfigureAwait(false);
            if (answer.PayloadCase != RegisterUsingBoundKeypairMethodRequest.PayloadOneofCase.ChallengeResponse)
            {
                throw TraceException.BadParameter($"client provided unexpected challenge response type {answer.PayloadCase}");
            }

            return answer.ChallengeResponse.Solution.ToStringUtf8();
        }

        public async Task<string> RotateAsync(string suite, CancellationToken cancellationToken)
        {
            await responses.WriteAsync(new RegisterUsingBoundKeypairMethodResponse
            {
                Rotation = new RegisterUsingBoundKeypairRotationRequest
                {
                    SignatureAlgorithmSuite = (Proto.Legacy.Types.SignatureAlgorithmSuite)Crypto.SignatureAlgorithmSuite.Parse(suite).ToProtoValue(),
                },
            }, cancellationToken).ConfigureAwait(false);
            var answer = await NextAsync(requests, context).ConfigureAwait(false);
            if (answer.PayloadCase != RegisterUsingBoundKeypairMethodRequest.PayloadOneofCase.RotationResponse)
            {
                throw TraceException.BadParameter($"client provided unexpected keypair request response type {answer.PayloadCase}");
            }

            return answer.RotationResponse.PublicKey;
        }
    }
}
