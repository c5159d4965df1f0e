using System.Diagnostics;
using System.Globalization;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// Not a BenchmarkDotNet class: <c>dotnet run -c Release -- cpu-profile [rounds] [jit|aot]</c> sets up the
/// <see cref="SshAccessBenchmarks"/> environment (aot: <c>TBOT_DOTNET_AOT</c>) and runs the 64 MiB download
/// direct and through the ProxyCommand, alternating, printing wall time and the CPU seconds of each
/// process on the path: ssh, the ProxyCommand (both measured with <c>/usr/bin/time</c>) and the
/// emulator (this process). CPU time is what 2 shared cores run out of, and it is far less
/// sensitive to other load on the machine than wall time.
/// </summary>
internal static class SshBulkCpuProfile
{
    private const int BulkBytes = 64 * 1024 * 1024;

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var environment = new SshAccessBenchmarks { ProxyCommand = args.Length > 2 ? args[2] : "jit" };
        await environment.SetUpAsync();
        var work = Directory.CreateTempSubdirectory("tmid-cpu-").FullName;
        try
        {
            var proxyCommand = File.ReadLines(Path.Combine(environment.OutputDirectory, "ssh_config"))
                .Select(l => l.Trim())
                .First(l => l.StartsWith("ProxyCommand ", StringComparison.Ordinal))["ProxyCommand ".Length..];
            var command = "head -c " + BulkBytes.ToString(CultureInfo.InvariantCulture) + " /dev/zero";
            Console.WriteLine("round  path      wall_ms  ssh_cpu_ms  proxycmd_cpu_ms  emulator_cpu_ms  load1");
            for (var round = 0; round < rounds; round++)
            {
                // Connection set-up alone (ssh … true), direct and through the ProxyCommand, whose
                // fixed cost (process start, TLS, ProxySSH set-up) this measures.
                Measure(round, "dconnect", environment.Direct("true"), work, null, 0);
                Measure(round, "connect", ["-o", "ProxyCommand=" + Wrapped(work, proxyCommand), .. environment.Proxied("true")], work, Path.Combine(work, "proxy.time"), 0);
                Measure(round, "direct", environment.Direct(command), work, null);
                var proxyTime = Path.Combine(work, "proxy.time");
                Measure(round, "proxied", ["-o", "ProxyCommand=" + Wrapped(work, proxyCommand), .. environment.Proxied(command)], work, proxyTime);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            await environment.CleanUpAsync();
        }

        return 0;
    }

    private static void Measure(int round, string path, string[] sshArguments, string work, string? proxyTimeFile, long expectedBytes = BulkBytes)
    {
        var sshTime = Path.Combine(work, "ssh.time");
        var info = new ProcessStartInfo("/usr/bin/time") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in (string[])["-f", "%U %S", "-o", sshTime, "ssh", .. sshArguments])
        {
            info.ArgumentList.Add(argument);
        }

        var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
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

        process.WaitForExit();
        var wall = clock.Elapsed.TotalMilliseconds;
        self.Refresh();

        // The reader above runs in this process too: its share is small (one 128 KiB read per pipe fill).
        var emulatorCpu = (self.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        if (process.ExitCode != 0 || total != expectedBytes)
        {
            throw new InvalidOperationException($"ssh exited {process.ExitCode} after {total} bytes: {stderr.Result}");
        }

        var sshCpu = ReadTime(sshTime);
        var proxyCpu = proxyTimeFile is null ? 0 : ReadTime(proxyTimeFile);
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{round,5}  {path,-8} {wall,8:0}  {sshCpu,10:0}  {proxyCpu,15:0}  {(proxyTimeFile is null ? 0 : emulatorCpu),15:0}  {load}"));
    }

    /// <summary>ssh sends its ProxyCommand SIGHUP when it exits; time(1) must survive that to report.</summary>
    private static string Wrapped(string work, string proxyCommand)
    {
        var wrapper = Path.Combine(work, "timed.sh");
        var proxyTime = Path.Combine(work, "proxy.time");
        // CPU_PROFILE_PROXY_ENV: extra NAME=VALUE settings for the ProxyCommand only (runtime knobs).
        var extra = Environment.GetEnvironmentVariable("CPU_PROFILE_PROXY_ENV") is { Length: > 0 } settings ? "export " + settings + "\n" : "";
        File.WriteAllText(wrapper, $"#!/bin/sh\ntrap '' HUP\n{extra}exec /usr/bin/time -f '%U %S' -o {proxyTime} \"$@\"\n");
        File.Delete(proxyTime);
        return "/bin/sh " + wrapper + " " + proxyCommand;
    }

    private static double ReadTime(string file)
    {
        for (var wait = 0; wait < 100 && (!File.Exists(file) || new FileInfo(file).Length == 0); wait++)
        {
            Thread.Sleep(50);
        }

        var parts = File.ReadAllText(file).Trim().Split('\n')[^1].Split(' ');
        return (double.Parse(parts[0], CultureInfo.InvariantCulture) + double.Parse(parts[1], CultureInfo.InvariantCulture)) * 1000;
    }
}
