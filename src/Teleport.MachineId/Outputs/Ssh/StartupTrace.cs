using System.Diagnostics;
using System.Globalization;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>
/// Opt-in phase timings for the ProxyCommand's connection set-up, one line per phase on standard
/// error: <c>TBOT_DOTNET_TRACE_TIMING=1</c> (times from the process start as the kernel records it,
/// 10 ms resolution) or <c>TBOT_DOTNET_TRACE_TIMING=&lt;unix time in ms when the caller launched
/// the process&gt;</c> (e.g. <c>$(date +%s%3N)</c>, exact). Off by default: one environment read.
/// </summary>
internal sealed class StartupTrace
{
    /// <summary>The environment variable that turns the trace on.</summary>
    public const string Variable = "TBOT_DOTNET_TRACE_TIMING";

    private readonly TextWriter _writer;
    private readonly TimeProvider _clock;
    private readonly DateTimeOffset _zero;
    private long _previous;

    private StartupTrace(TextWriter writer, TimeProvider clock, DateTimeOffset zero)
    {
        _writer = writer;
        _clock = clock;
        _zero = zero;
        _previous = clock.GetTimestamp();
        Mark("managed entry point");
    }

    /// <summary>A trace when <see cref="Variable"/> is set, else <see langword="null"/>.</summary>
    public static StartupTrace? FromEnvironment(Func<string, string?> environment, TextWriter writer, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var value = environment(Variable);
        if (string.IsNullOrEmpty(value) || value == "0")
        {
            return null;
        }

        var zero = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var launchedMs) && launchedMs > 1_000_000_000_000
            ? DateTimeOffset.FromUnixTimeMilliseconds(launchedMs)
            : ProcessStart();
        return new StartupTrace(writer, clock, zero);
    }

    /// <summary>Writes the time since the process started and since the previous mark.</summary>
    public void Mark(string phase)
    {
        var now = _clock.GetTimestamp();
        var sincePrevious = _clock.GetElapsedTime(_previous, now);
        _previous = now;
        var sinceStart = _clock.GetUtcNow() - _zero;
        _writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tbot-dotnet timing: {sinceStart.TotalMilliseconds,7:0.0} ms {phase} (+{sincePrevious.TotalMilliseconds:0.0} ms)"));
        _writer.Flush();
    }

    private static DateTimeOffset ProcessStart()
    {
        using var process = Process.GetCurrentProcess();
        return new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
    }
}
