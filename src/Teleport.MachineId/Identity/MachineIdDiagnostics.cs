namespace Teleport.MachineId;

/// <summary>
/// Names of the metrics and traces Teleport.MachineId emits, for OpenTelemetry or
/// <c>dotnet-counters</c> (<c>--counters Teleport.MachineId</c>).
/// </summary>
/// <remarks>
/// Instruments of <see cref="MeterName"/>: <c>teleport.machineid.bot.renewals</c> (counter, tag
/// <c>teleport.machineid.operation</c> = <c>join</c>, <c>rejoin</c> or <c>renew</c>),
/// <c>teleport.machineid.bot.renewal.failures</c> (counter, same tag plus <c>error.type</c>),
/// <c>teleport.machineid.bot.renewal.duration</c> (histogram, seconds),
/// <c>teleport.machineid.bot.ttl_shortened</c> (counter) and
/// <c>teleport.machineid.bot.identity.time_to_expiry</c> (observable gauge, seconds; negative once expired).
/// Spans of <see cref="ActivitySourceName"/>: <c>teleport.machineid.bot.join</c> and <c>teleport.machineid.bot.renew</c>
/// (one attempt), <c>teleport.machineid.storage.write</c> and <c>teleport.machineid.storage.delete</c> (a file of
/// the bot's storage, tag <c>teleport.machineid.file</c>), <c>teleport.machineid.wire.connect</c> (a new gRPC
/// connection: TCP or tunnel, then TLS), <c>teleport.machineid.wire.generate_user_certs</c> (a
/// <c>GenerateUserCerts</c> call from the moment it can leave), <c>teleport.machineid.output.renew</c> (an identity
/// output issued and written) and <c>teleport.machineid.destination.write</c> (one artifact set written).
/// </remarks>
public static class MachineIdDiagnostics
{
    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> name.</summary>
    public const string MeterName = "Teleport.MachineId";

    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> name.</summary>
    public const string ActivitySourceName = "Teleport.MachineId";
}
