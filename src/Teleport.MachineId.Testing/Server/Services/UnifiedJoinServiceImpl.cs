using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Proto.Join.V1;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// <c>teleport.join.v1.JoinService/Join</c> for the <c>token</c> method (teleport-protocol.md §3.6):
/// ClientInit → ServerInit(join method, suite) → TokenInit{BotParams} → Result{BotResult}. A client
/// that sends GivingUp ends the join; the attempt is audited. Served only when unified joins are enabled.
/// </summary>
internal sealed class UnifiedJoinServiceImpl(EmulatorRuntime runtime) : JoinService.JoinServiceBase
{
    public override async Task Join(IAsyncStreamReader<JoinRequest> requestStream, IServerStreamWriter<JoinResponse> responseStream, ServerCallContext context)
    {
        var api = RequestContext.Endpoint(context.GetHttpContext(), runtime) == EndpointKind.Auth
            ? "teleport.join.v1.JoinService (auth)"
            : "teleport.join.v1.JoinService (proxy)";
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

            await responseStream.WriteAsync(new JoinResponse
            {
                Init = new ServerInit { JoinMethod = token.JoinMethod, SignatureAlgorithmSuite = runtime.Settings.Suite.Name },
            }).ConfigureAwait(false);

            var next = await NextAsync(requestStream, context).ConfigureAwait(false);
            if (next.PayloadCase == JoinRequest.PayloadOneofCase.GivingUp)
            {
                var message = $"client gave up on join attempt: {next.GivingUp.Reason}: {next.GivingUp.Msg}";
                runtime.State.Audit("bot.join", success: false, user: null, message, ("method", token.JoinMethod), ("api", api), ("token_name", token.SafeName));
                throw new RpcException(new Status(StatusCode.Aborted, message));
            }

            if (next.PayloadCase != JoinRequest.PayloadOneofCase.TokenInit)
            {
                throw TraceException.BadParameter($"expected TokenInit, got {next.PayloadCase}");
            }

            var parameters = next.TokenInit.ClientParams;
            if (parameters?.PayloadCase != ClientParams.PayloadOneofCase.BotParams)
            {
                throw TraceException.BadParameter("bot joins require BotParams in TokenInit");
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

            var certificates = runtime.Auth.JoinBot(new BotJoinRequest
            {
                Token = init.TokenName,
                Role = init.SystemRole,
                TlsPublicKey = tls,
                SshPublicKey = ssh,
                KeyError = keyError,
                Expires = bot.Expires?.ToDateTimeOffset(),
                RemoteAddress = RequestContext.RemoteAddress(context),
                Api = api,
            });
            await responseStream.WriteAsync(new JoinResponse
            {
                Result = new Result { BotResult = new BotResult { Certificates = ProtoConvert.ToJoinCertificates(certificates) } },
            }).ConfigureAwait(false);
        }
        catch (TraceException ex) when (ex.Kind != TraceKind.Unknown)
        {
            throw ex.ToRpcException();
        }
    }

    private static async Task<JoinRequest> NextAsync(IAsyncStreamReader<JoinRequest> requestStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            throw TraceException.BadParameter("the join stream ended before the join completed");
        }

        return requestStream.Current;
    }
}
