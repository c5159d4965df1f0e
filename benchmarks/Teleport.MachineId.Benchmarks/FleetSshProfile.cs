using System.Diagnostics;
using System.Globalization;
using System.Text;
using Teleport.MachineId.Testing;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// Not a BenchmarkDotNet class (each sample is a process tree taking 0.1–20 s):
/// <c>dotnet run -c Release -- fleet-profile [rounds] [tbot-dotnet|jit] [--no-ansible]</c> measures, side by side in one
/// run against one sshd registered under 20 node names, the three ways OpenSSH reaches a node:
/// <list type="bullet">
/// <item><c>direct</c>: ssh straight to sshd with the identity output's key, certificate and known_hosts;</item>
/// <item><c>proxycmd</c>: the identity output's <c>ssh_config</c> (one <c>tbot-dotnet ssh-proxy-command</c> process per connection);</item>
/// <item><c>mux</c>: the ssh-multiplexer's <c>ssh_config</c> (<c>tbot-dotnet start ssh-multiplexer</c> running as its own process,
/// <c>ssh-multiplexer-proxy-command</c> handing ssh the <c>v1.sock</c> connection).</item>
/// </list>
/// Both outputs are written by the given <c>tbot-dotnet</c> as a user runs it (the installed tool by default
/// options), so the ssh_configs run that program. Per round and path: <c>ssh … true</c> (connection set-up),
/// a 64 MiB download (bulk), and <c>ansible all -m ping</c> over the 20 names with <c>-f 10</c> (Ansible's
/// defaults otherwise — but a 60 s connect timeout — and <c>ANSIBLE_SSH_ARGS=-F &lt;ssh_config&gt;</c> as the README says). Paths alternate
/// within a round so machine load hits all three alike. The emulator runs in this process.
/// </summary>
internal static class FleetSshProfile
{
    private const int BulkBytes = 64 * 1024 * 1024;
    private const int NodeCount = 20;
    private const int Forks = 10;
    private const int ConnectSamples = 5;
    private static readonly string[] Paths = ["direct", "proxycmd", "mux"];

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var tool = args.Length > 2 && args[2] != "jit" ? Path.GetFullPath(args[2]) : TbotDotnetBuilds.Resolve("jit");

