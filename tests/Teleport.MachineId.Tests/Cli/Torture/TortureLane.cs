using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.Cli.Torture;

/// <summary>Knobs of a torture run, from the environment so a long or a "before" run needs no code change.</summary>
/// <param name="Kills">How many kills; null for the CI sample: one kill aimed at each measured phase.</param>
internal sealed record TortureSettings(int? Kills, int Lanes, string Cli, int Seed, int VerifyEvery, string? ReportPath)
{
    /// <summary>
    /// <c>TBOT_DOTNET_TORTURE_KILLS</c> (unset: the CI sample, one kill per measured phase, about 20;
    /// the full run is 300 or more), <c>_LANES</c> (2 processes at a time), <c>_CLI</c> (the built
    /// apphost), <c>_SEED</c> (random), <c>_VERIFY_EVERY</c> (a full run after every 10 kills of a
    /// lane), <c>_REPORT</c> (a Markdown file to write).
    /// </summary>
    public static TortureSettings FromEnvironment()
    {
        static int Number(string name, int fallback) =>
            int.TryParse(Environment.GetEnvironmentVariable("TBOT_DOTNET_TORTURE_" + name), out var value) && value > 0 ? value : fallback;

        return new TortureSettings(
            Number("KILLS", 0) is > 0 and var kills ? kills : null,
            Number("LANES", 2),
            Environment.GetEnvironmentVariable("TBOT_DOTNET_TORTURE_CLI") is { Length: > 0 } cli ? cli : NodeEnvironment.TbotDotnetPath,
            Number("SEED", Random.Shared.Next(1, int.MaxValue)),
            Number("VERIFY_EVERY", 10),
            Environment.GetEnvironmentVariable("TBOT_DOTNET_TORTURE_REPORT"));
    }
}

/// <summary>
/// Chooses what to kill next: the phase with the fewest kills so far (so every phase of both
/// scenarios gets its share), and a moment inside it drawn from a measured run. Thread-safe.
/// </summary>
internal sealed class KillPlanner(TortureSettings settings, TortureReport report, IReadOnlyList<RunTimeline> measured)
{
    private const int MaxMissesPerPhase = 25;
    private readonly object _gate = new();
    private readonly Random _random = new(settings.Seed);

    // Aims handed out, counted when handed out: the report counts a kill only once its run ended, so
    // two lanes asking at the same time would otherwise both get the same least-hit phase.
    private readonly Dictionary<RunPhase, int> _aimed = [];
    private readonly IReadOnlyList<RunPhase> _phases =
        RunPhase.All.Where(p => measured.Any(m => m.Scenario == p.Scenario && m.Phases().Any(s => s.Phase == p))).ToList();

    public IReadOnlyList<RunPhase> Phases => _phases;

    /// <summary>The kills this run makes: the configured count, or one per measured phase (the CI sample).</summary>
    public int Kills => settings.Kills ?? _phases.Count;

    /// <summary>The next phase to kill in, preferring <paramref name="scenario"/> (what the lane's storage allows without a set-up run); null when done.</summary>
    public RunPhase? Next(RunScenario scenario)
    {
        lock (_gate)
        {
            if (report.Kills >= Kills)
            {
                return null;
            }

            var open = _phases.Where(p => report.MissedCount(p) < MaxMissesPerPhase).ToList();
            var preferred = open.Where(p => p.Scenario == scenario).ToList();
            // Staying in the lane's scenario saves a set-up run; a full run allows it one kill of slack,
            // the CI sample (one kill per phase) none, so that every phase gets its kill.
            var slack = settings.Kills is null ? 0 : 1;
            var candidates = preferred.Count > 0 && preferred.Min(Aimed) <= open.Min(Aimed) + slack ? preferred : open;
            if (candidates.Count == 0)
            {
                return null;
            }

            var fewest = candidates.Min(Aimed);
            var least = candidates.Where(p => Aimed(p) == fewest).ToList();
            var phase = least[_random.Next(least.Count)];
            _aimed[phase] = Aimed(phase) + 1;
            return phase;
        }
    }

    private int Aimed(RunPhase phase) => Math.Max(_aimed.GetValueOrDefault(phase), report.TargetedCount(phase));

