using System.Collections;
using System.Globalization;
using System.Runtime.InteropServices;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Packaging;

/// <summary>
/// Every package of the repository, packed once per test run the way a release would be
/// (<c>dotnet pack -c Release</c>) into a local feed in a temporary directory: the libraries and
/// the tools' pointer packages from the solution, then <c>tbot-dotnet</c>'s Native AOT
/// <c>linux-x64</c> package and its framework-dependent <c>any</c> package. The build goes to its own
/// artifacts directory (the checkout's bin/obj are not touched) and the packages get a version of
/// their own (<c>0.1.0-ci.…</c>) so nothing stale from the NuGet cache is ever installed.
/// </summary>
internal sealed class PackageFeed
{
    /// <summary>The library packages (each must carry a README, XML docs and symbols).</summary>
    public static readonly string[] LibraryPackageIds =
    [
        "Teleport.MachineId", "Teleport.MachineId.Extensions.Hosting", "Teleport.MachineId.Configuration", "Teleport.MachineId.SshNet", "Teleport.MachineId.Testing",
    ];

    /// <summary>Marker that .ci/run looks for in the reasons of skipped tests (they must run in CI).</summary>
    public const string SkipMarker = "[requires-native-toolchain]";

    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(15);
    private static readonly Lock Gate = new();
    private static PackageFeed? s_instance;

    private readonly Lazy<Task> _libraries;
    private readonly Lazy<Task> _nativeTool;
    private readonly Lazy<Task> _fallbackTool;

    private PackageFeed()
    {
        RepositoryRoot = FindRepositoryRoot();
        WorkDirectory = Path.Combine(Path.GetTempPath(), $"tmid-packages-{Guid.NewGuid():N}");
        FeedDirectory = Path.Combine(WorkDirectory, "feed");
        Directory.CreateDirectory(FeedDirectory);
        Version = "0.1.0-ci." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        NuGetConfig = Path.Combine(WorkDirectory, "nuget.config");
        File.WriteAllText(NuGetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{FeedDirectory}" />
                <add key="nuget.org" value="{UpstreamSource()}" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local">
                  <package pattern="Teleport.MachineId*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        _libraries = new(() => PackAsync("the solution", [Path.Combine(RepositoryRoot, "Teleport.MachineId.sln")]));
        _nativeTool = new(() => PackAsync("tbot-dotnet for linux-x64 (Native AOT)", [CliProject, "-r", "linux-x64"]));
        _fallbackTool = new(() => PackAsync("tbot-dotnet for any platform (framework-dependent)", [CliProject, "-r", "any", "-p:PublishAot=false"]));
    }

    public static PackageFeed Instance
    {
        get
        {
            lock (Gate)
            {
                return s_instance ??= new PackageFeed();
            }
        }
    }

    public string RepositoryRoot { get; }

    /// <summary>A temporary directory for everything the packaging tests create.</summary>
    public string WorkDirectory { get; }

    /// <summary>The local feed (a folder of .nupkg and .snupkg files).</summary>
    public string FeedDirectory { get; }

    /// <summary>The version every package was packed with.</summary>
    public string Version { get; }

    /// <summary>A nuget.config: Teleport.MachineId* from the local feed, everything else from the usual source.</summary>
    public string NuGetConfig { get; }

    private string CliProject => Path.Combine(RepositoryRoot, "src", "Teleport.MachineId.Cli", "Teleport.MachineId.Cli.csproj");

    /// <summary>The libraries and the tools' pointer packages.</summary>
    public Task EnsureLibrariesAsync() => _libraries.Value;

    /// <summary>Everything needed to install tbot-dotnet on this machine (linux-x64: the Native AOT package).</summary>
    public async Task EnsureNativeToolAsync()
    {
        RequireNativeAotToolchain();
        await _libraries.Value;
        await _nativeTool.Value;
    }

    /// <summary>The framework-dependent <c>any</c> package of tbot-dotnet.</summary>
    public async Task EnsureFallbackToolAsync()
    {
        await _libraries.Value;
        await _fallbackTool.Value;
    }

    /// <summary>The path of a package in the feed.</summary>
    public string PackagePath(string id, string extension = "nupkg") => Path.Combine(FeedDirectory, $"{id}.{Version}.{extension}");

    /// <summary>
    /// Runs <c>dotnet</c> as a user would: without the MSBuild and test-host variables the test run
    /// itself was started with, which would otherwise leak into the child build.
    /// </summary>
    public static Task<ToolResult> DotnetAsync(IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            // No MSBuild worker nodes or build server left running after the test run.
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
        };
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            var name = (string)entry.Key;
            if (name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || name is "DOTNET_HOST_PATH" or "DOTNET_ROOT" || name.StartsWith("NUNIT", StringComparison.OrdinalIgnoreCase))
            {
                variables[name] = null;
            }
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            variables[name] = value;
        }

