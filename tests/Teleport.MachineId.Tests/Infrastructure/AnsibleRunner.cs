using System.Diagnostics;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>Runs <c>ansible</c> ad-hoc commands with the given ssh arguments (e.g. <c>-F &lt;dir&gt;/ssh_config</c>) and strict host key checking.</summary>
internal static class AnsibleRunner
{
    /// <param name="ansible">The ansible program.</param>
    /// <param name="workDirectory">Working directory (temporary directories go inside it).</param>
    /// <param name="arguments">ansible's arguments.</param>
    /// <param name="sshArgs">ANSIBLE_SSH_ARGS.</param>
    /// <param name="pipelining">ANSIBLE_PIPELINING: one ssh connection per task instead of several.</param>
    /// <param name="environment">More environment variables (e.g. for the ProxyCommand ssh runs).</param>
    public static async Task<ToolResult> RunAsync(
        string ansible, string workDirectory, string[] arguments, string sshArgs, bool pipelining = false, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(ansible)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["ANSIBLE_SSH_ARGS"] = sshArgs;
        info.Environment["ANSIBLE_HOST_KEY_CHECKING"] = "True";
        info.Environment["ANSIBLE_LOCAL_TEMP"] = Path.Combine(workDirectory, "local-tmp");
        info.Environment["ANSIBLE_REMOTE_TEMP"] = Path.Combine(workDirectory, "remote-tmp");
        info.Environment["ANSIBLE_NOCOLOR"] = "1";
        info.Environment["ANSIBLE_PYTHON_INTERPRETER"] = "auto_silent";
        info.Environment["ANSIBLE_PIPELINING"] = pipelining ? "True" : "False";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("ansible did not finish in time.");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }
}
