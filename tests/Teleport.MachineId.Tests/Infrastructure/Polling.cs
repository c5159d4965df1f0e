namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>Waiting for what another process writes a moment after the event a test caused (a log line).</summary>
internal static class Polling
{
    /// <summary>
    /// Reads every 50 ms until <paramref name="condition"/> holds for the reading or 10 s pass, and returns
    /// the last reading either way: the caller's assertion then reports what was there.
    /// </summary>
    public static async Task<T> ReadUntilAsync<T>(Func<T> read, Func<T, bool> condition)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        var reading = read();
        while (!condition(reading) && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
            reading = read();
        }

        return reading;
    }
}
