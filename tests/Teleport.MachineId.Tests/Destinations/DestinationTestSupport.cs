using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Tests.Destinations;

/// <summary>Runs a program to completion and captures its output.</summary>
internal static class ProcessRunner
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError);

    public static string? Find(string program) =>
        new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin" }
            .Select(dir => System.IO.Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    /// <summary>The absolute path of <paramref name="program"/>, or the test is ignored (failed under CI).</summary>
    public static string Require(string program, string debianPackage)
    {
        var path = Find(program);
        if (path is not null)
        {
            return path;
        }

        var reason = $"'{program}' is not installed; install it with: apt-get install -y {debianPackage}";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"CI=true but {reason}");
        }

        Assert.Ignore(reason);
        return null!;
    }

    public static Result Run(string fileName, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} did not finish within 60 s");
        }

        return new Result(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}

/// <summary>Collects log entries so tests can assert on warnings by event id.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, EventId EventId, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, EventId EventId, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return _entries.ToList();
            }
        }
    }

    public bool Has(int eventId) => Entries.Any(e => e.EventId.Id == eventId);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, eventId, formatter(state, exception)));
        }
    }
}

/// <summary>Artifact sets whose certificate embeds a hash of the key, so a mixed or partial pair is detectable.</summary>
internal static class PairedArtifacts
{
    public static DestinationArtifactsPair Create(Random random, int sequence)
    {
        var key = new byte[random.Next(64, 4096)];
        random.NextBytes(key);
        var certificate = Encoding.ASCII.GetBytes($"cert {sequence} for-key-sha256:{Convert.ToHexString(SHA256.HashData(key))} END\n");
        return new DestinationArtifactsPair(key, certificate);
    }

    /// <summary>Null when consistent; otherwise what is wrong.</summary>
    public static string? Check(ReadOnlySpan<byte> key, ReadOnlySpan<byte> certificate)
    {
        var text = Encoding.ASCII.GetString(certificate);
        if (!text.EndsWith(" END\n", StringComparison.Ordinal))
        {
            return $"partial certificate ({certificate.Length} bytes)";
        }

        var marker = text.IndexOf("for-key-sha256:", StringComparison.Ordinal);
        if (marker < 0)
        {
            return "certificate without key hash";
        }

        var expected = text.Substring(marker + "for-key-sha256:".Length, 64);
        return expected == Convert.ToHexString(SHA256.HashData(key)) ? null : "key and certificate come from different writes (or the key is partial)";
    }
}

internal sealed record DestinationArtifactsPair(byte[] Key, byte[] Certificate);

/// <summary>libc calls the tests need.</summary>
internal static partial class TestNative
{
    [DllImport("libc", EntryPoint = "umask")]
    private static extern uint UmaskRaw(uint mask);

    /// <summary>SIGHUP on Linux and macOS.</summary>
    public const int SigHup = 1;

    /// <summary>SIGTERM on Linux and macOS.</summary>
    public const int SigTerm = 15;

    /// <summary>kill(2): sends <paramref name="signal"/> to <paramref name="pid"/>; 0 on success.</summary>
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Signal(int pid, int signal);

    /// <summary>Sets the process umask and returns a scope restoring the previous one.</summary>
    public static IDisposable Umask(uint mask)
    {
        var previous = UmaskRaw(mask);
        return new Restore(() => UmaskRaw(previous));
    }

    private sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
