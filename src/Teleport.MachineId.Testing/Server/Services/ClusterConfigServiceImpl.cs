using Grpc.Core;
using Teleport.MachineId.Testing.Proto.ClusterConfig.V1;
using Teleport.MachineId.Testing.Proto.Legacy.Types;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary><c>teleport.clusterconfig.v1.ClusterConfigService/GetAuthPreference</c>: the cluster's auth preference with its suite.</summary>
internal sealed class ClusterConfigServiceImpl(EmulatorRuntime runtime) : ClusterConfigService.ClusterConfigServiceBase
{
    public override Task<AuthPreferenceV2> GetAuthPreference(GetAuthPreferenceRequest request, ServerCallContext context)
    {
        RequestContext.RequireCaller(context, runtime);
        return Task.FromResult(new AuthPreferenceV2
        {
            Kind = "cluster_auth_preference",
            Version = "v2",
            Metadata = new Proto.Legacy.Types.Metadata { Name = "cluster-auth-preference", Namespace = "default" },
            Spec = new AuthPreferenceSpecV2
            {
                Type = "local",
                SecondFactor = "otp",
                AllowLocalAuth = new BoolValue { Value = true },
                DisconnectExpiredCert = new BoolValue { Value = false },
                LockingMode = "best_effort",
                DefaultSessionTTL = 12L * 3600 * 1_000_000_000,
                SignatureAlgorithmSuite = (SignatureAlgorithmSuite)runtime.Settings.Suite.ToProtoValue(),
            },
        });
    }
}
