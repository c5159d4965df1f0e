namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>
/// Locates the OpenSSH programs the interop tests are judged by. Without them a test is ignored
/// with a reason that carries <see cref="SkipMarker"/>; under CI (<c>CI=true</c>) it fails instead,
/// because CI installs OpenSSH and must not silently skip (.ci/run also checks the marker).
/// </summary>
internal static class OpenSshTools
{
    /// <summary>Marker that .ci/run looks for in the reasons of skipped tests.</summary>
    public const string SkipMarker = "[requires-openssh]";

    public static bool IsCi =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Absolute path of <c>ssh-keygen</c>, or the test is ignored (failed under CI).</summary>
    public static string SshKeygen => Require("ssh-keygen", "openssh-client");

    /// <summary>Absolute path of <c>ssh</c>, or the test is ignored (failed under CI).</summary>
    public static string Ssh => Require("ssh", "openssh-client");

    /// <summary>Absolute path of <c>scp</c>, or the test is ignored (failed under CI).</summary>
    public static string Scp => Require("scp", "openssh-client");

    /// <summary>Absolute path of <c>sftp</c>, or the test is ignored (failed under CI).</summary>
    public static string Sftp => Require("sftp", "openssh-client");

    /// <summary>Absolute path of <c>ansible</c> (installed with OpenSSH by .ci/run), or the test is ignored (failed under CI).</summary>
    public static string Ansible => Require("ansible", "ansible");

    public static string SshAdd => Require("ssh-add", "openssh-client");

    /// <summary>python3 (Debian: python3, which ansible depends on), for clients written independently of the library.</summary>
    public static string Python3 => Require("python3", "python3");

    /// <summary>Absolute path of <c>sshd</c> (must be absolute to run), or the test is ignored (failed under CI).</summary>
    public static string Sshd => Require("sshd", "openssh-server");

    /// <summary>Finds a program on PATH or in the sbin directories Debian installs it to.</summary>
    public static string? Find(string program)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"]);
        foreach (var dir in dirs)
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }

        return null;
    }

    /// <summary>
    /// Ignores the current test (or fails it under CI) when <paramref name="program"/> is missing.
    /// </summary>
    public static string Require(string program, string debianPackage)
    {
        var path = Find(program);
        if (path is not null)
        {
            return path;
        }

        var reason = $"{SkipMarker} '{program}' is not installed; install it with: apt-get install -y {debianPackage}";
        if (IsCi)
        {
            Assert.Fail($"CI=true but {reason}");
        }

        Assert.Ignore(reason);
        return null!; // unreachable: Assert.Ignore throws
    }
}
