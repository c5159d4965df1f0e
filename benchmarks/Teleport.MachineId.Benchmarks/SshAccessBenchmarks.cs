using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// OpenSSH through the generated ssh_config (ssh → tbot-dotnet ssh-proxy-command → the emulator's
/// ProxySSH → sshd) against ssh straight to the same sshd: connection set-up (<c>ssh … true</c>,
/// which includes starting the ProxyCommand process) and a 64 MiB download, for the framework-dependent
/// apphost (<c>jit</c>), a ReadyToRun publish (<c>r2r</c>, path in <c>TBOT_DOTNET_R2R</c>) and a Native AOT build (<c>aot</c>, path in <c>TBOT_DOTNET_AOT</c>).
/// Everything runs on this machine: the emulator in this process, sshd, ssh and the ProxyCommand as
/// processes. Needs OpenSSH; allocations are this process's only (the work is in child processes).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class SshAccessBenchmarks
{
    private const int BulkBytes = 64 * 1024 * 1024;
    internal const string NodeName = "bench-node";
    private const string Node = NodeName;
    private string _work = null!;
    private TeleportEmulator _cluster = null!;
    private BotIdentityProvider _bot = null!;
    private Process _sshd = null!;
    private int _sshdPort;
    private string _output = null!;

    [Params("jit", "r2r", "aot")]
    public string ProxyCommand { get; set; } = "jit";

    internal string OutputDirectory => _output;

    internal string ProxyAddress => _cluster.ProxyAddress;

    internal int SshdPort => _sshdPort;

    [GlobalSetup]
    public async Task SetUpAsync()
    {
        var proxyCommand = TbotDotnetBuilds.Resolve(ProxyCommand);

        _work = Directory.CreateTempSubdirectory("tmid-bench-ssh-").FullName;
        _cluster = await TeleportEmulator.StartAsync();
        _cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = [Environment.UserName], NodeLabels = EmulatorRole.AllNodes });
        _cluster.AddBot(new EmulatorBot { Name = "bench", Roles = ["access"] });
        (_sshd, _sshdPort) = await StartSshdAsync(_cluster, _work, [Node]);
        _cluster.AddNode(new EmulatorNode { Name = Node, Address = "127.0.0.1:" + _sshdPort.ToString(CultureInfo.InvariantCulture) });

        var options = new MachineIdOptions { ProxyServer = _cluster.ProxyAddress, Token = _cluster.CreateJoinToken("bench").Name, StorageType = BotStorageType.Memory };
        options.ProxyCaCertificates.Add(_cluster.WebCaCertificate);
        _bot = BotIdentityProvider.Create(options);
        await _bot.StartAsync();
        await _bot.WaitUntilReadyAsync();
        _output = Path.Combine(_work, "machine-id");
        await using var signer = new TeleportSshCertificateSigner(_bot, options);
        await using var output = IdentityOutputService.Create(signer, new IdentityOutputOptions
        {
            DestinationPath = _output,
            ProxyCommandPath = proxyCommand,
            CredentialTtl = TimeSpan.FromHours(8),
        });
        await output.RenewNowAsync();

        // Both paths must work before anything is measured.
        if (RunSsh(Proxied("true")) != 0 || RunSsh(Direct("true")) != 0)
        {
            throw new InvalidOperationException("ssh did not connect in set-up.");
        }
    }

    [GlobalCleanup]
    public async Task CleanUpAsync()
    {
        await StopAsync(_sshd);
        await _bot.DisposeAsync();
        await _cluster.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Connect")]
    public int ConnectDirect() => RunSsh(Direct("true"));

    [Benchmark, BenchmarkCategory("Connect")]
    public int ConnectThroughProxyCommand() => RunSsh(Proxied("true"));

    [Benchmark(Baseline = true), BenchmarkCategory("Bulk64MiB")]
    public int BulkDirect() => RunSsh(Direct(BulkCommand), BulkBytes);

    [Benchmark, BenchmarkCategory("Bulk64MiB")]
    public int BulkThroughProxyCommand() => RunSsh(Proxied(BulkCommand), BulkBytes);

    private static string BulkCommand => "head -c " + BulkBytes.ToString(CultureInfo.InvariantCulture) + " /dev/zero";

    internal string[] Proxied(string command) =>
        ["-F", Path.Combine(_output, "ssh_config"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
         $"{Environment.UserName}@{Node}.{_cluster.ClusterName}", command];

    internal string[] Direct(string command) =>
        ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
         "-o", "UserKnownHostsFile=" + Path.Combine(_output, "known_hosts"), "-o", $"HostKeyAlias={Node}.{_cluster.ClusterName}",
         "-i", Path.Combine(_output, "key"), "-o", "CertificateFile=" + Path.Combine(_output, "key-cert.pub"),
         "-p", _sshdPort.ToString(CultureInfo.InvariantCulture), $"{Environment.UserName}@127.0.0.1", command];

    /// <summary>Runs ssh, drains its output (checking the byte count for bulk runs) and returns its exit code.</summary>
    internal static int RunSsh(string[] arguments, long expectedBytes = -1, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("ssh") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var buffer = new byte[128 * 1024];
        long total = 0;
        int read;
        var stdout = process.StandardOutput.BaseStream;
        while ((read = stdout.Read(buffer, 0, buffer.Length)) > 0)
        {
            total += read;
        }

        process.WaitForExit();
        if (process.ExitCode != 0 || (expectedBytes >= 0 && total != expectedBytes))
        {
            throw new InvalidOperationException($"ssh exited {process.ExitCode} after {total} bytes: {stderr.Result}");
        }

        return process.ExitCode;
    }

    /// <summary>Stops an sshd this class started (by its process id) and releases it.</summary>
    internal static async Task StopAsync(Process sshd)
    {
        if (!sshd.HasExited)
        {
            sshd.Kill();
            await sshd.WaitForExitAsync();
        }

        sshd.Dispose();
    }

    /// <summary>An sshd trusting the cluster's user CA, with a host certificate for <paramref name="nodeNames"/> (bare and with the cluster name).</summary>
    internal static async Task<(Process Process, int Port)> StartSshdAsync(TeleportEmulator cluster, string work, IReadOnlyList<string> nodeNames)
    {
        using var hostKey = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        var certificate = cluster.SignHostCertificate(hostKey.PublicKey, [.. nodeNames, .. nodeNames.Select(n => n + "." + cluster.ClusterName)]);
        WriteFile(work, "host_key", hostKey.ExportOpenSshPem(), secret: true);
        WriteFile(work, "host_key-cert.pub", certificate.ToAuthorizedKey() + "\n", secret: false);
        WriteFile(work, "user-ca.pub", cluster.ExportUserCaOpenSsh(), secret: false);
        Directory.CreateDirectory("/run/sshd");
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        WriteFile(work, "sshd_config", new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"Port {port}\nListenAddress 127.0.0.1\nHostKey {work}/host_key\nHostCertificate {work}/host_key-cert.pub\n")
            .Append(CultureInfo.InvariantCulture, $"TrustedUserCAKeys {work}/user-ca.pub\nAuthorizedKeysFile none\nPasswordAuthentication no\n")
            .Append(CultureInfo.InvariantCulture, $"KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {work}/sshd.pid\n")
            .ToString(), secret: false);
        var info = new ProcessStartInfo("/usr/sbin/sshd") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-D", "-e", "-f", Path.Combine(work, "sshd_config") })
        {
            info.ArgumentList.Add(argument);
        }

        var sshd = Process.Start(info)!;
        sshd.BeginErrorReadLine();
        sshd.BeginOutputReadLine();
        for (var attempt = 0; attempt < 500; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return (sshd, port);
            }
            catch (SocketException)
            {
                await Task.Delay(20);
            }
        }

        throw new InvalidOperationException("sshd did not start.");
    }

    private static void WriteFile(string directory, string name, string content, bool secret)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(path, secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }
}

