using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Wire.Proto.Legacy.Client;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary><c>proto.AuthService</c>: Ping, GetClusterCACert (both unauthenticated).</summary>
internal sealed class AuthServiceImpl(EmulatorRuntime runtime) : AuthService.AuthServiceBase
{
    public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context)
    {
        var settings = runtime.Settings;
        return Task.FromResult(new PingResponse
        {
            ClusterName = settings.ClusterName,
            ServerVersion = settings.ServerVersion,
            ServerFeatures = new Features(),
            ProxyPublicAddr = runtime.ProxyAddress,
            RemoteAddr = RequestContext.RemoteAddress(context),
            SignatureAlgorithmSuite = (Wire.Proto.Legacy.Types.SignatureAlgorithmSuite)settings.Suite.ToProtoValue(),
        });
    }

    public override Task<GetClusterCACertResponse> GetClusterCACert(Empty request, ServerCallContext context)
    {
        var pem = new StringBuilder();
        foreach (var key in runtime.Authorities[CertificateAuthorityType.Host].Trusted)
        {
            pem.Append(key.TlsCertificatePem);
        }

        return Task.FromResult(new GetClusterCACertResponse { TLSCA = ByteString.CopyFromUtf8(pem.ToString()) });
    }
}
