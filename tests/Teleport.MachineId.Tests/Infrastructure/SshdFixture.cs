using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Destinations;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>How <see cref="SshdFixture"/> sets up its sshd.</summary>
internal sealed class SshdFixtureOptions
{
    /// <summary>
    /// User CA keys sshd trusts (<c>TrustedUserCAKeys</c>). When empty the fixture generates an
    /// Ed25519 user CA (<see cref="SshdFixture.UserCa"/>) and trusts it.
    /// </summary>
    public IList<PublicKeyInfo> TrustedUserCaKeys { get; } = new List<PublicKeyInfo>();

    /// <summary>
    /// The host CA that signs the host certificate; generated (Ed25519) when null and no
    /// <see cref="HostCertificate"/> is given. Not disposed by the fixture.
    /// </summary>
    public PrivateKey? HostCa { get; set; }

    /// <summary>The host key; generated (<see cref="HostKeyAlgorithm"/>) when null. Not disposed by the fixture.</summary>
    public PrivateKey? HostKey { get; set; }

    /// <summary>
    /// A ready-made host certificate for <see cref="HostKey"/> (e.g. issued by a Teleport host CA);
    /// when null the fixture signs one with <see cref="HostCa"/>.
    /// </summary>
    public SshCertificate? HostCertificate { get; set; }

    /// <summary>Algorithm of the host key the fixture generates.</summary>
    public KeyAlgorithm HostKeyAlgorithm { get; set; } = KeyAlgorithm.Ed25519;

    /// <summary>Principals of the host certificate.</summary>
    public IList<string> HostPrincipals { get; } = new List<string> { "127.0.0.1", "localhost" };

    /// <summary>
    /// Principals allowed to log in as <see cref="SshdFixture.LoginUser"/> (<c>AuthorizedPrincipalsFile</c>).
    /// Default: the login user's name.
    /// </summary>
    public IList<string> AllowedPrincipals { get; } = new List<string>();

    /// <summary>Extra sshd_config lines (appended).</summary>
    public IList<string> ExtraConfig { get; } = new List<string>();

    /// <summary>
    /// Files sshd uses as they are (e.g. an ssh_host output's <c>ssh_host</c>, <c>ssh_host-cert.pub</c>,
    /// <c>ssh_host-user-ca.pub</c>), instead of the key material the fixture would write; all three or none.
    /// </summary>
    public (string HostKey, string HostCertificate, string TrustedUserCaKeys)? ExistingFiles { get; set; }
}

/// <summary>
/// A real OpenSSH sshd on 127.0.0.1 and a free port, in a private temporary directory: a host
/// key with a host certificate signed by our <see cref="SshCertificateBuilder"/>, user CAs from
/// the options (or one it generates), an <c>AuthorizedPrincipalsFile</c>, verbose logging to
/// <see cref="Log"/>. Reusable by end-to-end tests (e.g. trust a Teleport user CA and register
/// the node). Start with <see cref="StartAsync"/>, stop with <see cref="DisposeAsync"/>.
/// </summary>
internal sealed class SshdFixture : IAsyncDisposable
{
    private readonly SshTestDirectory _directory;
    private readonly StringBuilder _log = new();
    private readonly bool _ownsHostCa;
    private bool _ownsHostKey;
    private Process? _process;

    private SshdFixture(SshTestDirectory directory, PrivateKey? hostCa, bool ownsHostCa, PrivateKey? userCa)
    {
        _directory = directory;
        HostCa = hostCa;
        _ownsHostCa = ownsHostCa;
        UserCa = userCa;
    }

    /// <summary>The fixture's directory (config, keys, logs).</summary>
    public string DirectoryPath => _directory.Path;

    /// <summary>The listening address.</summary>
    public string Host => "127.0.0.1";

    /// <summary>The listening port.</summary>
    public int Port { get; private set; }

    /// <summary>The user ssh logs in as (the user running the tests; root on the build machine).</summary>
    public string LoginUser { get; } = Environment.UserName;

