using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Cli;
using Teleport.MachineId.Cli.Commands;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Teleport.MachineId.Testing.Tool;

/// <summary>
/// <c>demo</c>: the quick start. Teleport's "Machine &amp; Workload Identity with Server Access" guide
/// against an in-process cluster emulator: the guide's role and a bot, one bot run writing
/// <c>./machine-id</c>, then — when OpenSSH is installed — a real sshd configured only from the
/// emulator's exports and <c>ssh -F ./machine-id/ssh_config &lt;login&gt;@my-host.&lt;cluster&gt; hostname</c>.
/// With <c>--multiplexer</c>, an ssh-multiplexer (credentials in memory, <c>v1.sock</c>, <c>agent.sock</c>)
/// then serves <c>./machine-id-mux</c> and the same ssh runs through it.
/// </summary>
internal static class DemoCommand
{
    /// <summary>Environment variable naming the sshd to use, or <c>none</c> to skip the SSH step.</summary>
    public const string SshdVariable = "TBOT_DOTNET_SSHD";

    private const string RoleName = "example-role";
    private const string BotName = "example";
    private const string NodeName = "my-host";

    private static readonly Option<string> Output = new("--output", "-o") { Description = "Where the identity output is written.", DefaultValueFactory = _ => "machine-id" };
    private static readonly Option<string?> Sshd = new("--sshd") { Description = $"The sshd program (absolute path), or 'none' to skip the SSH step. Env: {SshdVariable}." };
    private static readonly Option<bool> KeepRunning = new("--keep-running") { Description = "Keep the emulator and sshd running until Ctrl+C, to try the files yourself." };
    private static readonly Option<bool> Multiplexer = new("--multiplexer")
    {
        Description = "Also run an ssh-multiplexer (in-memory credentials, v1.sock, agent.sock) into <output>-mux and ssh through it.",
    };

