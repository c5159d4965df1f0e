using System.Diagnostics;
using System.Text.Json;
using BenchmarkDotNet.Attributes;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// One join per method, side by side: a bot's <see cref="BotIdentityProvider.RenewNowAsync"/> against
/// the emulator run as its own process (<c>tbot-dotnet-emulator run -c examples/emulator-joins.yaml</c>,
/// as the README tells a user to try the methods), so time and allocations are the client's alone.
/// <c>token</c> renews with GenerateUserCerts (the reference row); every other method joins again,
/// presenting the current identity: <c>github</c> fetches an ID token from the runner endpoint,
/// <c>gitlab</c> reads <c>TBOT_GITLAB_JWT</c>, <c>kubernetes</c> reads its service account token file,
/// <c>bound_keypair</c> answers the cluster's challenge with its bound key and stores the new join
/// state. Each join generates the bot's new key, verifies the certificates and stores the identity
/// durably (directory storage, fsync), as in production.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class JoinMethodBenchmarks
{
    private Process? _emulator;
    private string? _work;
    private BotIdentityProvider? _bot;

    [Params(
        MachineIdOptions.TokenJoinMethod,
        MachineIdOptions.GitHubJoinMethod,
        MachineIdOptions.GitLabJoinMethod,
        MachineIdOptions.KubernetesJoinMethod,
        MachineIdOptions.BoundKeypairJoinMethod)]
    public string JoinMethod { get; set; } = MachineIdOptions.TokenJoinMethod;

    [GlobalSetup]
    public async Task SetUpAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // BenchmarkDotNet does not clean up after a failed set-up: never leave the emulator running.
            await CleanUpAsync();
            throw;
        }
    }

    [GlobalCleanup]
    public async Task CleanUpAsync()
    {
        if (_bot is not null)
        {
            await _bot.DisposeAsync();
        }

        if (_emulator is not null)
        {
            _emulator.Kill(entireProcessTree: true);
            await _emulator.WaitForExitAsync();
            _emulator.Dispose();
        }

        if (_work is not null)
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    [Benchmark(Description = "one join (RenewNowAsync)")]
    public Task<BotIdentity> Join() => _bot!.RenewNowAsync();

    private async Task StartAsync()
    {
        _work = Directory.CreateTempSubdirectory("tmid-bench-joins-").FullName;
        var output = Path.Combine(_work, "emulator");
        _emulator = StartEmulator(output);
        var helpers = await WaitForFileAsync(Path.Combine(output, "join-helpers.json"), TimeSpan.FromSeconds(60));
        var files = JsonDocument.Parse(await File.ReadAllTextAsync(helpers)).RootElement.GetProperty("tokens").EnumerateArray()
            .ToDictionary(t => t.GetProperty("join_method").GetString()!, t => (Name: t.GetProperty("name").GetString()!, File: Path.Combine(output, t.GetProperty("file").GetString()!)));

        var options = new MachineIdOptions
        {
            ProxyServer = (await File.ReadAllTextAsync(Path.Combine(output, "proxy-address"))).Trim(),
            ProxyCaBundlePath = Path.Combine(output, "web-ca.pem"),
            JoinMethod = JoinMethod,
            StoragePath = Path.Combine(_work, "bot"),
        };
        switch (JoinMethod)
        {
            case MachineIdOptions.TokenJoinMethod:
                options.TokenFile = Path.Combine(output, "tokens", "robot");
                break;
            case MachineIdOptions.GitHubJoinMethod:
                // What a runner puts into a job's environment.
                foreach (var line in await File.ReadAllLinesAsync(files[JoinMethod].File))
                {
                    var pair = line.Split('=', 2);
                    Environment.SetEnvironmentVariable(pair[0], pair[1]);
                }

                break;
            case MachineIdOptions.GitLabJoinMethod:
                Environment.SetEnvironmentVariable("TBOT_GITLAB_JWT", (await File.ReadAllTextAsync(files[JoinMethod].File)).Trim());
                break;
            case MachineIdOptions.KubernetesJoinMethod:
                options.Kubernetes.TokenPath = files[JoinMethod].File;
                break;
            case MachineIdOptions.BoundKeypairJoinMethod:
                options.BoundKeypair.RegistrationSecretPath = files[JoinMethod].File;
                break;
        }

        if (JoinMethod != MachineIdOptions.TokenJoinMethod)
        {
            options.Token = files[JoinMethod].Name;
        }

        _bot = BotIdentityProvider.Create(options);
        await _bot.StartAsync();
        using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _bot.WaitUntilReadyAsync(ready.Token);
    }

    private static Process StartEmulator(string output)
    {
        var configuration = Path.Combine(RepositoryRoot(), "examples", "emulator-joins.yaml");
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "tbot-dotnet-emulator"))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "run", "-c", configuration, "--output", output })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;

        // Drained so the emulator never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<string> WaitForFileAsync(string path, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(path))
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"The emulator did not write {path} within {timeout}.");
            }

            await Task.Delay(100);
        }

        return path;
    }

    /// <summary>The repository root (the benchmark runs from a generated project under its bin folder).</summary>
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "examples", "emulator-joins.yaml")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("examples/emulator-joins.yaml not found above " + AppContext.BaseDirectory);
    }
}