/// <summary>
/// The tbot-dotnet builds compared: <c>jit</c> (the framework-dependent apphost built next to the
/// benchmarks), <c>r2r</c> (a ReadyToRun publish, path in <c>TBOT_DOTNET_R2R</c>) and <c>aot</c>
/// (a Native AOT publish, path in <c>TBOT_DOTNET_AOT</c>); see benchmarks/README.md.
/// </summary>
internal static class TbotDotnetBuilds
{
    public static string Resolve(string build)
    {
        var path = build switch
        {
            "jit" => Path.Combine(AppContext.BaseDirectory, "tbot-dotnet"),
            "r2r" => Environment.GetEnvironmentVariable("TBOT_DOTNET_R2R")
                ?? throw new InvalidOperationException("Set TBOT_DOTNET_R2R to a ReadyToRun tbot-dotnet (see benchmarks/README.md)."),
            "aot" => Environment.GetEnvironmentVariable("TBOT_DOTNET_AOT")
                ?? throw new InvalidOperationException("Set TBOT_DOTNET_AOT to a Native AOT tbot-dotnet (see benchmarks/README.md)."),
            _ => throw new ArgumentOutOfRangeException(nameof(build), build, "jit, r2r or aot"),
        };
        return File.Exists(path) ? path : throw new InvalidOperationException($"tbot-dotnet {path} does not exist.");
    }
}

