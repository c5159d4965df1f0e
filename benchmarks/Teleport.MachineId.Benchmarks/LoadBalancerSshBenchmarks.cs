using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// OpenSSH through the generated ssh_config with the cluster behind a real nginx that terminates TLS
/// (ssh → tbot-dotnet ssh-proxy-command --connection-upgrade → nginx → WebSocket tunnel → the
/// emulator's ProxySSH → sshd) against the same ProxyCommand dialling the emulator directly
/// (<c>--no-connection-upgrade</c>, no load balancer): connection set-up (<c>ssh … true</c>) and a 64 MiB
/// download, side by side on one sshd. The ProxyCommand build is a parameter (<c>jit</c>: the
/// framework-dependent apphost; <c>aot</c>: <c>TBOT_DOTNET_AOT</c>). Needs OpenSSH and nginx.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class LoadBalancerSshBenchmarks
{
    private const int BulkBytes = 64 * 1024 * 1024;
    private string _work = null!;
    private TeleportEmulator _cluster = null!;
    private NginxLoadBalancer _nginx = null!;
    private BotIdentityProvider _bot = null!;
    private Process _sshd = null!;
    private string _output = null!;
    private string _directConfig = null!;
    private Dictionary<string, string> _trustLoadBalancer = null!;

    [Params("jit", "aot")]
    public string ProxyCommand { get; set; } = "jit";

    [GlobalSetup]
    public async Task SetUpAsync()
    {
        var proxyCommand = TbotDotnetBuilds.Resolve(ProxyCommand);
        var nginx = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx is not installed (apt-get install -y nginx).");
        _work = Directory.CreateTempSubdirectory("tmid-bench-lb-").FullName;
        var port = NginxLoadBalancer.ReservePort();
        _cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { PublicProxyAddress = "localhost:" + port.ToString(CultureInfo.InvariantCulture) });
        _nginx = await NginxLoadBalancer.StartAsync(nginx, _cluster.ProxyAddress, _cluster.WebCaCertificate, new NginxLoadBalancerOptions { Port = port });
        _trustLoadBalancer = new Dictionary<string, string> { ["SSL_CERT_FILE"] = _nginx.CaFile };
        _cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = [Environment.UserName], NodeLabels = EmulatorRole.AllNodes });
        _cluster.AddBot(new EmulatorBot { Name = "bench", Roles = ["access"] });
        int sshdPort;
        (_sshd, sshdPort) = await SshAccessBenchmarks.StartSshdAsync(_cluster, _work, [SshAccessBenchmarks.NodeName]);
        _cluster.AddNode(new EmulatorNode { Name = SshAccessBenchmarks.NodeName, Address = "127.0.0.1:" + sshdPort.ToString(CultureInfo.InvariantCulture) });

        // The bot joins through the load balancer; its output's ProxyCommand goes through it too.
        var options = new MachineIdOptions { ProxyServer = _nginx.Address, Token = _cluster.CreateJoinToken("bench").Name, StorageType = BotStorageType.Memory };
        options.ProxyCaCertificates.Add(_nginx.CaCertificate);
        _bot = BotIdentityProvider.Create(options);
        await _bot.StartAsync();
        await _bot.WaitUntilReadyAsync();
        _output = Path.Combine(_work, "machine-id");
        await using (var signer = new TeleportSshCertificateSigner(_bot, options))
        await using (var output = IdentityOutputService.Create(signer, new IdentityOutputOptions
        {
            DestinationPath = _output,
            ProxyCommandPath = proxyCommand,
            CredentialTtl = TimeSpan.FromHours(8),
        }))
        {
            await output.RenewNowAsync();
        }

        // The same ssh_config pointed at the emulator itself: the path without a load balancer.
        var generated = File.ReadAllText(Path.Combine(_output, "ssh_config"));
        if (!generated.Contains(" --connection-upgrade ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The output did not detect the load balancer.");
        }

        _directConfig = Path.Combine(_work, "ssh_config.direct");
        File.WriteAllText(_directConfig, generated
            .Replace($"--proxy-server='{_nginx.Address}'", $"--proxy-server='{_cluster.ProxyAddress}'", StringComparison.Ordinal)
            .Replace(" --connection-upgrade ", " --no-connection-upgrade ", StringComparison.Ordinal));
        if (SshAccessBenchmarks.RunSsh(ThroughNginx("true"), environment: _trustLoadBalancer) != 0 || SshAccessBenchmarks.RunSsh(Direct("true")) != 0)
        {
            throw new InvalidOperationException("ssh did not connect in set-up.");
        }
    }

    [GlobalCleanup]
    public async Task CleanUpAsync()
    {
        await SshAccessBenchmarks.StopAsync(_sshd);
        await _bot.DisposeAsync();
        await _nginx.DisposeAsync();
        await _cluster.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Connect")]
    public int ConnectDirectToEmulator() => SshAccessBenchmarks.RunSsh(Direct("true"));

    [Benchmark, BenchmarkCategory("Connect")]
    public int ConnectThroughNginx() => SshAccessBenchmarks.RunSsh(ThroughNginx("true"), environment: _trustLoadBalancer);

    [Benchmark(Baseline = true), BenchmarkCategory("Bulk64MiB")]
    public int BulkDirectToEmulator() => SshAccessBenchmarks.RunSsh(Direct(BulkCommand), BulkBytes);

    [Benchmark, BenchmarkCategory("Bulk64MiB")]
    public int BulkThroughNginx() => SshAccessBenchmarks.RunSsh(ThroughNginx(BulkCommand), BulkBytes, _trustLoadBalancer);

    private static string BulkCommand => "head -c " + BulkBytes.ToString(CultureInfo.InvariantCulture) + " /dev/zero";

    private string[] ThroughNginx(string command) => Ssh(Path.Combine(_output, "ssh_config"), command);

    private string[] Direct(string command) => Ssh(_directConfig, command);

    private string[] Ssh(string config, string command) =>
        ["-F", config, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
         $"{Environment.UserName}@{SshAccessBenchmarks.NodeName}.{_cluster.ClusterName}", command];
}
