using System.Diagnostics;
using Teleport.MachineId.Tests.Destinations;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// <c>tbot-dotnet</c> running as a long-lived bot (not <c>--oneshot</c>) in a separate process: its
/// standard error is collected while it runs, <see cref="StopAsync"/> sends SIGTERM and waits (bounded)
/// for the exit code, and disposing kills it if it is still running.
/// </summary>
internal sealed class CliDaemon : IAsyncDisposable
{
    private readonly Process _process;
    private readonly CollectedLines _stderr;
    private readonly Task _drain;

    private CliDaemon(Process process)
    {
        _process = process;
        process.StandardInput.Close();
        _stderr = new CollectedLines(process.StandardError);
        _drain = Task.WhenAll(process.StandardOutput.BaseStream.CopyToAsync(Stream.Null), _stderr.Completion);
    }

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything it has printed on standard error so far.</summary>
    public string StandardError => _stderr.Text;

    /// <summary>Starts <c>tbot-dotnet</c> with <paramref name="arguments"/> (see <see cref="CliProcess.CreateStartInfo"/>).</summary>
    public static CliDaemon Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = CliProcess.CreateStartInfo(arguments, environment);
        return new CliDaemon(Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}."));
    }

    /// <summary>
    /// Polls <paramref name="condition"/> every 50 ms until it holds; fails the test when the process
    /// exits first or <paramref name="timeout"/> passes, with its standard error.
    /// </summary>
    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (_process.HasExited)
            {
                await _drain.WaitAsync(TimeSpan.FromSeconds(5));
                Assert.Fail($"tbot-dotnet exited ({_process.ExitCode}) before {what}.\nstderr:\n{StandardError}");
            }

            if (deadline.Elapsed > timeout)
            {
                Assert.Fail($"Not {what} after {timeout.TotalSeconds:0} s.\nstderr:\n{StandardError}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Sends SIGTERM and waits up to <paramref name="timeout"/> for the exit; kills it and throws when it does not stop.</summary>
    /// <returns>The exit code.</returns>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited && TestNative.Signal(_process.Id, TestNative.SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill(SIGTERM) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}.");
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tbot-dotnet did not stop within {timeout.TotalSeconds:0} s of SIGTERM.\nstderr:\n{StandardError}");
        }

        await _drain.WaitAsync(TimeSpan.FromSeconds(5));
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }
}
