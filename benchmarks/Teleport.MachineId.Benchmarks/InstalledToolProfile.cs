using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// Not a BenchmarkDotNet class (each measured step is a process tree, and BenchmarkDotNet's
/// in-process timing adds nothing): <c>dotnet run -c Release -- installed-tool &lt;tbot-dotnet&gt; [rounds]</c>
/// measures the tool as a user installed it (<c>dotnet tool install</c>; pass its command, e.g.
/// <c>~/.dotnet/tools/tbot-dotnet</c>) side by side in one run, against the emulator (in this process)
/// and a real sshd:
/// <list type="number">
/// <item>one-shot runs, process start to files written and exit (<c>/usr/bin/time</c>: wall, peak RSS):
/// the first joins with a token, the others renew from the stored identity;</item>
/// <item><c>ssh … true</c> direct to sshd and through the ssh_config the tool wrote (its ProxyCommand
/// is the installed tool), alternating;</item>
/// <item>a 64 MiB download the same two ways, alternating (throughput ratio = direct time / proxied time);</item>
/// <item>where the ProxyCommand's time goes (<c>TBOT_DOTNET_TRACE_TIMING</c>) for one connection;</item>
/// <item>where one one-shot renewal's time goes (the SDK's spans on the same trace).</item>
/// </list>
/// </summary>
internal static class InstalledToolProfile
{
    private const int BulkBytes = 64 * 1024 * 1024;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: installed-tool <installed tbot-dotnet command> [rounds]");
            return 2;
        }

        var tool = Path.GetFullPath(args[1]);
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 15;
        var environment = new SshAccessBenchmarks { ProxyCommand = "jit" };
        await environment.SetUpAsync();
        var work = Directory.CreateTempSubdirectory("tmid-installed-").FullName;
        try
        {
            PrintMachine(tool);
            var destination = Path.Combine(work, "machine-id");
            var storage = Path.Combine(work, "bot");
            var webCa = Path.Combine(work, "web-ca.pem");
            await File.WriteAllTextAsync(webCa, environment.Cluster.WebCaCertificatePem);
            string[] oneShot =
            [
                "start", "identity", "--proxy-server", environment.ProxyAddress, "--join-method", "token",
                "--token", environment.Cluster.CreateJoinToken(SshAccessBenchmarks.BotName, TimeSpan.FromHours(4)).Name,
                "--storage", storage, "--destination", destination, "--roles", SshAccessBenchmarks.RoleName, "--ca-bundle", webCa, "--oneshot",
            ];

            // 1. One-shot: join once, then renew from the stored identity.
            var (joinMs, joinKb) = TimeOneShot(tool, oneShot, work);
            var renewals = new List<(double Ms, long Kb)>();
            for (var i = 0; i < rounds; i++)
            {
                renewals.Add(TimeOneShot(tool, oneShot, work));
            }

            var sshConfig = Path.Combine(destination, "ssh_config");
            var proxyLine = File.ReadLines(sshConfig).Select(l => l.Trim()).First(l => l.StartsWith("ProxyCommand ", StringComparison.Ordinal));
            Console.WriteLine($"ssh_config: {proxyLine}");
            Console.WriteLine();

            // 2. and 3. ssh … true and 64 MiB, direct and through the tool, alternating.
            string[] Direct(string command) => environment.DirectWith(destination, command);
            string[] Proxied(string command) => environment.ProxiedWith(sshConfig, command);
            var bulk = "head -c " + BulkBytes.ToString(CultureInfo.InvariantCulture) + " /dev/zero";
            _ = Ssh(Direct("true"), 0);
            _ = Ssh(Proxied("true"), 0);
            var connectDirect = new List<double>();
            var connectProxied = new List<double>();
            for (var i = 0; i < rounds; i++)
            {
                connectDirect.Add(Ssh(Direct("true"), 0));
                connectProxied.Add(Ssh(Proxied("true"), 0));
            }

            var bulkRounds = Math.Max(3, rounds / 3);
            var bulkDirect = new List<double>();
            var bulkProxied = new List<double>();
            for (var i = 0; i < bulkRounds; i++)
            {
                bulkDirect.Add(Ssh(Direct(bulk), BulkBytes));
                bulkProxied.Add(Ssh(Proxied(bulk), BulkBytes));
            }

            var ratios = bulkDirect.Zip(bulkProxied, (d, p) => d / p).ToList();
            var added = connectDirect.Zip(connectProxied, (d, p) => p - d).ToList();

            Console.WriteLine("| measurement | runs | median | min | max |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            Row("one-shot join + output, wall (ms)", [joinMs]);
            Row("one-shot join + output, peak RSS (MB)", [joinKb / 1024.0]);
            Row("one-shot renew + output, wall (ms)", renewals.Select(r => r.Ms).ToList());
            Row("one-shot renew + output, peak RSS (MB)", renewals.Select(r => r.Kb / 1024.0).ToList());
            Row("`ssh … true` direct (ms)", connectDirect);
            Row("`ssh … true` through the installed tool (ms)", connectProxied);
            Row("added set-up, per pair (ms)", added);
            Row("64 MiB direct (ms)", bulkDirect);
            Row("64 MiB through the installed tool (ms)", bulkProxied);
            Row("throughput ratio, per pair (×)", ratios, "0.00");
            Console.WriteLine();

            // 4. Where one connection's time goes (ms since ssh was launched).
            Console.WriteLine("ProxyCommand phases of one `ssh … true` (TBOT_DOTNET_TRACE_TIMING, ms since ssh started):");
            var launched = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
            var trace = RunCapturing("ssh", Proxied("true"), new Dictionary<string, string> { ["TBOT_DOTNET_TRACE_TIMING"] = launched });
            foreach (var line in trace.Split('\n').Where(l => l.Contains("ms", StringComparison.Ordinal) && !l.StartsWith("Warning", StringComparison.Ordinal)))
            {
                Console.WriteLine("  " + line.Trim());
            }

            // 5. Where one one-shot renewal's time goes (the SDK's spans, ms since the tool was launched).
            Console.WriteLine();
            Console.WriteLine("Phases of one one-shot renew + output (TBOT_DOTNET_TRACE_TIMING, ms since launch):");
            launched = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
            trace = RunCapturing(tool, oneShot, new Dictionary<string, string> { ["TBOT_DOTNET_TRACE_TIMING"] = launched });
            foreach (var line in trace.Split('\n').Where(l => l.Contains("timing:", StringComparison.Ordinal)))
            {
                Console.WriteLine("  " + line.Trim());
            }

            Console.WriteLine($"load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            await environment.CleanUpAsync();
        }

        return 0;
    }

    private static void PrintMachine(string tool)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"')
            : null;
        var program = new FileInfo(tool).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? tool;
        Console.WriteLine($"date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; machine: {Environment.ProcessorCount} cores, {cpu}; {os}; .NET {Environment.Version}");
        Console.WriteLine($"load average at the start: {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"tool: {tool} -> {program} ({new FileInfo(program).Length / (1024 * 1024)} MB)");
    }

    /// <summary>One one-shot run under <c>/usr/bin/time</c>: wall milliseconds and peak RSS in KiB.</summary>
    private static (double Ms, long Kb) TimeOneShot(string tool, string[] arguments, string work)
    {
        var timeFile = Path.Combine(work, "oneshot.time");
        var clock = Stopwatch.StartNew();
        _ = RunCapturing("/usr/bin/time", ["-f", "%M", "-o", timeFile, tool, .. arguments], null);
        var wall = clock.Elapsed.TotalMilliseconds;
        var kb = long.Parse(File.ReadAllText(timeFile).Trim().Split('\n')[^1], CultureInfo.InvariantCulture);
        return (wall, kb);
    }

    /// <summary>Runs ssh, drains standard output (checking the byte count) and returns the wall milliseconds.</summary>
    private static double Ssh(string[] arguments, long expectedBytes)
    {
        var info = new ProcessStartInfo("ssh") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
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

        process.WaitForExit();
        var wall = clock.Elapsed.TotalMilliseconds;
        if (process.ExitCode != 0 || total != expectedBytes)
        {
            throw new InvalidOperationException($"ssh exited {process.ExitCode} after {total} bytes: {stderr.Result}");
        }

        return wall;
    }

    /// <summary>Runs a program to completion and returns its standard error (throws on a non-zero exit).</summary>
    private static string RunCapturing(string program, string[] arguments, IReadOnlyDictionary<string, string>? environment)
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
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish in 2 minutes.");
        }

        _ = stdout.Result;
        return process.ExitCode == 0 ? stderr.Result : throw new InvalidOperationException($"{program} exited {process.ExitCode}: {stderr.Result}");
    }

    private static void Row(string name, IReadOnlyList<double> values, string format = "0")
    {
        var sorted = values.Order().ToList();
        var median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"| {name} | {values.Count} | {median.ToString(format, CultureInfo.InvariantCulture)} | ");
        text.Append(CultureInfo.InvariantCulture, $"{sorted[0].ToString(format, CultureInfo.InvariantCulture)} | {sorted[^1].ToString(format, CultureInfo.InvariantCulture)} |");
        Console.WriteLine(text.ToString());
    }
}
