using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Proto.Legacy.Client;
using Teleport.MachineId.Testing.Proto.Legacy.Types;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// <c>proto.AuthService</c>: Ping and GetClusterCACert (unauthenticated), GenerateUserCerts, GetRole
/// and WatchEvents (<c>cert_authority</c> only) for authenticated, unlocked callers.
/// </summary>
internal sealed class AuthServiceImpl(EmulatorRuntime runtime) : AuthService.AuthServiceBase
{
    private const string CertAuthorityKind = "cert_authority";

    public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context)
    {
        var settings = runtime.Settings;
        return Task.FromResult(new PingResponse
        {
            ClusterName = settings.ClusterName,
            ServerVersion = settings.ServerVersion,
            ServerFeatures = new Features(),
            ProxyPublicAddr = runtime.PublicProxyAddress,
            RemoteAddr = RequestContext.RemoteAddress(context),
            SignatureAlgorithmSuite = (Proto.Legacy.Types.SignatureAlgorithmSuite)settings.Suite.ToProtoValue(),
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

    public override Task<Certs> GenerateUserCerts(UserCertsRequest request, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        PublicKeyInfo? ssh;
        PublicKeyInfo? tls;
        try
        {
            ssh = request.SSHPublicKey.IsEmpty ? null : PublicKeyInfo.ParseAuthorizedKey(Encoding.UTF8.GetString(request.SSHPublicKey.Span));
            tls = request.TLSPublicKey.IsEmpty ? null : PublicKeyInfo.ImportPem(Encoding.UTF8.GetString(request.TLSPublicKey.Span));
        }
        catch (TeleportFormatException ex)
        {
            throw TraceException.BadParameter("invalid public key: " + ex.Message);
        }

        var certificates = runtime.Auth.GenerateUserCerts(caller, new GenerateUserCertsRequest
        {
            Username = request.Username,
            Expires = request.Expires?.ToDateTimeOffset(),
            Format = request.Format,
            RouteToCluster = request.RouteToCluster,
            RoleRequests = request.RoleRequests.ToArray(),
            UseRoleRequests = request.UseRoleRequests,
            ReissuableRoleImpersonation = request.ReissuableRoleImpersonation,
            Usage = (int)request.Usage,
            SshPublicKey = ssh,
            TlsPublicKey = tls,
            RemoteAddress = RequestContext.RemoteAddress(context),
        });
        return Task.FromResult(ProtoConvert.ToCerts(certificates));
    }

    public override Task<RoleV6> GetRole(GetRoleRequest request, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        if (string.IsNullOrEmpty(request.Name))
        {
            throw TraceException.BadParameter("missing role name");
        }

        // Users may read the roles they hold; anything else needs a role:read rule.
        var callerRoles = runtime.State.ResolveRoles(caller.Roles.Where(r => runtime.State.GetRole(r) is not null));
        if (!caller.Roles.Contains(request.Name, StringComparer.Ordinal) && !RoleEvaluation.Allows(callerRoles, "role", "read"))
        {
            throw TraceException.AccessDenied($"access denied to perform action \"read\" on \"role\"");
        }

        var role = runtime.State.GetRole(request.Name) ?? throw TraceException.NotFound($"role {request.Name} is not found");
        return Task.FromResult(ProtoConvert.ToRole(role));
    }

    public override async Task WatchEvents(Watch request, IServerStreamWriter<Event> responseStream, ServerCallContext context)
    {
        RequestContext.RequireCaller(context, runtime);
        var kinds = new List<WatchKind>();
        foreach (var kind in request.Kinds)
        {
            if (kind.Kind != CertAuthorityKind)
            {
                if (request.AllowPartialSuccess)
                {
                    continue;
                }

                throw TraceException.BadParameter($"watching kind \"{kind.Kind}\" is not supported by the emulator");
            }

            if (kind.LoadSecrets)
            {
                throw TraceException.AccessDenied("access denied: watching certificate authorities with secrets is not allowed");
            }

            kinds.Add(kind);
        }

        if (kinds.Count == 0)
        {
            throw TraceException.BadParameter("at least one supported watch kind is required");
        }

        var subscription = runtime.Events.Subscribe();
        try
        {
            // Teleport starts every watch with an OpInit event.
            await responseStream.WriteAsync(new Event { Type = Operation.Init }).ConfigureAwait(false);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, runtime.Stopping);
            while (await subscription.Reader.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (subscription.Reader.TryRead(out var snapshot))
                {
                    if (kinds.Any(k => Matches(k, snapshot)))
                    {
                        await responseStream.WriteAsync(new Event { Type = Operation.Put, CertAuthority = ProtoConvert.ToCertAuthority(snapshot) }).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away or the emulator is stopping.
        }
        finally
        {
            runtime.Events.Unsubscribe(subscription);
        }
    }

    /// <summary>§4.4: the filter maps CA type to cluster name; an empty filter (or name) matches every CA.</summary>
    private static bool Matches(WatchKind kind, CaSnapshot snapshot)
    {
        if (!string.IsNullOrEmpty(kind.Name) && kind.Name != snapshot.ClusterName)
        {
            return false;
        }

        if (!string.IsNullOrEmpty(kind.SubKind) && kind.SubKind != snapshot.TypeName)
        {
            return false;
        }

        if (kind.Filter.Count == 0)
        {
            return true;
        }

        return kind.Filter.TryGetValue(snapshot.TypeName, out var domain) && (domain.Length == 0 || domain == snapshot.ClusterName);
    }
}
