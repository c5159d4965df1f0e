using System.Diagnostics;
using Teleport.MachineId.Outputs.Ssh;

namespace Teleport.MachineId.Cli;

/// <summary>
/// With <c>TBOT_DOTNET_TRACE_TIMING</c> set, marks the start and end of the SDK's spans (join,
/// renewal, each storage file written, output issued, destination written) on the timing trace, so a
/// run's phases can be measured from outside (the kill torture test draws its kill times from them).
/// </summary>
internal sealed class SpanTimingTrace : IDisposable
{
    private readonly ActivityListener _listener;

    private SpanTimingTrace(StartupTrace trace)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MachineIdDiagnostics.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStarted = activity => trace.Mark("start " + Describe(activity)),
            ActivityStopped = activity => trace.Mark("stop " + Describe(activity)),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Starts marking spans on <paramref name="trace"/>; null when the trace is off.</summary>
    public static SpanTimingTrace? Attach(StartupTrace? trace) => trace is null ? null : new SpanTimingTrace(trace);

    public void Dispose() => _listener.Dispose();

    private static string Describe(Activity activity) =>
        activity.GetTagItem(MachineIdActivities.FileTag) is string file ? $"{activity.OperationName} {file}" : activity.OperationName;
}