    public static Command Create(TimeProvider timeProvider)
    {
        var command = new Command("demo", "Quick start: an emulated cluster, a bot run writing ./machine-id, and ssh through the proxy to a local sshd.")
        {
            Output, Sshd, KeepRunning, Multiplexer,
        };
        command.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Warning, async loggerFactory =>
        {
            var output = Path.GetFullPath(parseResult.GetValue(Output)!);
            var sshd = FindProgram(parseResult.GetValue(Sshd) ?? CommonOptions.Environment(SshdVariable), "sshd");
            var ssh = sshd is null ? null : FindProgram(null, "ssh");
            return await RunAsync(output, sshd, ssh, parseResult.GetValue(KeepRunning), parseResult.GetValue(Multiplexer), loggerFactory, timeProvider, Console.Out, cancellationToken)
                .ConfigureAwait(false);
        }));
        return command;
    }

    internal static async Task<int> RunAsync(string output, string? sshd, string? ssh, bool keepRunning, bool multiplexer, ILoggerFactory loggerFactory,
        TimeProvider timeProvider, TextWriter console, CancellationToken cancellationToken)
    {
        var login = Environment.UserName;
        await console.WriteLineAsync("1. Starting a Teleport cluster emulator (Auth + Proxy on local ports)…").ConfigureAwait(false);
        var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { LoggerFactory = loggerFactory }, cancellationToken).ConfigureAwait(false);
        await using (cluster.ConfigureAwait(false))
        {
            await console.WriteLineAsync($"   cluster {cluster.ClusterName}, proxy {cluster.ProxyAddress}").ConfigureAwait(false);

            // The guide's role (kind: role, logins: [root], node_labels '*': '*'), the bot and its token.
            string[] logins = login == "root" ? ["root"] : ["root", login];
            cluster.UpsertRole(new EmulatorRole { Name = RoleName, Logins = logins, NodeLabels = EmulatorRole.AllNodes });
            cluster.AddBot(new EmulatorBot { Name = BotName, Roles = [RoleName] });
            var token = cluster.CreateJoinToken(BotName);
            await console.WriteLineAsync($"2. Created role {RoleName} (logins: [{string.Join(", ", logins)}], node_labels: '*': '*'), bot {BotName} and a join token").ConfigureAwait(false);

            var bot = new MachineIdOptions
            {
                ProxyServer = cluster.ProxyAddress,
                Token = token.Name,
                StorageType = BotStorageType.Memory,
            };
            bot.ProxyCaCertificates.Add(cluster.WebCaCertificate);
            var (proxyCommand, proxyCommandArguments) = LocateTbotDotnet();
            var identityOutput = new IdentityOutputOptions
            {
                Destination = new DirectoryDestination(new DirectoryDestinationOptions { Path = output }, loggerFactory.CreateLogger<DirectoryDestination>(), timeProvider),
                ProxyCommandPath = proxyCommand,
            };
            foreach (var argument in proxyCommandArguments)
            {
                identityOutput.ProxyCommandArguments.Add(argument);
            }

            identityOutput.Roles.Add(RoleName);
            var results = await BotRunner.RunAsync(new BotRunPlan { Bot = bot, Outputs = [identityOutput], Oneshot = true, Names = CliSettingNames.Flags(false, false, false) }, loggerFactory, timeProvider, cancellationToken)
                .ConfigureAwait(false);
            var written = results[0];
            await console.WriteLineAsync($"3. Ran the bot once: wrote {output}").ConfigureAwait(false);
            await console.WriteLineAsync($"   {string.Join(", ", written.ArtifactNames)}").ConfigureAwait(false);
            await console.WriteLineAsync($"   certificate for {written.Certificates.TlsIdentity.Username}, logins [{string.Join(", ", written.Certificates.SshCertificate.Principals)}], valid until {written.Certificates.NotAfter:u}").ConfigureAwait(false);

            if (sshd is null || ssh is null)
            {
                await console.WriteLineAsync("4. OpenSSH (sshd and ssh) was not found (or TBOT_DOTNET_SSHD=none), so the SSH step is skipped.").ConfigureAwait(false);
                await console.WriteLineAsync("   Install it to see it: sudo apt-get install -y openssh-server openssh-client (Debian/Ubuntu), then run the demo again.").ConfigureAwait(false);
                return ExitCodes.Success;
            }

            await using var node = await DemoNode.StartAsync(cluster, sshd, cancellationToken).ConfigureAwait(false);
            cluster.AddNode(new EmulatorNode { Name = NodeName, Address = node.Address, Labels = new Dictionary<string, string> { ["env"] = "demo" } });
            await console.WriteLineAsync($"4. Started sshd at {node.Address} (trusts the cluster's user CA; host certificate from its host CA) as node {NodeName}").ConfigureAwait(false);

            var host = NodeName + "." + cluster.ClusterName;
            var config = Path.Combine(output, "ssh_config");
            await console.WriteLineAsync($"5. $ ssh -F {config} {login}@{host} hostname").ConfigureAwait(false);
            var (code, stdout, stderr) = await RunAsync(ssh, ["-F", config, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", $"{login}@{host}", "hostname"], cancellationToken)
                .ConfigureAwait(false);
            if (code != 0)
            {
                await console.WriteLineAsync($"   ssh failed (exit {code}): {stderr.Trim()}").ConfigureAwait(false);
                return ExitCodes.Failure;
            }

            await console.WriteLineAsync("   " + stdout.Trim()).ConfigureAwait(false);
            await console.WriteLineAsync("   The connection went: ssh → tbot-dotnet ssh-proxy-command → the proxy's ProxySSH → sshd, with the certificates from " + output).ConfigureAwait(false);
            if (!multiplexer)
            {
                await KeepRunningAsync(keepRunning, [$"ssh -F {config} {login}@{host} hostname",
                    $"tbot-dotnet ssh -i {Path.Combine(output, "identity")} --proxy {cluster.ProxyAddress} {login}@{NodeName} hostname"], console, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            bot.Token = cluster.CreateJoinToken(BotName).Name;
            return await RunMultiplexerAsync(bot, output + "-mux", ssh, $"{login}@{host}", keepRunning, loggerFactory, timeProvider, console, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Steps 6–7: the bot runs (joined with a fresh token) behind an ssh-multiplexer hosted in this
    /// process, which writes <paramref name="directory"/>'s ssh_config and known_hosts and serves its
    /// sockets; ssh then connects through it, the key and certificate coming from <c>agent.sock</c>.
    /// </summary>
    private static async Task<int> RunMultiplexerAsync(MachineIdOptions bot, string directory, string ssh, string target, bool keepRunning,
        ILoggerFactory loggerFactory, TimeProvider timeProvider, TextWriter console, CancellationToken cancellationToken)
    {
        var provider = BotIdentityProvider.Create(bot, loggerFactory, timeProvider);
        await using (provider.ConfigureAwait(false))
        {
            await provider.StartAsync(cancellationToken).ConfigureAwait(false);
            var signer = new TeleportSshCertificateSigner(provider, bot, loggerFactory, timeProvider);
            await using (signer.ConfigureAwait(false))
            {
                var (program, arguments) = LocateTbotDotnet();
                var options = new SshMultiplexerOptions { DestinationPath = directory, ProxyCommand = { program } };
                foreach (var argument in arguments)
                {
                    options.ProxyCommand.Add(argument);
                }

                options.ProxyCommand.Add("ssh-multiplexer-proxy-command");
                var mux = SshMultiplexerService.Create(signer, options, loggerFactory, timeProvider);
                await using (mux.ConfigureAwait(false))
                {
                    await mux.StartAsync(cancellationToken).ConfigureAwait(false);
                    await mux.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
                    await console.WriteLineAsync($"6. Started an ssh-multiplexer serving {directory}: ssh_config, known_hosts, v1.sock, agent.sock (no key on disk)").ConfigureAwait(false);

                    var config = Path.Combine(directory, "ssh_config");
                    await console.WriteLineAsync($"7. $ ssh -F {config} {target} hostname").ConfigureAwait(false);
                    var (code, stdout, stderr) = await RunAsync(ssh, ["-F", config, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", target, "hostname"], cancellationToken)
                        .ConfigureAwait(false);
                    if (code != 0)
                    {
                        await console.WriteLineAsync($"   ssh failed (exit {code}): {stderr.Trim()}").ConfigureAwait(false);
                        return ExitCodes.Failure;
                    }

                    await console.WriteLineAsync("   " + stdout.Trim()).ConfigureAwait(false);
                    await console.WriteLineAsync("   The connection went: ssh → tbot-dotnet ssh-multiplexer-proxy-command (hands ssh the v1.sock connection and exits) → the multiplexer's pooled ProxySSH connection → sshd; the key came from agent.sock")
                        .ConfigureAwait(false);
                    await KeepRunningAsync(keepRunning, [$"ssh -F {config} {target} hostname", $"SSH_AUTH_SOCK={mux.AgentSocketPath} ssh-add -L"], console, cancellationToken)
                        .ConfigureAwait(false);
                    return ExitCodes.Success;
                }
            }
        }
    }

    private static async Task KeepRunningAsync(bool keepRunning, IEnumerable<string> examples, TextWriter console, CancellationToken cancellationToken)
    {
        if (!keepRunning)
        {
            return;
        }

        await console.WriteLineAsync("Running until Ctrl+C; try it yourself:").ConfigureAwait(false);
        foreach (var example in examples)
        {
            await console.WriteLineAsync("   " + example).ConfigureAwait(false);
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// The <c>tbot-dotnet</c> the demo's ssh_config runs as its ProxyCommand: the one built or packed
    /// beside this tool (its apphost, else <c>dotnet tbot-dotnet.dll</c>), else <c>tbot-dotnet</c> on PATH.
    /// </summary>
    internal static (string Path, IReadOnlyList<string> Arguments) LocateTbotDotnet()
    {
        var apphost = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "tbot-dotnet.exe" : "tbot-dotnet");
        if (File.Exists(apphost))
        {
            return (apphost, []);
        }

        var dll = Path.Combine(AppContext.BaseDirectory, "tbot-dotnet.dll");
        if (File.Exists(dll) && DotnetHost() is { } dotnet)
        {
            return (dotnet, [dll]);
        }

        return ("tbot-dotnet", []);
    }

    /// <summary>The <c>dotnet</c> host running this process (the root of the runtime's installation).</summary>
    private static string? DotnetHost()
    {
        if (Environment.ProcessPath is { } process && string.Equals(Path.GetFileNameWithoutExtension(process), "dotnet", StringComparison.Ordinal))
        {
            return process;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ → <root>/dotnet
        var runtime = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        var host = Path.GetFullPath(Path.Combine(runtime, "..", "..", "..", OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet"));
        return File.Exists(host) ? host : null;
    }

    /// <summary>The program to use: an explicit path, <c>none</c>, or a search of PATH and the sbin directories.</summary>
    internal static string? FindProgram(string? explicitPath, string name)
    {
        if (explicitPath is not null)
        {
            return string.Equals(explicitPath, "none", StringComparison.OrdinalIgnoreCase) || !File.Exists(explicitPath) ? null : Path.GetFullPath(explicitPath);
        }

        var directories = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"]);
        return directories.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>A local sshd configured only from the emulator's exports, in a private temporary directory.</summary>
    private sealed class DemoNode : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _directory;

        private DemoNode(Process process, string directory, string address)
        {
            _process = process;
            _directory = directory;
            Address = address;
        }

        public string Address { get; }

        public static async Task<DemoNode> StartAsync(TeleportEmulator cluster, string sshd, CancellationToken cancellationToken)
        {
            var directory = Directory.CreateTempSubdirectory("tbot-dotnet-demo-sshd-").FullName;
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            using var hostKey = PrivateKey.Generate(KeyAlgorithm.Ed25519);
            var hostCertificate = cluster.SignHostCertificate(hostKey.PublicKey, [NodeName, NodeName + "." + cluster.ClusterName]);
            Write(directory, "host_key", hostKey.ExportOpenSshPem("demo-node"), secret: true);
            Write(directory, "host_key-cert.pub", hostCertificate.ToAuthorizedKey() + "\n", secret: false);
            Write(directory, "user-ca.pub", cluster.ExportUserCaOpenSsh(), secret: false);
            if (Environment.UserName == "root")
            {
                // sshd's privilege separation directory (not created without systemd).
                Directory.CreateDirectory("/run/sshd");
            }

            var port = FreePort();
            var config = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"Port {port}\n")
                .Append("ListenAddress 127.0.0.1\n")
                .Append(CultureInfo.InvariantCulture, $"HostKey {directory}/host_key\n")
                .Append(CultureInfo.InvariantCulture, $"HostCertificate {directory}/host_key-cert.pub\n")
                .Append(CultureInfo.InvariantCulture, $"TrustedUserCAKeys {directory}/user-ca.pub\n")
                .Append("AuthorizedKeysFile none\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n")
                .Append("PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n")
                .Append(CultureInfo.InvariantCulture, $"PidFile {directory}/sshd.pid\n")
                .Append("Subsystem sftp internal-sftp\n");
            Write(directory, "sshd_config", config.ToString(), secret: false);
            var info = new ProcessStartInfo(sshd) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in new[] { "-D", "-e", "-f", Path.Combine(directory, "sshd_config") })
            {
                info.ArgumentList.Add(argument);
            }

            var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {sshd}.");
            var log = new StringBuilder();
            process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var node = new DemoNode(process, directory, "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
            try
            {
                await WaitForPortAsync(process, port, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                await node.DisposeAsync().ConfigureAwait(false);
                string text;
                lock (log)
                {
                    text = log.ToString().Trim();
                }

                throw new InvalidOperationException($"{ex.Message} sshd said: {text}", ex);
            }

            return node;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill();
                    await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
            }

            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private static async Task WaitForPortAsync(Process process, int port, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"sshd exited with code {process.ExitCode}.");
                }

                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token).ConfigureAwait(false);
                    return;
                }
                catch (SocketException)
                {
                    await Task.Delay(20, timeout.Token).ConfigureAwait(false);
                }
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        private static void Write(string directory, string name, string content, bool secret)
        {
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, content);
            if (OperatingSystem.IsWindows())
            {
                return;
            }

            File.SetUnixFileMode(path, secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
    }
}
