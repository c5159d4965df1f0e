using System.Diagnostics;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>
/// A long-lived <c>ssh</c> session running <c>cat</c> on the node: lines written to it come back,
/// which proves the session (and the ProxyCommand under it) is alive at that moment.
/// </summary>
internal sealed class SshSession : IAsyncDisposable
{
    private readonly Process _process;
    private readonly CollectedLines _stderr;

    private SshSession(Process process)
    {
        _process = process;
        _stderr = new CollectedLines(process.StandardError);
    }

    public string StandardError => _stderr.Text;

    /// <summary>Starts <c>ssh -F &lt;directory&gt;/ssh_config user@host cat</c> with strict host key checking.</summary>
    public static SshSession Start(string directory, string user, string host)
    {
        var info = new ProcessStartInfo(OpenSshTools.Ssh)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
        {
            "-F", Path.Combine(directory, "ssh_config"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=30",
            "-o", "ServerAliveInterval=0", "-T", user + "@" + host, "cat",
        })
        {
            info.ArgumentList.Add(argument);
        }

        return new SshSession(Process.Start(info) ?? throw new InvalidOperationException("Could not start ssh."));
    }

    /// <summary>Sends a line and waits for it to come back; false when the session is gone or silent.</summary>
    public async Task<bool> EchoAsync(string line, TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return false;
        }

        try
        {
            await _process.StandardInput.WriteLineAsync(line);
            await _process.StandardInput.FlushAsync();
            using var cancel = new CancellationTokenSource(timeout);
            return await _process.StandardOutput.ReadLineAsync(cancel.Token) == line;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Waits for ssh to end; its exit code, or null when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            await _stderr.Completion;
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
