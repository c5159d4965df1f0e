using System.Diagnostics;
using System.Text;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// Runs the built <c>tbot-dotnet</c> apphost (or another program, e.g. <c>tbot-dotnet-emulator</c>)
/// as a separate process (what users and ssh run).
/// </summary>
internal static class CliProcess
{
    public static async Task<ToolResult> RunAsync(
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        TimeSpan? timeout = null,
        string? program = null)
    {
        var info = CreateStartInfo(arguments, environment, workingDirectory, program);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(info.FileName)} {string.Join(' ', info.ArgumentList)} did not finish in time.\nstderr so far: {(stderr.IsCompleted ? stderr.Result : "")}");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// The start info every run of the CLI uses: standard streams redirected (UTF-8; close standard input), the
    /// developer's tbot environment removed, then <paramref name="environment"/> applied.
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        string? program = null)
    {
        var info = new ProcessStartInfo(program ?? NodeEnvironment.TbotDotnetPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Never inherit a developer's tbot environment.
        foreach (var name in new[] { "TELEPORT_BOT_TOKEN", "TELEPORT_PROXY", "TELEPORT_AUTH_SERVER", "TBOT_CONFIG_PATH" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[name] = value;
        }

        return info;
    }
}