/// <summary>
/// A one-shot CLI run, process start to files written: <c>tbot-dotnet start identity --oneshot</c>
/// against the emulator (join, GenerateUserCerts, CA reads, directory write), jit, r2r and aot builds.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class OneShotCliBenchmarks
{
    private TeleportEmulator _cluster = null!;
    private readonly Queue<string> _tokens = new();
    private string _work = null!;
    private string _program = null!;
    private string _webCa = null!;
    private int _run;

    [Params("jit", "r2r", "aot")]
    public string Build { get; set; } = "jit";

    [GlobalSetup]
    public async Task SetUpAsync()
    {
        _program = TbotDotnetBuilds.Resolve(Build);
        _cluster = await TeleportEmulator.StartAsync();
        _cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        _cluster.AddBot(new EmulatorBot { Name = "bench", Roles = ["access"] });
        for (var i = 0; i < 200; i++)
        {
            _tokens.Enqueue(_cluster.CreateJoinToken("bench", TimeSpan.FromHours(4)).Name);
        }

        _work = Directory.CreateTempSubdirectory("tmid-bench-oneshot-").FullName;
        _webCa = Path.Combine(_work, "web-ca.pem");
        await File.WriteAllTextAsync(_webCa, _cluster.WebCaCertificatePem);
    }

    [GlobalCleanup]
    public async Task CleanUpAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Benchmark]
    public int StartIdentityOneshot()
    {
        var destination = Path.Combine(_work, "out-" + (_run++).ToString(CultureInfo.InvariantCulture));
        var info = new ProcessStartInfo(_program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[]
        {
            "start", "identity", "--proxy-server", _cluster.ProxyAddress, "--token", _tokens.Dequeue(), "--destination", destination,
            "--oneshot", "--ca-bundle", _webCa, "--roles", "access",
        })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"tbot-dotnet exited {process.ExitCode}: {stderr.Result}");
        }

        return process.ExitCode;
    }
}

/// <summary>
/// SSH.NET through the proxy (<c>TeleportSshClientFactory</c>: ProxySSH bridged by the in-process
/// loopback forwarder) against SSH.NET straight to the same sshd: connect + log in, and a 64 MiB
/// command output read through <c>SshCommand</c>. The emulator and sshd are set up as in
/// <see cref="SshAccessBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class SshNetAccessBenchmarks
{
    private const int BulkBytes = 64 * 1024 * 1024;
    private readonly SshAccessBenchmarks _environment = new() { ProxyCommand = "jit" };
    private SshNet.TeleportSshClientFactory _factory = null!;
    private Renci.SshNet.PrivateKeyFile _key = null!;

    [GlobalSetup]
    public async Task SetUpAsync()
    {
        await _environment.SetUpAsync();
        _factory = await SshNet.TeleportSshClientFactory.FromDirectoryAsync(_environment.OutputDirectory, _environment.ProxyAddress);
        using var key = PrivateKey.ImportPem(await File.ReadAllTextAsync(Path.Combine(_environment.OutputDirectory, "key")));
        using var keyStream = new MemoryStream(Encoding.UTF8.GetBytes(key.ExportOpenSshPem()));
        using var certificate = File.OpenRead(Path.Combine(_environment.OutputDirectory, "key-cert.pub"));
        _key = new Renci.SshNet.PrivateKeyFile(keyStream, null, certificate);
    }

    [GlobalCleanup]
    public async Task CleanUpAsync()
    {
        _factory.Dispose();
        await _environment.CleanUpAsync();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Connect")]
    public async Task<bool> ConnectDirect()
    {
        using var client = Direct();
        await client.ConnectAsync(CancellationToken.None);
        return client.IsConnected;
    }

    [Benchmark, BenchmarkCategory("Connect")]
    public async Task<bool> ConnectThroughProxy()
    {
        using var client = await _factory.ConnectAsync(Environment.UserName, SshAccessBenchmarks.NodeName);
        return client.IsConnected;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Bulk64MiB")]
    public async Task<long> BulkDirect()
    {
        using var client = Direct();
        await client.ConnectAsync(CancellationToken.None);
        return Drain(client);
    }

    [Benchmark, BenchmarkCategory("Bulk64MiB")]
    public async Task<long> BulkThroughProxy()
    {
        using var client = await _factory.ConnectAsync(Environment.UserName, SshAccessBenchmarks.NodeName);
        return Drain(client);
    }

    private Renci.SshNet.SshClient Direct()
    {
        var connection = new Renci.SshNet.ConnectionInfo("127.0.0.1", _environment.SshdPort, Environment.UserName,
            new Renci.SshNet.PrivateKeyAuthenticationMethod(Environment.UserName, _key));
        var client = new Renci.SshNet.SshClient(connection);
        client.HostKeyReceived += (_, e) => e.CanTrust = e.Certificate is not null;
        return client;
    }

    private static long Drain(Renci.SshNet.SshClient client)
    {
        using var command = client.CreateCommand("head -c " + BulkBytes.ToString(CultureInfo.InvariantCulture) + " /dev/zero");
        var run = command.BeginExecute();
        var buffer = new byte[128 * 1024];
        long total = 0;
        int read;
        while ((read = command.OutputStream.Read(buffer, 0, buffer.Length)) > 0)
        {
            total += read;
        }

        command.EndExecute(run);
        return total == BulkBytes ? total : throw new InvalidOperationException($"read {total} bytes");
    }
}
