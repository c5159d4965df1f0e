using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Formats.OpenSsh;

/// <summary>
/// Real OpenSSH judges the rendered files: <c>ssh -G</c> must accept every config and resolve the
/// expected values; the ProxyCommand must reach the program with exactly the intended arguments
/// (through ssh's tokenizer, %-expansion and /bin/sh); and a real sshd login must succeed with the
/// rendered IdentityFile/CertificateFile/known_hosts in a directory with spaces and quotes.
/// </summary>
public sealed class OpenSshConfigInteropTests
{
    private const string ProxyHost = "proxy.example.com";

    // Quotes, spaces, %, a backslash and a backslash before a quote: every character class that
    // ssh_config's tokenizer, its %-expansion or /bin/sh treats specially.
    private const string OddDirectoryName = "dest dir/it's \"quoted\" 100% back\\slash x\\'y";

    private DirectoryInfo _root = null!;

    [SetUp]
    public void CreateRoot() => _root = Directory.CreateTempSubdirectory("openssh-config-");

    [TearDown]
    public void DeleteRoot() => _root.Delete(recursive: true);

    private string OddDirectory()
    {
        var path = Path.Combine(_root.FullName, OddDirectoryName);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A stand-in for tbot at an awkward path that records the arguments it gets.</summary>
    private (string Path, string ArgumentsFile) FakeTbot()
    {
        var bin = Path.Combine(_root.FullName, "bin dir", "fake tbot's \"x\" 100%");
        Directory.CreateDirectory(Path.GetDirectoryName(bin)!);
        var argumentsFile = Path.Combine(_root.FullName, "arguments");
        File.WriteAllText(bin, $"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{argumentsFile}'\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(bin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return (bin, argumentsFile);
    }

    private static Dictionary<string, string> SshG(string configPath, string host)
    {
        var result = FormatsProcess.Run(OpenSshTools.Ssh, ["-G", "-F", configPath, host]);
        Assert.That(result.ExitCode, Is.Zero, $"ssh -G -F '{configPath}' {host}: {result.StandardError}");
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0)
            {
                options.TryAdd(line[..space], line[(space + 1)..]);
            }
        }

        return options;
    }

