using System.IO.Compression;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.Packaging;

/// <summary>
/// tbot-dotnet as a user installs it from the freshly packed feed (<c>dotnet tool install</c> into a
/// tool path): on linux-x64 the Native AOT executable, elsewhere the framework-dependent fallback,
/// which needs only <c>Microsoft.NETCore.App</c>. Each writes an identity output against the emulator
/// and a real sshd is reached with <c>ssh -F ssh_config</c> through the installed tool's ProxyCommand.
/// </summary>
[Category("Packaging")]
[Category("EndToEnd")]
[NonParallelizable]
public sealed class InstalledToolTests
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);

    [Test]
    public async Task Dotnet_tool_install_gives_the_native_executable_and_ssh_reaches_a_node_through_its_ProxyCommand()
    {
        var feed = PackageFeed.Instance;
        await feed.EnsureNativeToolAsync();
        var tools = Path.Combine(feed.WorkDirectory, "tools-native");

        var install = await PackageFeed.DotnetAsync(
            ["tool", "install", "Teleport.MachineId.Cli", "--version", feed.Version, "--tool-path", tools, "--configfile", feed.NuGetConfig],
            feed.WorkDirectory, InstallTimeout);
        Assert.That(install.ExitCode, Is.Zero, install.ToString());

        var command = Path.Combine(tools, "tbot-dotnet");
        var program = new FileInfo(command).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? command;
        Assert.Multiple(() =>
        {
            Assert.That(program, Does.Contain(Path.Combine(".store", "teleport.machineid.cli")).And.Contain("teleport.machineid.cli.linux-x64"), "the linux-x64 package was installed");
            Assert.That(IsElfExecutable(program), Is.True, $"{program} is a native (ELF) executable");
            Assert.That(File.Exists(Path.Combine(Path.GetDirectoryName(program)!, "tbot-dotnet.dll")), Is.False, "no managed tbot-dotnet.dll beside it");
            Assert.That(Directory.GetFiles(Path.GetDirectoryName(program)!, "*.dll"), Is.Empty, "no managed assemblies at all");
        });

        await using var env = await NodeEnvironment.StartAsync();
        await WriteOutputAndSshAsync(env, command, [], command, feed.WorkDirectory, "native");
    }

    [Test]
    public async Task The_framework_dependent_fallback_runs_with_only_the_dotnet_runtime_and_serves_ssh_too()
    {
        var feed = PackageFeed.Instance;
        await feed.EnsureFallbackToolAsync();
        var dotnet = RuntimeWithoutAspNetCore(feed.WorkDirectory);
        var runtimes = await SshToolRunner.RunAsync(dotnet, ["--list-runtimes"], environment: new Dictionary<string, string?> { ["DOTNET_ROOT"] = null });
        Assert.That(runtimes.StandardOutput, Does.Contain("Microsoft.NETCore.App").And.Not.Contain("Microsoft.AspNetCore.App"), runtimes.ToString());

        var tool = Path.Combine(feed.WorkDirectory, "tool-any");
        ZipFile.ExtractToDirectory(feed.PackagePath("Teleport.MachineId.Cli.any"), tool, overwriteFiles: true);
        var dll = Path.Combine(tool, "tools", "net10.0", "any", "tbot-dotnet.dll");
        Assert.That(File.Exists(dll), Is.True, "the any package holds the framework-dependent tool");

        await using var env = await NodeEnvironment.StartAsync();
        await WriteOutputAndSshAsync(env, dotnet, [dll], dotnet, feed.WorkDirectory, "fallback");
    }

    /// <summary>
    /// Runs <c>start identity --oneshot</c> with the given program, checks the ssh_config's ProxyCommand
    /// runs <paramref name="expectedProxyCommand"/>, then <c>ssh -F ssh_config … hostname</c>.
    /// </summary>
    private static async Task WriteOutputAndSshAsync(NodeEnvironment env, string program, string[] prefix, string expectedProxyCommand, string workDirectory, string name)
    {
        var destination = Path.Combine(env.OutputDirectory, name);
        var webCa = Path.Combine(workDirectory, name + "-web-ca.pem");
        await File.WriteAllTextAsync(webCa, env.Cluster.WebCaCertificatePem);
        var token = env.Cluster.CreateJoinToken(NodeEnvironment.BotName).Name;
        var start = await SshToolRunner.RunAsync(program,
        [
            .. prefix, "start", "identity", "--proxy-server", env.Cluster.ProxyAddress, "--join-method", "token", "--token", token,
            "--storage", "memory://", "--destination", destination, "--roles", NodeEnvironment.AccessRole, "--ca-bundle", webCa, "--oneshot",
        ],
        timeout: TimeSpan.FromSeconds(120),
        environment: new Dictionary<string, string?> { ["DOTNET_ROOT"] = null, ["TELEPORT_BOT_TOKEN"] = null, ["TELEPORT_PROXY"] = null });
        Assert.That(start.ExitCode, Is.Zero, start.ToString());

        var sshConfig = await File.ReadAllTextAsync(Path.Combine(destination, "ssh_config"));
        Assert.That(sshConfig, Does.Contain("ProxyCommand " + SshProxyCommand.Quote(expectedProxyCommand) + " "), "the ProxyCommand runs the installed tool");

        var ssh = await env.SshAsync(destination, env.Login, env.NodeHost, "hostname");
        Assert.That(ssh.ExitCode, Is.Zero, $"{ssh}\n{env.Sshd.Log}");
        Assert.That(ssh.StandardOutput.Trim(), Is.EqualTo(Environment.MachineName));
    }

    /// <summary>
    /// A .NET installation with the host and <c>Microsoft.NETCore.App</c> only (no ASP.NET Core), made
    /// of links into the running one: what a machine with just the .NET runtime has.
    /// </summary>
    private static string RuntimeWithoutAspNetCore(string workDirectory)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("The runtime-only installation is assembled with Unix file modes and links.");
            return string.Empty;
        }

        var runtimeDirectory = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(); // <root>/shared/Microsoft.NETCore.App/<version>/
        var root = Path.GetFullPath(Path.Combine(runtimeDirectory, "..", "..", ".."));
        var copy = Path.Combine(workDirectory, "dotnet-runtime-only");
        if (!Directory.Exists(copy))
        {
            Directory.CreateDirectory(Path.Combine(copy, "shared"));
            // The host resolves its own location (so the executable is copied, not linked) and looks
            // for frameworks under <its directory>/shared.
            File.Copy(Path.Combine(root, "dotnet"), Path.Combine(copy, "dotnet"));
            File.SetUnixFileMode(Path.Combine(copy, "dotnet"), File.GetUnixFileMode(Path.Combine(root, "dotnet")));
            Directory.CreateSymbolicLink(Path.Combine(copy, "host"), Path.Combine(root, "host"));
            Directory.CreateSymbolicLink(Path.Combine(copy, "shared", "Microsoft.NETCore.App"), Path.Combine(root, "shared", "Microsoft.NETCore.App"));
        }

        return Path.Combine(copy, "dotnet");
    }

    private static bool IsElfExecutable(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.Read(magic) == 4 && magic.SequenceEqual("\u007fELF"u8);
    }
}