        return SshToolRunner.RunAsync("dotnet", arguments, timeout: timeout, environment: variables, workingDirectory: workingDirectory);
    }

    /// <summary>Native AOT needs linux-x64 here (the AOT package is for it) and clang to link.</summary>
    public static void RequireNativeAotToolchain()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
        {
            Assert.Ignore($"{SkipMarker} the Native AOT tool package is built for linux-x64; this is {RuntimeInformation.RuntimeIdentifier}.");
        }

        if (OpenSshTools.Find("clang") is null)
        {
            var reason = $"{SkipMarker} Native AOT needs clang to link; install it with: apt-get install -y clang zlib1g-dev";
            if (OpenSshTools.IsCi)
            {
                Assert.Fail($"CI=true but {reason}");
            }

            Assert.Ignore(reason);
        }
    }

    /// <summary>Deletes the work directory and this run's packages from the NuGet cache.</summary>
    public static void Cleanup()
    {
        PackageFeed? feed;
        lock (Gate)
        {
            feed = s_instance;
            s_instance = null;
        }

        if (feed is null)
        {
            return;
        }

        TryDelete(feed.WorkDirectory);
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (Directory.Exists(cache))
        {
            foreach (var package in Directory.EnumerateDirectories(cache, "teleport.machineid*"))
            {
                TryDelete(Path.Combine(package, feed.Version.ToLowerInvariant()));
            }
        }
    }

    private async Task PackAsync(string what, IReadOnlyList<string> target)
    {
        string[] arguments =
        [
            "pack", .. target, "-c", "Release", "-o", FeedDirectory, "--nologo",
            $"-p:Version={Version}",
            "-p:UseArtifactsOutput=true", $"-p:ArtifactsPath={Path.Combine(WorkDirectory, "artifacts")}",
            "-p:ContinuousIntegrationBuild=true",
        ];
        var result = await DotnetAsync(arguments, RepositoryRoot, PackTimeout);
        Assert.That(result.ExitCode, Is.Zero, $"dotnet pack of {what} failed:\n{Tail(result.StandardOutput)}\n{result.StandardError}");
        var warnings = result.StandardOutput.Split('\n').Where(l => l.Contains(": warning ", StringComparison.Ordinal)).Distinct().ToList();
        Assert.That(warnings, Is.Empty, $"dotnet pack of {what} reported warnings");
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : text[^6000..];

    private string UpstreamSource()
    {
        // The source the repository restores from (its nuget.config), so the consumers restore the same way.
        var config = File.ReadAllText(Path.Combine(RepositoryRoot, "nuget.config"));
        var start = config.IndexOf("value=\"", config.IndexOf("<add ", StringComparison.Ordinal), StringComparison.Ordinal) + "value=\"".Length;
        return config[start..config.IndexOf('"', start)];
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Teleport.MachineId.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Teleport.MachineId.sln not found above the test directory.");
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Removes the packaging tests' temporary feed, tools and consumers after the run.</summary>
[SetUpFixture]
public sealed class PackagingCleanup
{
    [OneTimeTearDown]
    public void RemoveFeed() => PackageFeed.Cleanup();
}