    private static string ConfigLine(string config, string keyword) =>
        config.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith(keyword + " ", StringComparison.Ordinal))[(keyword.Length + 1)..];

    // ssh -G prints IdentityFile/CertificateFile before %-expansion (so %% shows) and
    // UserKnownHostsFile after it.
    private static string Unexpanded(string path) => path.Replace("%", "%%", StringComparison.Ordinal);

    [TestCaseSource(typeof(SshConfigGoldenTests), nameof(SshConfigGoldenTests.Variants))]
    public void Every_rendered_config_is_accepted_and_resolves_as_intended(SshConfigGoldenTests.Variant variant)
    {
        var ssh = OpenSshTools.Ssh;
        _ = ssh;
        var dir = OddDirectory();
        var (tbot, _) = FakeTbot();
        string[] clusters = ["tele.blackmesa.gov", "tele.aperture.labs"];
        var parameters = new SshConfigParameters(ProxyHost, variant.ProxyPort, dir, clusters,
            SshProxyCommand.ForTbot(tbot, dir, ProxyHost, variant.ProxyPort, variant.TlsRouting, variant.ConnectionUpgrade));
        var mainPath = Path.Combine(dir, SshConfigRenderer.FileName);
        var main = SshConfigRenderer.RenderSshConfig(parameters);
        File.WriteAllText(mainPath, main);

        foreach (var cluster in clusters)
        {
            var node = SshG(mainPath, "node." + cluster);
            var clusterPath = Path.Combine(dir, SshConfigRenderer.GetClusterFileName(cluster));
            var clusterConfig = SshConfigRenderer.RenderClusterSshConfig(parameters, cluster);
            File.WriteAllText(clusterPath, clusterConfig);
            var included = SshG(clusterPath, "node." + cluster);

            Assert.Multiple(() =>
            {
                Assert.That(node["port"], Is.EqualTo("3022"));
                Assert.That(node["proxycommand"], Is.EqualTo(ConfigLine(main.Split("# Flags for all " + cluster)[1], "ProxyCommand")));
                Assert.That(node["proxycommand"], Does.Contain($"--cluster='{cluster}'").And.Contain($"--proxy-server='{ProxyHost}:{variant.ProxyPort}'"));
                Assert.That(node["identityfile"], Is.EqualTo(Unexpanded(Path.Combine(dir, "key"))));
                Assert.That(node["certificatefile"], Is.EqualTo(Unexpanded(Path.Combine(dir, "key-cert.pub"))));
                Assert.That(node["userknownhostsfile"], Is.EqualTo(Path.Combine(dir, "known_hosts")));

                Assert.That(included["port"], Is.EqualTo("3022"));
                Assert.That(included["proxycommand"], Is.EqualTo(ConfigLine(clusterConfig, "ProxyCommand")));
                Assert.That(included["identityfile"], Is.EqualTo(Unexpanded(Path.Combine(dir, "key"))));
                Assert.That(included["certificatefile"], Is.EqualTo(Unexpanded(Path.Combine(dir, "key-cert.pub"))));
                Assert.That(included["userknownhostsfile"], Is.EqualTo(Path.Combine(dir, cluster + ".known_hosts")));
            });
        }

        // The proxy itself gets the identity but no ProxyCommand and keeps its own port.
        var proxy = SshG(mainPath, ProxyHost);
        Assert.That(proxy.ContainsKey("proxycommand"), Is.False);
        Assert.That(proxy["port"], Is.EqualTo("22"));
        Assert.That(proxy["identityfile"], Is.EqualTo(Unexpanded(Path.Combine(dir, "key"))));

        // A host of another domain is untouched.
        Assert.That(SshG(mainPath, "example.org").ContainsKey("proxycommand"), Is.False);
    }

    [Test]
    public void ProxyCommand_reaches_the_program_with_exact_arguments()
    {
        var dir = OddDirectory();
        var (tbot, argumentsFile) = FakeTbot();
        const string OddCluster = "under_score-1%x#y.example";
        string[] clusters = [OddCluster, "leaf.example"];
        var parameters = new SshConfigParameters(ProxyHost, 443, dir, clusters,
            SshProxyCommand.ForTbot(tbot, dir, ProxyHost, 443, tlsRouting: true, connectionUpgrade: false));
        var mainPath = Path.Combine(dir, SshConfigRenderer.FileName);
        File.WriteAllText(mainPath, SshConfigRenderer.RenderSshConfig(parameters));

        foreach (var cluster in clusters)
        {
            var clusterPath = Path.Combine(dir, SshConfigRenderer.GetClusterFileName(cluster));
            File.WriteAllText(clusterPath, SshConfigRenderer.RenderClusterSshConfig(parameters, cluster));
            foreach (var config in new[] { mainPath, clusterPath })
            {
                File.Delete(argumentsFile);
                var stderr = RunSshThroughProxyCommand(config, "node." + cluster);
                Assert.That(File.Exists(argumentsFile), Is.True, $"the ProxyCommand did not run for {config}: {stderr}");
                Assert.That(File.ReadAllLines(argumentsFile), Is.EqualTo(new[]
                {
                    "ssh-proxy-command",
                    "--destination-dir=" + dir,
                    "--proxy-server=" + ProxyHost + ":443",
                    "--cluster=" + cluster,
                    "--tls-routing",
                    "--no-connection-upgrade",
                    "--resume",
                    "--user=robot",
                    "--host=node." + cluster,
                    "--port=3022",
                }), config);

                // ssh -v logs the identity paths after %-expansion (backslashes doubled by its log escaping).
                var logged = stderr.Replace("\\\\", "\\", StringComparison.Ordinal);
                Assert.That(logged, Does.Contain("identity file " + Path.Combine(dir, "key") + " type"));
                Assert.That(logged, Does.Contain("certificate file " + Path.Combine(dir, "key-cert.pub") + " type"));
            }
        }
    }

    private static string RunSshThroughProxyCommand(string configPath, string host)
    {
        var info = new ProcessStartInfo(OpenSshTools.Ssh)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-v", "-F", configPath, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-l", "robot", host, "true" })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SHELL"] = "/bin/sh"; // ssh runs ProxyCommand with $SHELL -c
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("ssh did not finish");
        }

        // The stand-in exits at once, so ssh fails after running it; only the arguments matter.
        return stderr.GetAwaiter().GetResult();
    }

    [Test]
    public void Cluster_names_with_quotes_are_written_so_ssh_still_parses_the_file()
    {
        // ssh refuses such host names on its command line, but a config listing the cluster must
        // still parse for the other clusters, and its per-cluster file must parse too.
        var dir = OddDirectory();
        const string Quoted = "o'brien\"s.example";
        var parameters = new SshConfigParameters(ProxyHost, 3023, dir, [Quoted, "leaf.example"],
            SshProxyCommand.ForTbot("/usr/local/bin/tbot", dir, ProxyHost, 3023, tlsRouting: false, connectionUpgrade: false));
        var mainPath = Path.Combine(dir, SshConfigRenderer.FileName);
        var main = SshConfigRenderer.RenderSshConfig(parameters);
        File.WriteAllText(mainPath, main);
        Assert.That(main, Does.Contain("Host \"*.o'brien\\\"s.example\" proxy.example.com\n"));
        Assert.That(SshG(mainPath, "node.leaf.example")["proxycommand"], Does.Contain("--cluster='leaf.example'"));

        var clusterPath = Path.Combine(dir, SshConfigRenderer.GetClusterFileName(Quoted));
        File.WriteAllText(clusterPath, SshConfigRenderer.RenderClusterSshConfig(parameters, Quoted));
        var options = SshG(clusterPath, "node.example");
        Assert.That(options["proxycommand"], Does.Contain("--cluster='o'\"'\"'brien\"s.example'"));
        Assert.That(options["userknownhostsfile"], Is.EqualTo(Path.Combine(dir, Quoted + ".known_hosts")));
    }

    [Test]
    public void Rendered_known_hosts_lines_are_found_by_ssh_keygen()
    {
        var variant = SshConfigGoldenTests.Variants.First();
        var path = Path.Combine(_root.FullName, "known_hosts");
        File.WriteAllText(path, KnownHostsRenderer.RenderKnownHosts("tele.blackmesa.gov",
            SshConfigGoldenTests.HostCas(SshConfigGoldenTests.FixtureCaKey(variant))));

        var found = FormatsProcess.Run(OpenSshTools.SshKeygen, ["-F", "node.tele.aperture.labs", "-f", path]);
        Assert.That(found.ExitCode, Is.Zero, found.StandardError);
        Assert.That(found.StandardOutput, Does.Contain("found: line 3 CA").And.Contain("found: line 4 CA"));
        Assert.That(FormatsProcess.Run(OpenSshTools.SshKeygen, ["-F", "node.example.org", "-f", path]).ExitCode, Is.Not.Zero);
    }

    [Test]
    public void Real_login_with_rendered_identity_paths_and_known_hosts()
    {
        var sshKeygen = OpenSshTools.SshKeygen;
        var sshd = OpenSshTools.Sshd;
        var ssh = OpenSshTools.Ssh;
        const string Cluster = "tele.test";
        const string Proxy = "proxy.tele.test";
        var user = Environment.UserName;
        var keys = Path.Combine(_root.FullName, "keys");
        Directory.CreateDirectory(keys);
        var dest = OddDirectory();

        void Keygen(params string[] arguments)
        {
            var result = FormatsProcess.Run(sshKeygen, arguments);
            Assert.That(result.ExitCode, Is.Zero, result.StandardError);
        }

        // Host CA signs the server's host key for the names ssh will check; user CA signs our key,
        // which lives in the destination directory as tbot writes it (key, key-cert.pub).
        Keygen("-q", "-t", "ed25519", "-N", "", "-C", "host_ca", "-f", Path.Combine(keys, "host_ca"));
        Keygen("-q", "-t", "ed25519", "-N", "", "-C", "user_ca", "-f", Path.Combine(keys, "user_ca"));
        Keygen("-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", Path.Combine(keys, "host_key"));
        Keygen("-q", "-s", Path.Combine(keys, "host_ca"), "-I", "node", "-h", "-n", $"node.{Cluster},{Proxy}", "-V", "-5m:+1h", Path.Combine(keys, "host_key.pub"));
        Keygen("-q", "-t", "ecdsa", "-b", "256", "-N", "", "-C", "bot", "-f", Path.Combine(dest, "key"));
        Keygen("-q", "-s", Path.Combine(keys, "user_ca"), "-I", "bot-robot", "-n", user, "-V", "-5m:+1h", Path.Combine(dest, "key.pub"));
        Directory.CreateDirectory(Path.Combine(keys, "principals"));
        File.WriteAllText(Path.Combine(keys, "principals", user), user + "\n");

        var hostCa = File.ReadAllText(Path.Combine(keys, "host_ca.pub"));
        var cas = new[] { new ClusterHostCaKeys(Cluster, [hostCa]) };
        File.WriteAllText(Path.Combine(dest, KnownHostsRenderer.FileName), KnownHostsRenderer.RenderKnownHosts(Proxy, cas));
        File.WriteAllText(Path.Combine(dest, KnownHostsRenderer.GetClusterFileName(Cluster)), KnownHostsRenderer.RenderClusterKnownHosts(cas[0]));
        var parameters = new SshConfigParameters(Proxy, 443, dest, [Cluster],
            SshProxyCommand.ForTbot("/nonexistent/tbot", dest, Proxy, 443, tlsRouting: true, connectionUpgrade: false));
        var mainConfig = Path.Combine(dest, SshConfigRenderer.FileName);
        var clusterConfig = Path.Combine(dest, SshConfigRenderer.GetClusterFileName(Cluster));
        File.WriteAllText(mainConfig, SshConfigRenderer.RenderSshConfig(parameters));
        File.WriteAllText(clusterConfig, SshConfigRenderer.RenderClusterSshConfig(parameters, Cluster));

        using var server = SshdServer.Start(sshd, keys, user);

        string Login(string config, string host, string alias) =>
            RunSsh(ssh, ["-F", config, "-o", "ProxyCommand=none", "-o", "HostName=127.0.0.1", "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-o", "HostKeyAlias=" + alias, "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-l", user, host, "echo logged-in"]);

        // Main config + main known_hosts: the proxy block and the node block (ProxyCommand overridden
        // to dial sshd directly) take key, certificate and known_hosts from the quoted paths.
        Assert.That(Login(mainConfig, Proxy, Proxy), Is.EqualTo("logged-in"));
        Assert.That(Login(mainConfig, "node." + Cluster, "node." + Cluster), Is.EqualTo("logged-in"));
        // Per-cluster config + '@cert-authority *' known_hosts.
        Assert.That(Login(clusterConfig, "node." + Cluster, "node." + Cluster), Is.EqualTo("logged-in"));
        // A host outside the cluster's patterns is not trusted by the main known_hosts.
        Assert.That(Login(mainConfig, "node." + Cluster, "node.other.test"), Does.StartWith("failed:"));
    }

    private static string RunSsh(string ssh, string[] arguments)
    {
        var result = FormatsProcess.Run(ssh, arguments);
        return result.ExitCode == 0 ? result.StandardOutput.Trim() : "failed: " + result.StandardError.Trim();
    }

    /// <summary>A throwaway sshd on a free loopback port (toolchain-notes.md §5), killed on dispose.</summary>
    private sealed class SshdServer : IDisposable
    {
        private readonly Process _process;

        private SshdServer(Process process, int port)
        {
            _process = process;
            Port = port;
        }

        public int Port { get; }

        public static SshdServer Start(string sshd, string dir, string user)
        {
            if (Environment.UserName == "root")
            {
                Directory.CreateDirectory("/run/sshd");
            }

            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
            }

            var config = Path.Combine(dir, "sshd_config");
            File.WriteAllText(config, string.Join('\n',
                $"Port {port}",
                "ListenAddress 127.0.0.1",
                $"HostKey {dir}/host_key",
                $"HostCertificate {dir}/host_key-cert.pub",
                $"TrustedUserCAKeys {dir}/user_ca.pub",
                $"AuthorizedPrincipalsFile {dir}/principals/%u",
                "AuthorizedKeysFile none",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                user == "root" ? "PermitRootLogin prohibit-password" : "PermitRootLogin no",
                "StrictModes no",
                "UsePAM no",
                $"PidFile {dir}/sshd.pid",
                "LogLevel VERBOSE",
                ""));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Path.Combine(dir, "host_key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            var info = new ProcessStartInfo(sshd) { UseShellExecute = false, RedirectStandardError = true };
            foreach (var argument in new[] { "-D", "-e", "-f", config })
            {
                info.ArgumentList.Add(argument);
            }

            var process = Process.Start(info)!;
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var client = new TcpClient();
                    client.Connect(IPAddress.Loopback, port);
                    return new SshdServer(process, port);
                }
                catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10) && !process.HasExited)
                {
                    Thread.Sleep(20);
                }
                catch (SocketException)
                {
                    process.Kill();
                    process.Dispose();
                    Assert.Fail($"sshd did not start on port {port}");
                    throw;
                }
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }

            _process.Dispose();
        }
    }
}