        // "--no-ansible" (4th argument): set-up and bulk only, for quick looks at the data path.
        var withAnsible = !(args.Length > 3 && args[3] == "--no-ansible");
        var nodes = Enumerable.Range(1, NodeCount).Select(i => "node" + i.ToString("00", CultureInfo.InvariantCulture)).ToArray();
        var work = Directory.CreateTempSubdirectory("tmid-fleet-").FullName;
        var login = Environment.UserName;
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = [login], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "fleet", Roles = ["access"] });
        var (sshd, port) = await SshAccessBenchmarks.StartSshdAsync(cluster, work, nodes);
        Process? mux = null;
        try
        {
            foreach (var node in nodes)
            {
                cluster.AddNode(new EmulatorNode { Name = node, Address = "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) });
            }

            var webCa = Path.Combine(work, "web-ca.pem");
            await File.WriteAllTextAsync(webCa, cluster.WebCaCertificatePem);
            string[] bot(string token) => ["--proxy-server", cluster.ProxyAddress, "--token", token, "--ca-bundle", webCa, "--credential-ttl", "8h", "--renewal-interval", "4h"];

            var identity = Path.Combine(work, "machine-id");
            var oneshot = await RunAsync(tool, ["start", "identity", "--oneshot", "--destination", identity, .. bot(cluster.CreateJoinToken("fleet").Name)], null);
            if (oneshot.Code != 0)
            {
                throw new InvalidOperationException("start identity --oneshot failed: " + oneshot.Stderr);
            }

            var muxDirectory = Path.Combine(work, "mux");
            mux = StartDaemon(tool, ["start", "ssh-multiplexer", "--destination", muxDirectory, .. bot(cluster.CreateJoinToken("fleet").Name)]);
            await WaitForAsync(() => File.Exists(Path.Combine(muxDirectory, "v1.sock")) && File.Exists(Path.Combine(muxDirectory, "ssh_config")), mux);

            var direct = Path.Combine(work, "direct_config");
            await File.WriteAllTextAsync(direct, DirectConfig(nodes, cluster.ClusterName, port, identity));
            var configs = new Dictionary<string, string>
            {
                ["direct"] = direct,
                ["proxycmd"] = Path.Combine(identity, "ssh_config"),
                ["mux"] = Path.Combine(muxDirectory, "ssh_config"),
            };
            var inventory = Path.Combine(work, "hosts");
            await File.WriteAllTextAsync(inventory, "[nodes]\n" + string.Concat(nodes.Select(n => $"{n}.{cluster.ClusterName} ansible_user={login}\n")));
            var target = $"{login}@{nodes[0]}.{cluster.ClusterName}";

            Console.WriteLine($"tool {tool}; sshd 127.0.0.1:{port}; {NodeCount} node names; {rounds} rounds; {DateTime.UtcNow:u}; {Environment.ProcessorCount} cores");
            foreach (var path in Paths)
            {
                // Warm-up (first-use costs: page cache, the daemon's JIT, ansible's python caches); not reported.
                _ = Ssh(configs[path], target, "true", 0);
                if (withAnsible)
                {
                    _ = await AnsibleAsync(configs[path], inventory, work);
                }
            }

            var samples = Paths.ToDictionary(p => p, _ => (Connect: new List<double>(), Bulk: new List<double>(), Ansible: new List<double>()));
            Console.WriteLine("round  path      connect_ms(median of 5)  bulk64MiB_ms  bulk_emulator_cpu  bulk_mux_cpu  ansible_ping_ms  load1");
            for (var round = 0; round < rounds; round++)
            {
                foreach (var path in round % 2 == 0 ? Paths : Paths.Reverse())
                {
                    var connect = Median([.. Enumerable.Range(0, ConnectSamples).Select(_ => Ssh(configs[path], target, "true", 0))]);
                    // CPU of the emulator (this process) and of the multiplexer daemon during the download:
                    // on 2 shared cores, the CPU the proxy path adds is what bulk throughput is decided by.
                    var (emulatorCpu, muxCpu) = (CpuMs(Process.GetCurrentProcess()), mux is null ? 0 : CpuMs(mux));
                    var bulk = Ssh(configs[path], target, "head -c " + BulkBytes.ToString(CultureInfo.InvariantCulture) + " /dev/zero", BulkBytes);
                    emulatorCpu = CpuMs(Process.GetCurrentProcess()) - emulatorCpu;
                    muxCpu = mux is null ? 0 : CpuMs(mux) - muxCpu;
                    var ansible = withAnsible ? await AnsibleAsync(configs[path], inventory, work) : double.NaN;
                    samples[path].Connect.Add(connect);
                    samples[path].Bulk.Add(bulk);
                    samples[path].Ansible.Add(ansible);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{round,5}  {path,-8}  {connect,23:0}  {bulk,12:0}  {emulatorCpu,16:0}  {(path == "mux" ? muxCpu : 0),11:0}  {ansible,15:0}  {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
                }
            }

            Console.WriteLine();
            Console.WriteLine("path      connect median  added vs direct  bulk median  throughput vs direct  ansible median  ansible vs direct");
            var baseline = samples["direct"];
            foreach (var path in Paths)
            {
                var (connect, bulk, ansible) = (Median(samples[path].Connect), Median(samples[path].Bulk), Median(samples[path].Ansible));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{path,-8}  {connect,14:0}  {connect - Median(baseline.Connect),+15:+0;-0}  {bulk,11:0}  {Median(baseline.Bulk) / bulk,20:0.00}x  {ansible,14:0}  {ansible / Median(baseline.Ansible),16:0.00}x"));
            }

            return 0;
        }
        finally
        {
            if (mux is not null)
            {
                StopDaemon(mux);
            }

            await SshAccessBenchmarks.StopAsync(sshd);
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>ssh straight to sshd: per node name, the name checked against the cluster's host CA (HostKeyAlias).</summary>
    private static string DirectConfig(string[] nodes, string clusterName, int port, string identity)
    {
        var config = new StringBuilder();
        foreach (var node in nodes)
        {
            config.Append(CultureInfo.InvariantCulture, $"Host {node}.{clusterName}\n    HostName 127.0.0.1\n    Port {port}\n    HostKeyAlias {node}.{clusterName}\n");
        }

        config.Append(CultureInfo.InvariantCulture, $"Host *\n    IdentityFile {identity}/key\n    CertificateFile {identity}/key-cert.pub\n    UserKnownHostsFile {identity}/known_hosts\n    IdentitiesOnly yes\n");
        return config.ToString();
    }

    /// <summary>User + system CPU milliseconds of a running process.</summary>
    private static double CpuMs(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime.TotalMilliseconds;
    }

    /// <summary>Runs ssh with the given config and returns the wall milliseconds; checks the exit code and, for bulk runs, the byte count.</summary>
    private static double Ssh(string config, string target, string command, long expectedBytes)
    {
        var info = new ProcessStartInfo("ssh") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in (string[])["-F", config, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null", target, command])
        {
            info.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var buffer = new byte[128 * 1024];
        long total = 0;
        int read;
        while ((read = process.StandardOutput.BaseStream.Read(buffer, 0, buffer.Length)) > 0)
        {
            total += read;
        }

        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("ssh did not finish in 2 minutes.");
        }

        var wall = clock.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0 || total != expectedBytes)
        {
            throw new InvalidOperationException($"ssh -F {config} exited {process.ExitCode} after {total} bytes: {stderr.Result}");
        }

        return wall;
    }

    /// <summary><c>ansible all -m ping -f 10</c> with Ansible's defaults and the README's <c>ANSIBLE_SSH_ARGS</c>; wall milliseconds, every host SUCCESS.</summary>
    private static async Task<double> AnsibleAsync(string config, string inventory, string work)
    {
        var environment = new Dictionary<string, string>
        {
            ["ANSIBLE_SSH_ARGS"] = "-F " + config,
            ["ANSIBLE_LOCAL_TEMP"] = Path.Combine(work, "ansible-local"),
            ["ANSIBLE_NOCOLOR"] = "1",
            ["ANSIBLE_PYTHON_INTERPRETER"] = "auto_silent",

            // Ansible's default 10 s connect timeout is too short for ten JIT-started ProxyCommands at
            // once on two busy cores (they time out in the banner exchange); the same 60 s for every path.
            ["ANSIBLE_TIMEOUT"] = "60",
        };
        var clock = Stopwatch.StartNew();
        var result = await RunAsync("ansible", ["all", "-i", inventory, "-f", Forks.ToString(CultureInfo.InvariantCulture), "-m", "ping"], environment);
        var wall = clock.Elapsed.TotalMilliseconds;
        var successes = result.Stdout.Split('\n').Count(l => l.Contains("| SUCCESS", StringComparison.Ordinal));
        if (result.Code != 0 || successes != NodeCount)
        {
            throw new InvalidOperationException($"ansible -F {config}: exit {result.Code}, {successes} SUCCESS\n{result.Stdout}\n{result.Stderr}");
        }

        return wall;
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string program, string[] arguments, IReadOnlyDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
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
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish in 5 minutes.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static Process StartDaemon(string program, string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void StopDaemon(Process process)
    {
        if (!process.HasExited)
        {
            // SIGTERM, as a service manager stops it (the sockets are removed on the way out).
            Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill();
            }
        }

        process.Dispose();
    }

    private static async Task WaitForAsync(Func<bool> ready, Process daemon)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (!ready())
        {
            if (daemon.HasExited)
            {
                throw new InvalidOperationException($"tbot-dotnet start ssh-multiplexer exited with {daemon.ExitCode}.");
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