    /// <summary>
    /// A kill point inside the phase: after its begin mark, by a uniform fraction of the phase's
    /// length in a randomly chosen measured run.
    /// </summary>
    public KillPoint Draw(RunPhase phase)
    {
        lock (_gate)
        {
            var spans = measured.Where(m => m.Scenario == phase.Scenario).SelectMany(m => m.Phases()).Where(s => s.Phase == phase).ToList();
            var (_, begin, end) = spans[_random.Next(spans.Count)];
            return new KillPoint(phase.BeginMark, _random.NextDouble() * (end - begin));
        }
    }
}

/// <summary>
/// One bot with its own storage and destination, run again and again and killed: after each kill
/// the invariants are checked, stranded states classified and recovered the documented way.
/// </summary>
internal sealed class TortureLane(int index, TeleportEmulator cluster, string work, string webCa, TortureSettings settings, TortureReport report)
{
    /// <summary>The exit code and advice of a stranded state (README "Exit codes": 3, refused; configure a new join token).</summary>
    private const int StrandedExitCode = 3;
    private const string StrandedAdvice = "new join token";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    private int _storageCount;
    private string _token = string.Empty;

    public string Bot => $"robot-{index}";

    private string Storage => Path.Combine(work, $"lane-{index}", $"storage-{_storageCount}");

    private string Destination => Path.Combine(work, $"lane-{index}", "machine-id");

    public void NewStorage() => _storageCount++;

    public void NewToken() => _token = cluster.CreateJoinToken(Bot).Name;

    /// <summary>Uninterrupted runs whose timing traces the kill times are drawn from.</summary>
    public async Task MeasureAsync(int joins, int renewals)
    {
        for (var i = 0; i < joins; i++)
        {
            NewStorage();
            NewToken();
            report.Measurements.Add(await CompleteAsync(RunScenario.Join, "measurement"));
        }

        for (var i = 0; i < renewals; i++)
        {
            var outcome = await RunAsync(RunScenario.Renew, kill: null);
            Verify(outcome, "measurement");
            report.Measurements.Add(outcome.Timeline);
            var renewal = cluster.IssuedCertificates.LastOrDefault(c => c.Kind == IssuedCertificateKind.BotRenewal && c.Username == "bot-" + Bot);
            if (outcome.ExitCode == 0 && renewal is not null && outcome.Timeline.At(RunPhase.RecordDurableMark) is { } durable)
            {
                report.UnknownOutcomeWindowsMs.Add((renewal.IssuedAt - outcome.LaunchedAt).TotalMilliseconds - durable);
            }
        }
    }

    public async Task KillLoopAsync(KillPlanner planner)
    {
        var sinceVerified = 0;
        while (true)
        {
            var state = await TortureChecks.StorageAsync(Storage, cluster);
            var target = planner.Next(state.StoredGeneration is null ? RunScenario.Join : RunScenario.Renew);
            if (target is null)
            {
                return;
            }

            await PrepareAsync(target.Scenario, state);
            var outcome = await RunAsync(target.Scenario, planner.Draw(target));
            if (!outcome.Killed)
            {
                report.Missed(target);
                if (outcome.ExitCode != 0)
                {
                    report.Fail($"{Bot}: a run that finished before its kill exited {outcome.ExitCode}: {Tail(outcome)}");
                }

                continue;
            }

            var reached = outcome.Timeline.PhaseReached();
            report.Killed(target, reached);
            await CheckAsync(target.Scenario, reached, outcome.Timeline);
            if (++sinceVerified >= settings.VerifyEvery)
            {
                // "The next run succeeds": an uninterrupted run from whatever the kills left.
                sinceVerified = 0;
                var now = await TortureChecks.StorageAsync(Storage, cluster);
                await CompleteAsync(now.StoredGeneration is null ? RunScenario.Join : RunScenario.Renew, "verification");
            }
        }
    }

    /// <summary>A last uninterrupted run: each lane ends with a bot that renews and a consistent destination.</summary>
    public async Task FinishAsync()
    {
        var state = await TortureChecks.StorageAsync(Storage, cluster);
        await CompleteAsync(state.StoredGeneration is null ? RunScenario.Join : RunScenario.Renew, "final");
    }

