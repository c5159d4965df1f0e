using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Identity;

/// <summary>Helpers for simulated-time provider tests.</summary>
internal static class IdentityTestSupport
{
    public static readonly DateTimeOffset Start = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    public static MachineIdOptions Options(string? storagePath, string? tokenFile) => new()
    {
        ProxyServer = "proxy.sim.example.com:443",
        TokenFile = tokenFile,
        StorageType = storagePath is null ? BotStorageType.Memory : BotStorageType.Directory,
        StoragePath = storagePath,
    };

    public static BotIdentityProvider CreateProvider(
        MachineIdOptions options, SimulatedBotCluster cluster, TimeProvider time, ILoggerFactory? loggerFactory = null, System.Diagnostics.Metrics.IMeterFactory? meterFactory = null, int seed = 1)
    {
        var random = new Random(seed);
        return BotIdentityProvider.CreateInternal(options, loggerFactory, time, cluster.ClientFactory, meterFactory, null, () => random.NextDouble());
    }

    /// <summary>Starts a provider, waits for its first identity and disposes of it: the first run before a restart.</summary>
    public static async Task<BotIdentity> StartUntilReadyThenStopAsync(MachineIdOptions options, SimulatedBotCluster cluster, TimeProvider time)
    {
        await using var provider = CreateProvider(options, cluster, time);
        await provider.StartAsync();
        return await provider.WaitUntilReadyAsync();
    }

    /// <summary>Advances the fake clock to <paramref name="until"/> through each moment the provider's loops wait for.</summary>
    public static Task RunUntilAsync(FakeTimeProvider time, BotIdentityProvider provider, DateTimeOffset until, Action<DateTimeOffset>? onStep = null) =>
        SimulatedTime.RunUntilAsync(time, provider.Activity, until, onStep);

    /// <summary>As <see cref="RunUntilAsync"/>, moving the clock on in 5-second steps while a fault keeps the loops busy (fault drills).</summary>
    public static Task RunThroughStallsUntilAsync(FakeTimeProvider time, BotIdentityProvider provider, DateTimeOffset until, Action<DateTimeOffset>? onStep = null) =>
        SimulatedTime.RunThroughStallsUntilAsync(time, provider.Activity, until, TimeSpan.FromSeconds(5), onStep);

    /// <summary>Polls (real time) until <paramref name="condition"/> holds; <paramref name="betweenPolls"/> runs after each failed check.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what, Action? betweenPolls = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting until " + what);
            }

            betweenPolls?.Invoke();
            await Task.Delay(5);
        }
    }
}

/// <summary>Captures every log entry (message, exception text) at every level.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, EventId EventId, string Text)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public string AllText => string.Join("\n", Entries.Select(e => e.Text));

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = $"{category} [{eventId.Id}] {formatter(state, exception)}";
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                text += " | " + string.Join(", ", values.Select(kv => kv.Key + "=" + kv.Value));
            }

            if (exception is not null)
            {
                text += "\n" + exception;
            }

            owner.Entries.Enqueue((logLevel, eventId, text));
        }
    }
}
