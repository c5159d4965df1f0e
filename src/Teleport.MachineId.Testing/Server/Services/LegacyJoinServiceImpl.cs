using System.Text;
using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Proto.Legacy.Client;
using Teleport.MachineId.Testing.Proto.Legacy.Types;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// <c>proto.JoinService/RegisterUsingToken</c> (unary), on Auth and on <c>teleport-proxy-grpc</c>:
/// token joins and the OIDC-style methods (<c>IDToken</c>). On Auth, a caller with a valid bot
/// identity re-joins as its bot instance (Teleport sets <c>BotInstanceID</c> from the certificate).
/// </summary>
internal sealed class LegacyJoinServiceImpl(EmulatorRuntime runtime) : JoinService.JoinServiceBase
{
    public override async Task<Certs> RegisterUsingToken(RegisterUsingTokenRequest request, ServerCallContext context)
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

        var endpoint = RequestContext.Endpoint(context.GetHttpContext(), runtime);
        var certificates = await runtime.Auth.JoinBotAsync(new BotJoinRequest
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
            Caller = endpoint == EndpointKind.Auth ? RequestContext.Caller(context, runtime) : null,
            Api = endpoint == EndpointKind.Auth ? "proto.JoinService (auth)" : "proto.JoinService (proxy)",
        }, context.CancellationToken).ConfigureAwait(false);
        return ProtoConvert.ToCerts(certificates);
    }
}
