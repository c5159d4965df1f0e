using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Teleport.MachineId.Tests.Cli.Torture;

/// <summary>Why a renewal left the bot stranded (its next run asks for a new token).</summary>
internal enum StrandedKind
{
    /// <summary>The record was durable while the request could not leave yet (no connection or message): a design fault.</summary>
    Avoidable,

    /// <summary>Killed while the request was leaving (after the record, as late as it can be); Auth never applied it.</summary>
    InTransit,

    /// <summary>Auth applied the renewal: without the record the next renewal would lock the bot.</summary>
    ReachedAuth,
}

/// <summary>What the torture run saw, for the assertions and for <c>benchmarks/README.md</c>. Thread-safe.</summary>
internal sealed class TortureReport
{
    private readonly object _gate = new();
    private readonly Dictionary<string, int> _targeted = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _hit = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _missed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Avoidable, int InTransit, int Uncertain)> _strandedByPhase = new(StringComparer.Ordinal);
    private readonly List<string> _failures = [];

    public ConcurrentBag<RunTimeline> Measurements { get; } = [];

    /// <summary>
    /// The unknown-outcome window of full renewals: from the in-flight record being durable to Auth
    /// issuing the renewed certificate (ms) — how long a crash strands the bot without need.
    /// </summary>
    public ConcurrentBag<double> UnknownOutcomeWindowsMs { get; } = [];

    public int Kills { get; private set; }

    public int CompletionRuns { get; private set; }

    public int TornSets { get; private set; }

    public int Unloadable { get; private set; }

    public int WouldLock { get; private set; }

    public int AvoidableStranded { get; private set; }

    public int InTransitStranded { get; private set; }

    public int UncertainStranded { get; private set; }

    public int UncertainJoins { get; private set; }

    public int Recoveries { get; private set; }

    public int Locks { get; set; }

    public int GenerationMismatches { get; set; }

    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_gate)
            {
                return [.. _failures];
            }
        }
    }

    public int TargetedCount(RunPhase phase)
    {
        lock (_gate)
        {
            return _targeted.GetValueOrDefault(phase.Key) + _missed.GetValueOrDefault(phase.Key);
        }
    }

    public int MissedCount(RunPhase phase)
    {
        lock (_gate)
        {
            return _missed.GetValueOrDefault(phase.Key);
        }
    }

    public void Missed(RunPhase target) => Increment(_missed, target.Key);

    public void Killed(RunPhase target, RunPhase reached)
    {
        lock (_gate)
        {
            Kills++;
            _targeted[target.Key] = _targeted.GetValueOrDefault(target.Key) + 1;
            _hit[reached.Key] = _hit.GetValueOrDefault(reached.Key) + 1;
        }
    }

    public void Stranded(RunPhase reached, StrandedKind kind)
    {
        lock (_gate)
        {
            var (avoidable, inTransit, uncertain) = _strandedByPhase.GetValueOrDefault(reached.Key);
            _strandedByPhase[reached.Key] = kind switch
            {
                StrandedKind.Avoidable => (avoidable + 1, inTransit, uncertain),
                StrandedKind.InTransit => (avoidable, inTransit + 1, uncertain),
                _ => (avoidable, inTransit, uncertain + 1),
            };
            _ = kind switch
            {
                StrandedKind.Avoidable => AvoidableStranded++,
                StrandedKind.InTransit => InTransitStranded++,
                _ => UncertainStranded++,
            };
        }
    }

    public void JoinConsumedWithoutIdentity(RunPhase reached)
    {
        lock (_gate)
        {
            UncertainJoins++;
            var (avoidable, inTransit, uncertain) = _strandedByPhase.GetValueOrDefault(reached.Key);
            _strandedByPhase[reached.Key] = (avoidable, inTransit, uncertain + 1);
        }
    }

    public void Torn(string detail) => Fail(() => TornSets++, "torn destination: " + detail);

    public void NotLoadable(string detail) => Fail(() => Unloadable++, "storage not loadable: " + detail);

    public void LockRisk(string detail) => Fail(() => WouldLock++, "next renewal would lock the bot: " + detail);

    public void Completed()
    {
        lock (_gate)
        {
            CompletionRuns++;
        }
    }

    public void Recovered()
    {
        lock (_gate)
        {
            Recoveries++;
        }
    }

    public void Fail(string detail) => Fail(() => { }, detail);

    /// <summary>The report as Markdown: totals, then kills per phase (targeted, hit, stranded).</summary>
    public string ToMarkdown(TortureSettings settings, TimeSpan elapsed)
    {
        lock (_gate)
        {
            var text = new StringBuilder();
            var c = CultureInfo.InvariantCulture;
            text.AppendLine(c, $"CLI: `{settings.Cli}`; {settings.Lanes} lanes; seed {settings.Seed}; {elapsed.TotalSeconds:0} s wall time.");
            text.AppendLine();
            text.AppendLine("| kills | full runs | locks | generation mismatches | torn sets | storage not loadable | would lock | stranded: avoidable | stranded: request in transit | stranded: renewal reached Auth | join reached Auth, no identity stored | recovered with a new token |");
            text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            text.AppendLine(c, $"| {Kills} | {CompletionRuns} | {Locks} | {GenerationMismatches} | {TornSets} | {Unloadable} | {WouldLock} | {AvoidableStranded} | {InTransitStranded} | {UncertainStranded} | {UncertainJoins} | {Recoveries} |");
            if (!UnknownOutcomeWindowsMs.IsEmpty)
            {
                var windows = UnknownOutcomeWindowsMs.Order().ToList();
                text.AppendLine();
                text.AppendLine(c, $"Unknown-outcome window (in-flight record durable → Auth issues the renewal), {windows.Count} full renewals: median {Median(windows):0.0} ms, max {windows[^1]:0.0} ms.");
            }

            text.AppendLine();
            text.AppendLine("| phase | measured (ms after launch, median) | kills aimed at it (runs that ended first) | kills that landed in it | stranded: avoidable / in transit / reached Auth |");
            text.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var phase in RunPhase.All)
            {
                var spans = Measurements.Where(m => m.Scenario == phase.Scenario).SelectMany(m => m.Phases()).Where(p => p.Phase == phase).ToList();
                var measured = spans.Count == 0 ? "—" : string.Create(c, $"{Median(spans.Select(s => s.Begin)):0}–{Median(spans.Select(s => s.End)):0}");
                var (avoidable, inTransit, uncertain) = _strandedByPhase.GetValueOrDefault(phase.Key);
                text.AppendLine(c, $"| {phase.Key} | {measured} | {_targeted.GetValueOrDefault(phase.Key)} ({_missed.GetValueOrDefault(phase.Key)}) | {_hit.GetValueOrDefault(phase.Key)} | {avoidable} / {inTransit} / {uncertain} |");
            }

            if (_failures.Count > 0)
            {
                text.AppendLine();
                text.AppendLine("Failures:");
                foreach (var failure in _failures.Take(20))
                {
                    text.AppendLine("- " + failure);
                }
            }

            return text.ToString();
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }

    private void Increment(Dictionary<string, int> counts, string key)
    {
        lock (_gate)
        {
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
    }

    private void Fail(Action count, string detail)
    {
        lock (_gate)
        {
            count();
            _failures.Add(detail);
        }
    }
}
