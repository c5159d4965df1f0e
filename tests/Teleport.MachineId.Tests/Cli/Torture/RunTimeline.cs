using System.Globalization;
using System.Text.RegularExpressions;

namespace Teleport.MachineId.Tests.Cli.Torture;

/// <summary>Which kind of <c>start identity --oneshot</c> run: a first join, or a renewal from storage.</summary>
internal enum RunScenario
{
    Join,
    Renew,
}

/// <summary>A phase of a run, named for the report, entered when its mark appears on the timing trace.</summary>
/// <param name="Scenario">The run it belongs to.</param>
/// <param name="Name">What the process is doing during it.</param>
/// <param name="BeginMark">The trace mark that starts it (null: the launch).</param>
internal sealed record RunPhase(RunScenario Scenario, string Name, string? BeginMark)
{
    /// <summary>The renewal's <c>GenerateUserCerts</c> can leave (route and connection ready, message built).</summary>
    public const string SendReadyMark = "start teleport.machineid.wire.generate_user_certs";

    /// <summary>The renewal's in-flight record is durable.</summary>
    public const string RecordDurableMark = "stop teleport.machineid.storage.write renewal-inflight.json";

    public string Key => $"{Scenario.ToString().ToLowerInvariant()}: {Name}";

    /// <summary>
    /// The phases of each scenario, in order, from the SDK's spans as <c>TBOT_DOTNET_TRACE_TIMING</c>
    /// prints them. A phase lasts until the next one's mark (the last one until the process exits).
    /// </summary>
    public static readonly IReadOnlyList<RunPhase> All =
    [
        new(RunScenario.Join, "runtime start", null),
        new(RunScenario.Join, "start-up", "managed entry point"),
        new(RunScenario.Join, "storage probe", "start teleport.machineid.bot.join"),
        new(RunScenario.Join, "join request in flight", "stop teleport.machineid.storage.delete .write-probe"),
        new(RunScenario.Join, "storage write: identity", "start teleport.machineid.storage.write bot-identity.json"),
        new(RunScenario.Join, "publish", "stop teleport.machineid.storage.write bot-identity.json"),
        new(RunScenario.Join, "output: issue certificates", "stop teleport.machineid.bot.join"),
        new(RunScenario.Join, "output write", "start teleport.machineid.destination.write"),
        new(RunScenario.Join, "exit", "stop teleport.machineid.destination.write"),
        new(RunScenario.Renew, "runtime start", null),
        new(RunScenario.Renew, "start-up, load storage", "managed entry point"),
        new(RunScenario.Renew, "connect, suite, new key", "start teleport.machineid.bot.renew"),
        new(RunScenario.Renew, "GenerateUserCerts ready to leave", SendReadyMark),
        new(RunScenario.Renew, "storage write: in-flight record", "start teleport.machineid.storage.write renewal-inflight.json"),
        new(RunScenario.Renew, "after the in-flight record", RecordDurableMark),
        new(RunScenario.Renew, "storage write: identity", "start teleport.machineid.storage.write bot-identity.json"),
        new(RunScenario.Renew, "clear record, publish", "stop teleport.machineid.storage.write bot-identity.json"),
        new(RunScenario.Renew, "output: issue certificates", "stop teleport.machineid.bot.renew"),
        new(RunScenario.Renew, "output write", "start teleport.machineid.destination.write"),
        new(RunScenario.Renew, "exit", "stop teleport.machineid.destination.write"),
    ];

    public static IEnumerable<RunPhase> Of(RunScenario scenario) => All.Where(p => p.Scenario == scenario);
}

/// <summary>The marks of one run's timing trace: name → milliseconds since launch (first occurrence).</summary>
internal sealed partial class RunTimeline
{
    private const string ConnectStart = "start teleport.machineid.wire.connect";
    private const string ConnectStop = "stop teleport.machineid.wire.connect";
    private readonly Dictionary<string, double> _marks = new(StringComparer.Ordinal);
    private readonly List<(string Name, double At)> _all = [];

    public RunTimeline(RunScenario scenario) => Scenario = scenario;

    public RunScenario Scenario { get; }

    /// <summary>When the process exited (ms since launch), if it did on its own.</summary>
    public double? ExitedAt { get; set; }

    /// <summary>Reads one stderr line; returns whether it was a timing mark.</summary>
    public bool Add(string line)
    {
        var match = MarkLine().Match(line);
        if (!match.Success)
        {
            return false;
        }

        var name = match.Groups["name"].Value.Trim();
        var at = double.Parse(match.Groups["ms"].Value, CultureInfo.InvariantCulture);
        _marks.TryAdd(name, at);
        _all.Add((name, at));

        return true;
    }

    /// <summary>
    /// Whether, after <paramref name="mark"/>, a gRPC connection was still being set up when the
    /// run ended: the request could not leave yet.
    /// </summary>
    public bool ConnectionPendingAfter(string mark)
    {
        if (!_marks.TryGetValue(mark, out var at))
        {
            return false;
        }

        var later = _all.Where(m => m.At >= at).ToList();
        return later.Count(m => m.Name == ConnectStart) > later.Count(m => m.Name == ConnectStop);
    }

    /// <summary>When the run printed <paramref name="mark"/> (ms since launch), or null.</summary>
    public double? At(string mark) => _marks.TryGetValue(mark, out var at) ? at : null;

    /// <summary>Whether the run printed <paramref name="mark"/> (before it ended or was killed).</summary>
    public bool Has(string mark) => _marks.ContainsKey(mark);

    /// <summary>
    /// Each phase of the scenario this run went through, with its begin and end (ms since launch),
    /// in the order the run entered them (builds may order some steps differently): a phase ends
    /// where the next one begins, the last one where the process exited.
    /// </summary>
    public IReadOnlyList<(RunPhase Phase, double Begin, double End)> Phases()
    {
        var entered = Entered();
        var end = ExitedAt ?? _marks.Where(m => m.Key.StartsWith("exit", StringComparison.Ordinal)).Select(m => (double?)m.Value).FirstOrDefault();
        var result = new List<(RunPhase, double, double)>();
        for (var i = 0; i < entered.Count; i++)
        {
            var stop = i + 1 < entered.Count ? entered[i + 1].Begin : end;
            if (stop is { } s && s > entered[i].Begin)
            {
                result.Add((entered[i].Phase, entered[i].Begin, s));
            }
        }

        return result;
    }

    /// <summary>The phase the process was in when it was killed: the last one it entered.</summary>
    public RunPhase PhaseReached() => Entered()[^1].Phase;

    private List<(RunPhase Phase, double Begin)> Entered() =>
        RunPhase.Of(Scenario)
            .Select(p => (Phase: p, Begin: p.BeginMark is null ? 0 : _marks.TryGetValue(p.BeginMark, out var t) ? t : double.NaN))
            .Where(p => !double.IsNaN(p.Begin))
            .OrderBy(p => p.Begin)
            .ToList();

    [GeneratedRegex(@"^tbot-dotnet timing:\s+(?<ms>[0-9.]+) ms (?<name>.*) \(\+[0-9.]+ ms\)\s*$")]
    private static partial Regex MarkLine();
}
