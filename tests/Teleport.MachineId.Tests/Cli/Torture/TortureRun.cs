using System.Diagnostics;
using System.Text;
using Teleport.MachineId.Outputs.Ssh;

namespace Teleport.MachineId.Tests.Cli.Torture;

/// <summary>How one run of the CLI ended.</summary>
/// <param name="Killed">Whether it was SIGKILLed (false: it exited before the kill time).</param>
/// <param name="ExitCode">Its exit code when it exited on its own.</param>
/// <param name="Timeline">The timing marks it printed.</param>
/// <param name="StandardError">Everything it printed on standard error.</param>
/// <param name="KilledAtMs">When the kill was sent, ms after launch.</param>
/// <param name="LaunchedAt">When it was launched (the zero of its timing marks).</param>
internal sealed record RunOutcome(bool Killed, int? ExitCode, RunTimeline Timeline, string StandardError, double? KilledAtMs, DateTimeOffset LaunchedAt);

/// <summary>
/// When to kill: <paramref name="DelayMs"/> after the run prints <paramref name="AfterMark"/> (after
/// the launch when null). Anchoring on the live mark keeps the kill inside the chosen phase even
/// when the machine is slower or faster than when the phase was measured.
/// </summary>
internal sealed record KillPoint(string? AfterMark, double DelayMs);

/// <summary>Runs <c>tbot-dotnet</c> as a separate process with the timing trace on, and SIGKILLs it at a chosen moment.</summary>
internal static class TortureRun
{
    public static async Task<RunOutcome> RunAsync(string cli, IReadOnlyList<string> arguments, RunScenario scenario, KillPoint? kill, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(cli)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var name in new[] { "TELEPORT_BOT_TOKEN", "TELEPORT_PROXY", "TELEPORT_AUTH_SERVER", "TBOT_CONFIG_PATH" })
        {
            info.Environment.Remove(name);
        }

        var timeline = new RunTimeline(scenario);
        var stderr = new StringBuilder();
        var anchor = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (kill is { AfterMark: null })
        {
            anchor.TrySetResult(TimeSpan.Zero);
        }

        var clock = Stopwatch.StartNew();
        var launchedAt = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        info.Environment[StartupTrace.Variable] = launchedAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start " + cli);
        process.StandardInput.Close();
        var drainOut = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        var readErr = Task.Run(async () =>
        {
            string? line;
            while ((line = await process.StandardError.ReadLineAsync()) is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(line);
                    timeline.Add(line);
                }

                if (kill?.AfterMark is { } mark && timeline.Has(mark))
                {
                    anchor.TrySetResult(clock.Elapsed);
                }
            }
        });

        using var deadline = new CancellationTokenSource(timeout);
        var killed = false;
        double? killedAt = null;
        try
        {
            if (kill is not null)
            {
                var exited = process.WaitForExitAsync(deadline.Token);
                if (await Task.WhenAny(exited, anchor.Task) == anchor.Task)
                {
                    var wait = await anchor.Task + TimeSpan.FromMilliseconds(kill.DelayMs) - clock.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.WhenAny(exited, Task.Delay(wait, deadline.Token));
                    }
                }

                if (!process.HasExited)
                {
                    killedAt = clock.Elapsed.TotalMilliseconds;
                    process.Kill(); // SIGKILL on Unix
                    killed = true;
                }
            }

            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"tbot-dotnet {string.Join(' ', arguments)} did not finish within {timeout.TotalSeconds} s:\n{stderr}");
        }

        await Task.WhenAll(readErr, drainOut);
        if (!killed)
        {
            timeline.ExitedAt = clock.Elapsed.TotalMilliseconds;
        }

        return new RunOutcome(killed, killed ? null : process.ExitCode, timeline, stderr.ToString(), killedAt, launchedAt);
    }
}
