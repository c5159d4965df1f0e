using Grpc.Core;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Proto.MachineId.V1;

namespace Teleport.MachineId.Testing.Server.Services;

/// <summary>
/// <c>teleport.machineid.v1.BotInstanceService</c>: heartbeats recorded against the caller's bot
/// instance (from its certificate), and reads of bot instances (own bot, or a <c>bot_instance</c> rule).
/// </summary>
internal sealed class BotInstanceServiceImpl(EmulatorRuntime runtime) : BotInstanceService.BotInstanceServiceBase
{
    public override Task<SubmitHeartbeatResponse> SubmitHeartbeat(SubmitHeartbeatRequest request, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        var instanceId = caller.Identity.BotInstanceId;
        if (string.IsNullOrEmpty(instanceId) || string.IsNullOrEmpty(caller.Identity.BotName))
        {
            throw TraceException.AccessDenied("only bot instances can submit heartbeats");
        }

        var heartbeat = request.Heartbeat ?? throw TraceException.BadParameter("heartbeat: must be non-nil");
        var now = runtime.Clock.GetUtcNow();
        var recorded = runtime.State.WithBotInstance(instanceId, instance =>
        {
            if (instance is null)
            {
                return false;
            }

            instance.Heartbeats.Add(new BotHeartbeatInfo
            {
                ReceivedAt = now,
                RecordedAt = heartbeat.RecordedAt?.ToDateTimeOffset(),
                IsStartup = heartbeat.IsStartup,
                OneShot = heartbeat.OneShot,
                Version = heartbeat.Version,
                Hostname = heartbeat.Hostname,
                JoinMethod = heartbeat.JoinMethod,
                Uptime = heartbeat.Uptime?.ToTimeSpan(),
                Architecture = heartbeat.Architecture,
                OperatingSystem = heartbeat.Os,
            });
            return true;
        });
        if (!recorded)
        {
            throw TraceException.NotFound($"bot instance {instanceId} not found");
        }

        return Task.FromResult(new SubmitHeartbeatResponse());
    }

    public override Task<BotInstance> GetBotInstance(GetBotInstanceRequest request, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        var found = runtime.State.BotInstances().FirstOrDefault(i => i.InstanceId == request.InstanceId && i.BotName == request.BotName);
        if (found is null || !MayRead(caller, found.BotName, "read"))
        {
            throw TraceException.NotFound($"bot instance {request.BotName}/{request.InstanceId} not found");
        }

        return Task.FromResult(ProtoConvert.ToBotInstance(found));
    }

    public override Task<ListBotInstancesResponse> ListBotInstances(ListBotInstancesRequest request, ServerCallContext context)
    {
        var caller = RequestContext.RequireCaller(context, runtime);
        var response = new ListBotInstancesResponse();
        foreach (var instance in runtime.State.BotInstances())
        {
            if ((request.FilterBotName.Length == 0 || instance.BotName == request.FilterBotName) && MayRead(caller, instance.BotName, "list"))
            {
                response.BotInstances.Add(ProtoConvert.ToBotInstance(instance));
            }
        }

        return Task.FromResult(response);
    }

    private bool MayRead(CallerIdentity caller, string botName, string verb) =>
        caller.Identity.BotName == botName
        || RoleEvaluation.Allows(runtime.State.ResolveRoles(caller.Roles.Where(r => runtime.State.GetRole(r) is not null)), "bot_instance", verb);
}
