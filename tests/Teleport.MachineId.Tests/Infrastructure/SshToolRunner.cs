using System.Diagnostics;
using System.Text;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>What an external program printed and returned.</summary>
internal sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>
/// Runs an external program (ssh, ssh-keygen, openssl, …) with an argument list, captures its
/// output and kills it (by its own process id) when it outlives the timeout.
/// </summary>
internal static class SshToolRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static ToolResult Run(string program, params string[] arguments) =>
        RunAsync(program, arguments).GetAwaiter().GetResult();

    public static async Task<ToolResult> RunAsync(
        string program,
        IEnumerable<string> arguments,
        string? standardInput = null,
        TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        // ssh-keygen prints validity in local time; UTC keeps expected output stable.
        info.Environment["TZ"] = "UTC";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
        }

        process.StandardInput.Close();
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', info.ArgumentList)} did not finish in time.");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A private (0700) temporary directory, deleted on dispose.</summary>
internal sealed class SshTestDirectory : IDisposable
{
    public SshTestDirectory(string prefix = "tmid-ssh")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(Path);
        }
        else
        {
            Directory.CreateDirectory(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a file; secrets get 0600, others 0644.</summary>
    public string Write(string name, string content, bool secret = false)
    {
        var path = File(name);
        System.IO.File.WriteAllText(path, content);
        if (OperatingSystem.IsWindows())
        {
            return path;
        }

        System.IO.File.SetUnixFileMode(
            path,
            secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                   : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