    private async Task PrepareAsync(RunScenario scenario, StorageState state)
    {
        if (scenario == RunScenario.Join)
        {
            if (state.StoredGeneration is not null || !state.Loadable)
            {
                NewStorage();
            }

            if (!cluster.JoinTokenExists(_token))
            {
                NewToken();
            }

            return;
        }

        if (state.StoredGeneration is null || state.RenewalStranded)
        {
            if (!cluster.JoinTokenExists(_token) || state.RenewalStranded)
            {
                NewToken();
            }

            await CompleteAsync(RunScenario.Join, "set-up");
        }
    }

    private async Task CheckAsync(RunScenario scenario, RunPhase reached, RunTimeline timeline)
    {
        report.Locks = cluster.Locks.Count;
        report.GenerationMismatches = cluster.AuditEvents.Count(e => e.Type == "cert.generation_mismatch");
        if (TortureChecks.DestinationProblem(Destination) is { } torn)
        {
            report.Torn($"{Bot} after a kill in '{reached.Key}': {torn}");
        }

        var state = await TortureChecks.StorageAsync(Storage, cluster);
        if (!state.Loadable)
        {
            report.NotLoadable($"{Bot} after a kill in '{reached.Key}': {state.Problem}");
            NewStorage();
            NewToken();
            return;
        }

        if (state.WouldLock)
        {
            report.LockRisk($"{Bot} after a kill in '{reached.Key}': stored generation {state.StoredGeneration}, cluster at {state.ClusterGeneration}, no in-flight record");
        }

        if (state.RenewalStranded)
        {
            // Avoidable: the record claimed "sent" while the request could not leave yet — the call
            // had not started, or its connection was still being set up after the record was durable.
            report.Stranded(reached, state.RenewalReachedAuth ? StrandedKind.ReachedAuth
                : timeline.Has(RunPhase.SendReadyMark) && !timeline.ConnectionPendingAfter(RunPhase.RecordDurableMark) ? StrandedKind.InTransit
                : StrandedKind.Avoidable);
            await RecoverAsync();
        }
        else if (scenario == RunScenario.Join && state.StoredGeneration is null && !cluster.JoinTokenExists(_token))
        {
            // The join reached Auth (the token is spent) but the identity never became durable.
            report.JoinConsumedWithoutIdentity(reached);
            NewToken();
        }
    }

    /// <summary>The documented way out of a stranded state: the next run says so; a new token re-joins, keeping the destination.</summary>
    private async Task RecoverAsync()
    {
        var stopped = await RunAsync(RunScenario.Renew, kill: null);
        if (stopped.ExitCode != StrandedExitCode || !stopped.StandardError.Contains(StrandedAdvice, StringComparison.OrdinalIgnoreCase))
        {
            report.Fail($"{Bot}: a stranded state was not reported as documented (exit {StrandedExitCode}, '{StrandedAdvice}'): exit {stopped.ExitCode}: {Tail(stopped)}");
        }

        NewToken();
        await CompleteAsync(RunScenario.Join, "recovery");
        report.Recovered();
    }

    private async Task<RunTimeline> CompleteAsync(RunScenario scenario, string why)
    {
        var outcome = await RunAsync(scenario, kill: null);
        Verify(outcome, why);
        return outcome.Timeline;
    }

    private void Verify(RunOutcome outcome, string why)
    {
        report.Completed();
        if (outcome.ExitCode != 0)
        {
            report.Fail($"{Bot}: {why} run exited {outcome.ExitCode}: {Tail(outcome)}");
        }
        else if (TortureChecks.DestinationProblem(Destination) is { } problem)
        {
            report.Torn($"{Bot} after a {why} run: {problem}");
        }
    }

    private Task<RunOutcome> RunAsync(RunScenario scenario, KillPoint? kill) => TortureRun.RunAsync(
        settings.Cli,
        [
            "start", "identity", "--proxy-server", cluster.ProxyAddress, "--ca-bundle", webCa, "--token", _token,
            "--storage", Storage, "--destination", Destination, "--oneshot",
        ],
        scenario,
        kill,
        RunTimeout);

    private static string Tail(RunOutcome outcome) =>
        string.Join(" | ", outcome.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("tbot-dotnet timing:", StringComparison.Ordinal)).TakeLast(3));
}
