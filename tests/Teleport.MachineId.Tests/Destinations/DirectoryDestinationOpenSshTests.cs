using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Destinations;

/// <summary>
/// Real OpenSSH judges the directory layout: <c>ssh -i &lt;dir&gt;/key -o CertificateFile=&lt;dir&gt;/key-cert.pub</c>
/// must log in to a real sshd through the destination's links, before and after a renewal, and
/// ssh-keygen's 0600 check must pass through them.
/// </summary>
[UnsupportedOSPlatform("windows")]
public class DirectoryDestinationOpenSshTests
{
    private TempDirectory _temp = null!;
    private Process? _sshd;
    private StringBuilder _sshdLog = new();

    [SetUp]
    public void SetUp() => _temp = new TempDirectory("tmid-dest-ssh-");

    [TearDown]
    public void TearDown()
    {
        if (_sshd is { HasExited: false })
        {
            _sshd.Kill();
            _sshd.WaitForExit();
        }

        _sshd?.Dispose();
        _temp?.Dispose();
    }

    [Test]
    public async Task Ssh_LogsInThroughTheDestinationsLinks_BeforeAndAfterARenewal()
    {
        var keygen = OpenSshTools.SshKeygen;
        var ssh = OpenSshTools.Ssh;
        var sshd = OpenSshTools.Sshd;

        var ca = _temp.Combine("ca");
        Directory.CreateDirectory(ca);
        Keygen(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "user_ca", "-f", Path.Combine(ca, "user_ca"));
        Keygen(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "host_ca", "-f", Path.Combine(ca, "host_ca"));
        Keygen(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", Path.Combine(ca, "host_key"));
        Keygen(keygen, "-q", "-s", Path.Combine(ca, "host_ca"), "-I", "test-host", "-h", "-n", "127.0.0.1,localhost", "-V", "-5m:+1h",
            Path.Combine(ca, "host_key.pub"));
        Directory.CreateDirectory(Path.Combine(ca, "principals"));
        await File.WriteAllTextAsync(Path.Combine(ca, "principals", "root"), "root\n");

        var port = StartSshd(sshd, ca);
        var hostCa = (await File.ReadAllTextAsync(Path.Combine(ca, "host_ca.pub"))).Trim();
        var knownHosts = $"@cert-authority 127.0.0.1,[127.0.0.1]:{port} {hostCa}\n";

        var output = _temp.Combine("out");
        var destination = new DirectoryDestination(new DirectoryDestinationOptions { Path = output });

        for (var renewal = 1; renewal <= 2; renewal++)
        {
            var set = IssueUserCredentials(keygen, ca, $"bot-{renewal}").SetItem("known_hosts", knownHosts);
            await destination.VerifyWritableAsync();
            await destination.WriteAsync(set);

            // ssh-keygen refuses keys readable by others; the check applies to the link target.
            var derived = ProcessRunner.Run(keygen, "-y", "-f", Path.Combine(output, "key"));
            Assert.That(derived.ExitCode, Is.Zero, derived.StandardError);
            Assert.That(derived.StandardOutput.Split(' ')[..2], Is.EqualTo(Encoding.UTF8.GetString(set["key.pub"].Span).Split(' ')[..2]));

            var login = ProcessRunner.Run(
                ssh,
                "-F", "/dev/null",
                "-i", Path.Combine(output, "key"),
                "-o", "CertificateFile=" + Path.Combine(output, "key-cert.pub"),
                "-o", "IdentitiesOnly=yes",
                "-o", "UserKnownHostsFile=" + Path.Combine(output, "known_hosts"),
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes",
                "-o", "PasswordAuthentication=no",
                "-o", "KbdInteractiveAuthentication=no",
                "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "root@127.0.0.1",
                "echo", $"logged-in-{renewal}");

            Assert.That(login.ExitCode, Is.Zero, $"ssh failed: {login.StandardError}\nsshd: {SshdLog()}");
            Assert.That(login.StandardOutput.Trim(), Is.EqualTo($"logged-in-{renewal}"));
            Assert.That(SshdLog(), Does.Contain($"ID \"bot-{renewal}\""), "the certificate of this renewal was the one used");
        }
    }

    private static void Keygen(string keygen, params string[] arguments)
    {
        var result = ProcessRunner.Run(keygen, arguments);
        Assert.That(result.ExitCode, Is.Zero, result.StandardError);
    }

    private DestinationArtifacts IssueUserCredentials(string keygen, string ca, string keyId)
    {
        var work = Path.Combine(_temp.Path, keyId);
        Directory.CreateDirectory(work);
        var key = Path.Combine(work, "key");
        Keygen(keygen, "-q", "-t", "ed25519", "-N", "", "-C", keyId, "-f", key);
        Keygen(keygen, "-q", "-s", Path.Combine(ca, "user_ca"), "-I", keyId, "-n", "root", "-V", "-5m:+1h", key + ".pub");
        return DestinationArtifacts.Empty
            .SetItem("key", File.ReadAllBytes(key))
            .SetItem("key.pub", File.ReadAllBytes(key + ".pub"))
            .SetItem("key-cert.pub", File.ReadAllBytes(key + "-cert.pub"));
    }

    private int StartSshd(string sshd, string ca)
    {
        Directory.CreateDirectory("/run/sshd");
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var config = Path.Combine(ca, "sshd_config");
        File.WriteAllText(config, $"""
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {ca}/host_key
            HostCertificate {ca}/host_key-cert.pub
            TrustedUserCAKeys {ca}/user_ca.pub
            AuthorizedPrincipalsFile {ca}/principals/%u
            AuthorizedKeysFile none
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no
            PidFile {ca}/sshd.pid
            LogLevel VERBOSE

            """);

        var startInfo = new ProcessStartInfo(sshd) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-D", "-e", "-f", config })
        {
            startInfo.ArgumentList.Add(argument);
        }

        _sshdLog = new StringBuilder();
        _sshd = Process.Start(startInfo)!;
        _sshd.ErrorDataReceived += (_, e) =>
        {
            lock (_sshdLog)
            {
                _sshdLog.AppendLine(e.Data);
            }
        };
        _sshd.BeginErrorReadLine();

        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                return port;
            }
            catch (SocketException) when (waited.Elapsed < TimeSpan.FromSeconds(15) && !_sshd.HasExited)
            {
                Thread.Sleep(20);
            }
            catch (SocketException)
            {
                Assert.Fail($"sshd did not start listening on {port}: {SshdLog()}");
            }
        }
    }

    private string SshdLog()
    {
        lock (_sshdLog)
        {
            return _sshdLog.ToString();
        }
    }
}