    /// <summary>The generated user CA, or null when the options supplied the trusted keys.</summary>
    public PrivateKey? UserCa { get; }

    /// <summary>The host CA that signed <see cref="HostCertificate"/>; null when the options supplied a ready-made certificate without it.</summary>
    public PrivateKey? HostCa { get; }

    /// <summary>The host key.</summary>
    public PrivateKey HostKey { get; private set; } = null!;

    /// <summary>The host certificate sshd presents.</summary>
    public SshCertificate HostCertificate { get; private set; } = null!;

    /// <summary>The host patterns for a known_hosts line that match how ssh connects (<c>127.0.0.1,[127.0.0.1]:port</c>).</summary>
    public string KnownHostsPatterns => $"{Host},[{Host}]:{Port}";

    /// <summary>Everything sshd logged so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>
    /// The log once it contains <paramref name="text"/>, polled for up to 10 s: sshd's processes write it
    /// to a pipe this process reads in the background, so a line can arrive just after the client that
    /// caused it has exited.
    /// </summary>
    /// <returns>The log as last read (whether or not the text came).</returns>
    public Task<string> LogOnceItContainsAsync(string text) => Polling.ReadUntilAsync(() => Log, log => log.Contains(text, StringComparison.Ordinal));

    /// <summary>Starts sshd; ignores the test when OpenSSH is missing (fails under CI).</summary>
    public static async Task<SshdFixture> StartAsync(SshdFixtureOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SshdFixtureOptions();
        var sshd = OpenSshTools.Sshd;
        var directory = new SshTestDirectory("tmid-sshd");
        if (options.HostCertificate is not null && options.HostKey is null)
        {
            throw new ArgumentException("A ready-made HostCertificate needs its HostKey.", nameof(options));
        }

        var ownsHostCa = options.HostCa is null && options.HostCertificate is null;
        var hostCa = options.HostCa ?? (ownsHostCa ? PrivateKey.Generate(KeyAlgorithm.Ed25519) : null);
        var userCa = options.TrustedUserCaKeys.Count == 0 ? PrivateKey.Generate(KeyAlgorithm.Ed25519) : null;
        var fixture = new SshdFixture(directory, hostCa, ownsHostCa, userCa);
        try
        {
            await fixture.StartCoreAsync(sshd, options, cancellationToken);
            return fixture;
        }
        catch
        {
            await fixture.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Writes a user identity for ssh: the private key in OpenSSH format (0600) and the
    /// certificate next to it as <c>&lt;name&gt;-cert.pub</c>. Returns (key path, certificate path).
    /// </summary>
    public (string KeyPath, string CertificatePath) WriteUserIdentity(string name, PrivateKey key, SshCertificate certificate)
    {
        var keyPath = _directory.Write(name, key.ExportOpenSshPem(), secret: true);
        var certificatePath = _directory.Write(name + "-cert.pub", certificate.ToAuthorizedKey() + "\n");
        return (keyPath, certificatePath);
    }

    /// <summary>Writes a known_hosts file with the given lines and returns its path.</summary>
    public string WriteKnownHosts(string name, params string[] lines) =>
        _directory.Write(name, string.Join('\n', lines) + "\n");

    /// <summary>
    /// A known_hosts line trusting <paramref name="hostCa"/> for this server's own address patterns
    /// (<c>KnownHostsRenderer</c> renders cluster-wide patterns, which do not match a direct <c>127.0.0.1:port</c> login).
    /// </summary>
    public string CertAuthorityLine(PublicKeyInfo hostCa) => $"@cert-authority {KnownHostsPatterns} {hostCa.ToAuthorizedKey()} type=host";

    /// <summary>
    /// Runs <c>ssh</c> against this server with strict host key checking, only the given identity,
    /// batch mode, and the given known_hosts file; returns its result.
    /// </summary>
    public Task<ToolResult> RunSshAsync(
        string identityFile,
        string? certificateFile,
        string knownHostsFile,
        string command,
        IEnumerable<string>? extraOptions = null,
        string? user = null,
        CancellationToken cancellationToken = default)
    {
        var arguments = new List<string>
        {
            "-F", "/dev/null",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=" + knownHostsFile,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no",
            "-o", "ConnectTimeout=20",
            "-o", "LogLevel=ERROR",
            "-i", identityFile,
            "-o", "CertificateFile=" + (certificateFile ?? "none"),
            "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        arguments.AddRange(extraOptions ?? []);
        arguments.Add($"{user ?? LoginUser}@{Host}");
        arguments.Add(command);
        return SshToolRunner.RunAsync(OpenSshTools.Ssh, arguments, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Replaces the user CA keys sshd trusts, as a Teleport node does when the user CA rotates.
    /// sshd reads <c>TrustedUserCAKeys</c> at every authentication, so no reload is needed; the file
    /// is replaced atomically so a login never reads half of it.
    /// </summary>
    public void TrustUserCaKeys(IEnumerable<PublicKeyInfo> keys) =>
        ReplaceFile("user_ca.pub", string.Concat(keys.Select(k => k.ToAuthorizedKey() + "\n")));

    /// <summary>
    /// Presents a new host certificate, as a Teleport node does at a host CA rotation's
    /// <c>update_servers</c> phase: the file is replaced and sshd reloaded with SIGHUP (it re-executes
    /// itself and reads its host keys again; open sessions live on in their own processes).
    /// Returns once sshd listens again.
    /// </summary>
    public async Task ReplaceHostCertificateAsync(SshCertificate certificate, TimeSpan timeout)
    {
        var process = _process ?? throw new InvalidOperationException("sshd is not running.");
        ReplaceFile("host_key-cert.pub", certificate.ToAuthorizedKey() + "\n");
        var listening = CountInLog(ListeningLine);
        if (TestNative.Signal(process.Id, TestNative.SigHup) != 0)
        {
            throw new InvalidOperationException("Could not send SIGHUP to sshd.");
        }

        using var cancel = new CancellationTokenSource(timeout);
        while (CountInLog(ListeningLine) <= listening)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"sshd exited on SIGHUP. Log:\n{Log}");
            }

            await Task.Delay(20, cancel.Token);
        }

        HostCertificate = certificate;
    }

    public async ValueTask DisposeAsync()
    {
        var process = _process;
        _process = null;
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
            }
            catch (TimeoutException)
            {
            }

            process.Dispose();
        }

        if (_ownsHostKey)
        {
            HostKey?.Dispose();
        }

        UserCa?.Dispose();
        if (_ownsHostCa)
        {
            HostCa?.Dispose();
        }

        _directory.Dispose();
    }

