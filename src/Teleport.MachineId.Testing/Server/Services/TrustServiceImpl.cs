using Grpc.Core;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Proto.Legacy.Types;
using Teleport.MachineId.Testing.Proto.Trust.V1;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// <c>teleport.trust.v1.TrustService</c>: CAs without private keys for authenticated callers.
/// <c>include_key</c> is refused: the emulator never sends CA private keys. <c>GenerateHostCert</c>
/// signs host keys for callers whose roles allow <c>create</c> on <c>host_cert</c>.
/// </summary>
internal sealed class TrustServiceImpl(EmulatorRuntime runtime) : TrustService.TrustServiceBase
{
    // CA types Teleport 18 has that the emulator does not run: listed as empty, read as not found.
    private static readonly string[] OtherKnownTypes = ["db_client", "openssh", "jwt", "saml_idp", "oidc_idp", "spiffe", "okta", "awsra", "bound_keypair"];

    public override Task<CertAuthorityV2> GetCertAuthority(GetCertAuthorityRequest request, ServerCallContext context)
    {
        RequestContext.RequireCaller(context, runtime);
        RefuseKeys(request.IncludeKey);
        var type = ParseType(request.Type);
        if (type is null || request.Domain != runtime.Settings.ClusterName)
        {
            throw TraceException.NotFound($"cert authority {request.Type} {request.Domain} is not found");
        }

        return Task.FromResult(ProtoConvert.ToCertAuthority(runtime.Authorities[type.Value]));
    }

    public override Task<GetCertAuthoritiesResponse> GetCertAuthorities(GetCertAuthoritiesRequest request, ServerCallContext context)
    {
        RequestContext.RequireCaller(context, runtime);
        RefuseKeys(request.IncludeKey);
        var response = new GetCertAuthoritiesResponse();
        if (ParseType(request.Type) is { } type)
        {
            response.CertAuthoritiesV2.Add(ProtoConvert.ToCertAuthority(runtime.Authorities[type]));
        }

        return Task.FromResult(response);
    }

    public override Task<GenerateHostCertResponse> GenerateHostCert(GenerateHostCertRequest request, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        var certificate = runtime.Auth.GenerateHostCert(caller, new HostCertificateRequest(
            request.Key.ToStringUtf8(),
            request.HostId,
            request.NodeName,
            [.. request.Principals],
            request.ClusterName,
            request.Role,
            request.Ttl?.ToTimeSpan() ?? TimeSpan.Zero));
        return Task.FromResult(new GenerateHostCertResponse { SshCertificate = Google.Protobuf.ByteString.CopyFromUtf8(certificate.ToAuthorizedKey() + "\n") });
    }

    private static void RefuseKeys(bool includeKey)
    {
        if (includeKey)
        {
            throw TraceException.AccessDenied("access denied: reading certificate authority private keys is not allowed");
        }
    }

    private static CertificateAuthorityType? ParseType(string name)
    {
        if (CertificateAuthorities.TryParseType(name, out var type))
        {
            return type;
        }

        return OtherKnownTypes.Contains(name, StringComparer.Ordinal)
            ? null
            : throw TraceException.BadParameter($"\"{name}\" is not a valid certificate authority type");
    }
}