    private static int FreePort() => LoopbackPorts.Reserve();

    private async Task StartCoreAsync(string sshd, SshdFixtureOptions options, CancellationToken cancellationToken)
    {
        if (Environment.UserName == "root" && !OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory("/run/sshd");
            File.SetUnixFileMode("/run/sshd", (UnixFileMode)0b111_101_101);
        }

        string hostKeyPath, hostCertPath, userCaPath;
        if (options.ExistingFiles is { } files)
        {
            _ownsHostKey = true;
            HostKey = PrivateKey.ImportPem(File.ReadAllText(files.HostKey));
            HostCertificate = SshCertificate.ParseAuthorizedKey(File.ReadAllText(files.HostCertificate).Trim());
            (hostKeyPath, hostCertPath, userCaPath) = files;
        }
        else
        {
            (hostKeyPath, hostCertPath, userCaPath) = WriteKeyMaterial(options);
        }

        Directory.CreateDirectory(_directory.File("principals"));
        var allowed = options.AllowedPrincipals.Count > 0 ? options.AllowedPrincipals : [LoginUser];
        _directory.Write(Path.Combine("principals", LoginUser), string.Concat(allowed.Select(p => p + "\n")));

        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            var config = new StringBuilder()
                .AppendLine($"Port {Port}")
                .AppendLine($"ListenAddress {Host}")
                .AppendLine($"HostKey {hostKeyPath}")
                .AppendLine($"HostCertificate {hostCertPath}")
                .AppendLine($"TrustedUserCAKeys {userCaPath}")
                .AppendLine($"AuthorizedPrincipalsFile {_directory.File("principals")}/%u")
                .AppendLine("AuthorizedKeysFile none")
                .AppendLine("PubkeyAuthentication yes")
                .AppendLine("PasswordAuthentication no")
                .AppendLine("KbdInteractiveAuthentication no")
                .AppendLine("PermitRootLogin prohibit-password")
                .AppendLine("StrictModes no")
                .AppendLine("UsePAM no")
                .AppendLine($"PidFile {_directory.File("sshd.pid")}")
                .AppendLine("LogLevel VERBOSE")
                .AppendLine("Subsystem sftp internal-sftp");
            foreach (var line in options.ExtraConfig)
            {
                config.AppendLine(line);
            }

            var configPath = _directory.Write("sshd_config", config.ToString());
            if (await TryLaunchAsync(sshd, configPath, cancellationToken))
            {
                return;
            }

            if (attempt == 3)
            {
                throw new InvalidOperationException($"sshd did not start. Log:\n{Log}");
            }
        }
    }

    private (string HostKey, string HostCertificate, string TrustedUserCaKeys) WriteKeyMaterial(SshdFixtureOptions options)
    {
        _ownsHostKey = options.HostKey is null;
        HostKey = options.HostKey ?? PrivateKey.Generate(options.HostKeyAlgorithm);
        if (options.HostCertificate is not null)
        {
            HostCertificate = options.HostCertificate;
        }
        else
        {
            var now = DateTimeOffset.UtcNow;
            var hostBuilder = new SshCertificateBuilder
            {
                PublicKey = HostKey.PublicKey,
                Type = SshCertificateType.Host,
                KeyId = "tmid-test-sshd",
                ValidAfter = now.AddMinutes(-5),
                ValidBefore = now.AddHours(6),
            };
            foreach (var principal in options.HostPrincipals)
            {
                hostBuilder.Principals.Add(principal);
            }

            HostCertificate = hostBuilder.Sign(HostCa!);
        }
        var hostKeyPath = _directory.Write("host_key", HostKey.ExportOpenSshPem("tmid-host"), secret: true);
        _directory.Write("host_key.pub", HostKey.PublicKey.ToAuthorizedKey("tmid-host") + "\n");
        var hostCertPath = _directory.Write("host_key-cert.pub", HostCertificate.ToAuthorizedKey() + "\n");

        var trusted = options.TrustedUserCaKeys.Count > 0 ? options.TrustedUserCaKeys : [UserCa!.PublicKey];
        var userCaPath = _directory.Write("user_ca.pub", string.Concat(trusted.Select(k => k.ToAuthorizedKey() + "\n")));
        return (hostKeyPath, hostCertPath, userCaPath);
    }


    private async Task<bool> TryLaunchAsync(string sshd, string configPath, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(sshd)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-D");
        info.ArgumentList.Add("-e");
        info.ArgumentList.Add("-f");
        info.ArgumentList.Add(configPath);
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start sshd.");
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                _process = null;
                process.Dispose();
                return false;
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(20, cancellationToken);
            }
        }

        process.Kill();
        _process = null;
        process.Dispose();
        return false;
    }

    private const string ListeningLine = "Server listening on";

    private int CountInLog(string text)
    {
        var log = Log;
        var count = 0;
        for (var at = log.IndexOf(text, StringComparison.Ordinal); at >= 0; at = log.IndexOf(text, at + text.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private void ReplaceFile(string name, string content)
    {
        var staged = _directory.Write(name + ".new", content);
        File.Move(staged, _directory.File(name), overwrite: true);
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }
}
