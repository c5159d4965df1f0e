using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.SshNet;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// The ssh-multiplexer end to end, judged by real OpenSSH: the library's multiplexer holds the
/// credentials in memory; <c>ssh -F &lt;mux&gt;/ssh_config</c> runs <c>tbot-dotnet ssh-multiplexer-proxy-command</c>,
/// which passes the connected <c>v1.sock</c> socket to ssh (<c>ProxyUseFDPass</c>); ssh authenticates with
/// the certificate from <c>agent.sock</c> and checks the host against the generated known_hosts. One
/// cluster, one sshd registered under twelve node names, one multiplexer for the whole fixture.
/// </summary>
[Category("EndToEnd")]
[NonParallelizable]
public sealed class SshMultiplexerEndToEndTests
{
    private static readonly string LocalHostname = Environment.MachineName;
    private static readonly string[] FleetNodes = [.. Enumerable.Range(2, 11).Select(i => "node" + i.ToString(CultureInfo.InvariantCulture))];

    private NodeEnvironment _env = null!;
    private TeleportSshCertificateSigner _signer = null!;
    private MultiplexerFixture _mux = null!;

    private string Socket => _mux.Service.SocketPath;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _env = await NodeEnvironment.StartAsync(extraNodeNames: FleetNodes);
        _signer = _env.CreateSigner();
        _mux = await MultiplexerFixture.StartAsync(_env, _signer);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_mux is not null)
        {
            await _mux.DisposeAsync();
        }

        if (_signer is not null)
        {
            await _signer.DisposeAsync();
        }

        if (_env is not null)
        {
            await _env.DisposeAsync();
        }
    }

    [Test]
    public async Task Ssh_through_the_multiplexer_runs_hostname_with_the_in_memory_agent_and_no_key_on_disk()
    {
        var result = await _env.SshAsync(_mux.Directory, _env.Login, _env.NodeHost, "hostname");

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{_env.Sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo(LocalHostname));
        Assert.That(await _env.Sshd.LogOnceItContainsAsync("Accepted certificate ID \"bot-robot\""), Does.Contain("Accepted certificate ID \"bot-robot\""));
        Assert.That(Directory.GetFileSystemEntries(_mux.Directory).Select(Path.GetFileName),
            Is.SupersetOf(new[] { "ssh_config", "known_hosts", "v1.sock", "agent.sock" }));
        Assert.That(Directory.GetFileSystemEntries(_mux.Directory).Select(Path.GetFileName), Has.None.EqualTo("key").And.None.EqualTo("identity"));
        MultiplexerFixture.AssertNoPrivateKeyIn(_mux.Directory);
    }

    [Test]
    public async Task Scp_and_sftp_copy_files_through_the_multiplexer()
    {
        using var work = new SshTestDirectory("tmid-mux-copy");
        var payload = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i} through the multiplexer\n"));
        var local = work.Write("payload.txt", payload);
        var remote = Path.Combine(work.Path, "remote-copy.txt");
        string[] common = ["-F", _mux.SshConfig, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null"];

        var scp = await SshToolRunner.RunAsync(OpenSshTools.Scp, [.. common, local, $"{_env.Login}@{_env.NodeHost}:{remote}"]);
        var batch = work.Write("batch", $"get {remote} {Path.Combine(work.Path, "fetched.txt")}\n");
        var sftp = await SshToolRunner.RunAsync(OpenSshTools.Sftp, [.. common, "-b", batch, $"{_env.Login}@node7.{_env.Cluster.ClusterName}"]);

        Assert.That(scp.ExitCode, Is.Zero, scp.ToString());
        Assert.That(File.ReadAllText(remote), Is.EqualTo(payload));
        Assert.That(sftp.ExitCode, Is.Zero, sftp.ToString());
        Assert.That(File.ReadAllText(Path.Combine(work.Path, "fetched.txt")), Is.EqualTo(payload));
    }

    [Test]
    public async Task Ansible_ping_and_command_reach_twelve_node_names_with_six_forks()
    {
        var ansible = OpenSshTools.Ansible;
        using var work = new SshTestDirectory("tmid-mux-ansible");
        var hosts = new[] { NodeEnvironment.NodeName }.Concat(FleetNodes).Select(n => $"{n}.{_env.Cluster.ClusterName} ansible_user={_env.Login}");
        var inventory = work.Write("hosts", "[fleet]\n" + string.Join('\n', hosts) + "\n");
        var sshArgs = $"-F {_mux.SshConfig} -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null";
        var before = _env.Sshd.Log.Split("Accepted certificate ID").Length - 1;

        var ping = await AnsibleRunner.RunAsync(ansible, work.Path, ["all", "-i", inventory, "-f", "6", "-m", "ping"], sshArgs, pipelining: true);
        var command = await AnsibleRunner.RunAsync(ansible, work.Path, ["all", "-i", inventory, "-f", "6", "-m", "command", "-a", "hostname"], sshArgs, pipelining: true);

        Assert.That(ping.ExitCode, Is.Zero, ping.ToString());
        Assert.That(command.ExitCode, Is.Zero, command.ToString());
        foreach (var node in new[] { NodeEnvironment.NodeName }.Concat(FleetNodes))
        {
            var host = $"{node}.{_env.Cluster.ClusterName}";
            Assert.That(ping.StandardOutput, Does.Contain($"{host} | SUCCESS"), host);
            Assert.That(command.StandardOutput, Does.Contain($"{host} | CHANGED | rc=0 >>\n{LocalHostname}"), host);
        }

        Assert.That(_env.Sshd.Log.Split("Accepted certificate ID").Length - 1 - before, Is.GreaterThanOrEqualTo(24), "every host logged in through the multiplexer at least twice");
    }

    [Test]
    public async Task Ssh_add_lists_the_certificate_and_the_bare_key_held_in_memory()
    {
        var current = _mux.Service.Current!;

        var fingerprints = await RunSshAddAsync("-l");
        var keys = await RunSshAddAsync("-L");

        Assert.That(fingerprints.ExitCode, Is.Zero, fingerprints.ToString());
        Assert.That(keys.ExitCode, Is.Zero, keys.ToString());
        var lines = keys.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(2));
        Assert.That(lines[0], Does.StartWith(current.SshCertificate.ToAuthorizedKey()), "the certificate first");
        Assert.That(lines[1], Does.StartWith(current.SshCertificate.PublicKey.ToAuthorizedKey()), "then the bare key (older clients)");
        var fingerprintLines = fingerprints.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(fingerprintLines, Has.Length.EqualTo(2));
        Assert.That(fingerprintLines, Has.All.Contain(current.SshCertificate.PublicKey.Sha256Fingerprint));
        Assert.That(fingerprintLines[0], Does.Contain("CERT"));
    }

    [Test]
    public async Task Ssh_add_cannot_add_or_remove_keys_the_agent_is_read_only()
    {
        using var work = new SshTestDirectory("tmid-mux-agent");
        var keygen = await SshToolRunner.RunAsync(OpenSshTools.SshKeygen, ["-q", "-t", "ed25519", "-N", "", "-f", work.File("other")]);
        Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());

        var add = await RunSshAddAsync(work.File("other"));
        var removeAll = await RunSshAddAsync("-D");
        var keys = await RunSshAddAsync("-L");

        Assert.That(add.ExitCode, Is.Not.Zero, add.ToString());
        Assert.That(removeAll.ExitCode, Is.Not.Zero, removeAll.ToString());
        Assert.That(keys.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
    }

    [Test]
    public async Task An_independent_python_client_of_the_v1_sock_protocol_runs_ssh_over_the_socket()
    {
        var python = OpenSshTools.Python3;
        var client = Path.Combine(AppContext.BaseDirectory, "TestData", "Multiplexer", "v1sock_client.py");
        var proxyCommand = $"{python} {client} relay {Socket} '%h:%p|{_env.Cluster.ClusterName}'";

        var result = await SshToolRunner.RunAsync(OpenSshTools.Ssh,
        [
            "-F", _mux.SshConfig, "-o", "ProxyCommand=" + proxyCommand, "-o", "ProxyUseFDPass=no",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
            $"{_env.Login}@node3.{_env.Cluster.ClusterName}", "echo", "over-python",
        ]);

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{_env.Sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo("over-python"));
    }

    [Test]
    public async Task A_raw_socket_client_reaches_the_node_and_bytes_after_the_nul_are_forwarded()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(Socket));

        // The request and the client's SSH banner in one write: the multiplexer must forward what follows the NUL.
        await socket.SendAsync(Encoding.UTF8.GetBytes($"{NodeEnvironment.NodeName}:3022\0SSH-2.0-RawTestClient\r\n"), SocketFlags.None);
        var banner = await ReadLineAsync(socket);
        var reply = await ReadLineAsync(socket, skipEmpty: true);

        Assert.That(banner, Does.StartWith("SSH-2.0-OpenSSH"));
        Assert.That(reply, Is.Not.Empty, "sshd answered the forwarded banner with its key exchange");
    }

    [TestCase("a:1|b|c", "expected at most 2 fields, got 3")]
    [TestCase("node1", "missing port in address")]
    [TestCase(":3022", "empty hostname")]
    [TestCase("node1:70000", "invalid port")]
    [TestCase("node1:3022|", "empty cluster name")]
    [TestCase("no-such-node:3022", "no-such-node")]
    public async Task A_malformed_or_unreachable_target_gets_an_error_on_the_passed_stderr_and_a_closed_socket(string target, string expected)
    {
        var probe = await ProbeAsync(Encoding.UTF8.GetBytes(target + "\0"));

        Assert.That(probe.Closed, Is.True, "the multiplexer closed the socket");
        Assert.That(probe.Received, Is.Empty, "nothing but the node's bytes is ever sent");
        Assert.That(probe.Stderr, Does.Contain(expected));
        await AssertStillServesAsync();
    }

    [Test]
    public async Task Invalid_utf8_and_over_long_requests_are_refused_without_reading_forever()
    {
        var notUtf8 = await ProbeAsync([0xff, 0xfe, (byte)':', (byte)'1', 0]);
        var tooLong = await ProbeAsync(Encoding.UTF8.GetBytes(new string('a', SshMultiplexerTarget.MaxRequestLength + 10)));

        Assert.That(notUtf8.Closed, Is.True);
        Assert.That(notUtf8.Stderr, Does.Contain("not UTF-8"));
        Assert.That(tooLong.Closed, Is.True);
        Assert.That(tooLong.Stderr, Does.Contain("no NUL within"));
        await AssertStillServesAsync();
    }

    [Test]
    public async Task The_dotnet_client_api_opens_a_stream_to_the_node_and_reports_dial_errors()
    {
        await using (var stream = await SshMultiplexerClient.ConnectAsync(Socket, new SshMultiplexerTarget("node5." + _env.Cluster.ClusterName, 3022)))
        {
            var buffer = new byte[64];
            var read = await stream.ReadAtLeastAsync(buffer, 8);
            Assert.That(Encoding.ASCII.GetString(buffer, 0, read), Does.StartWith("SSH-2.0-OpenSSH"));
        }

        var ex = Assert.ThrowsAsync<TeleportConnectionException>(() =>
            SshMultiplexerClient.ConnectAsync(Socket, new SshMultiplexerTarget("no-such-node", 3022, _env.Cluster.ClusterName)));
        Assert.That(ex!.Message, Does.Contain("no-such-node"));
    }

    [Test]
    public async Task Ssh_net_logs_in_through_the_multiplexer_with_the_agent_and_checks_the_host_certificate()
    {
        using var client = await TeleportSshClientFactory.ConnectThroughMultiplexerAsync(_mux.Directory, _env.Login, "node9." + _env.Cluster.ClusterName);
        using var command = client.RunCommand("hostname");

        Assert.That(command.ExitStatus, Is.Zero, command.Error);
        Assert.That(command.Result.Trim(), Is.EqualTo(LocalHostname));
        Assert.That(client.ConnectionInfo.CurrentHostKeyAlgorithm, Does.EndWith("-cert-v01@openssh.com"));
    }

    [Test]
    public async Task Ssh_net_refuses_a_node_whose_host_certificate_does_not_name_it()
    {
        // The sshd's certificate names node1…node12; "unlisted" is registered at the same address.
        _env.Cluster.AddNode(new Testing.EmulatorNode { Name = "unlisted", Address = "127.0.0.1:" + _env.Sshd.Port.ToString(CultureInfo.InvariantCulture) });

        var ex = Assert.ThrowsAsync<CertificateValidationException>(() =>
            TeleportSshClientFactory.ConnectThroughMultiplexerAsync(_mux.Directory, _env.Login, "unlisted." + _env.Cluster.ClusterName));

        Assert.That(ex!.Failure, Is.EqualTo(CertificateValidationFailure.PrincipalNotAllowed));
    }

    private async Task AssertStillServesAsync()
    {
        var result = await _env.SshAsync(_mux.Directory, _env.Login, _env.NodeHost, "true");
        Assert.That(result.ExitCode, Is.Zero, "the multiplexer still serves: " + result);
    }

    private Task<ToolResult> RunSshAddAsync(params string[] arguments)
    {
        var info = new System.Diagnostics.ProcessStartInfo(OpenSshTools.SshAdd)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["SSH_AUTH_SOCK"] = _mux.Service.AgentSocketPath;
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return RunAsync(info);
    }

    private static async Task<ToolResult> RunAsync(System.Diagnostics.ProcessStartInfo info)
    {
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }

    private async Task<(bool Closed, string Received, string Stderr)> ProbeAsync(byte[] request)
    {
        var python = OpenSshTools.Python3;
        var client = Path.Combine(AppContext.BaseDirectory, "TestData", "Multiplexer", "v1sock_client.py");
        var result = await SshToolRunner.RunAsync(python, [client, "probe", Socket, Convert.ToHexString(request)]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.StandardOutput);
        var root = json.RootElement;
        return (root.GetProperty("closed").GetBoolean(), root.GetProperty("received").GetString()!, root.GetProperty("stderr").GetString() ?? string.Empty);
    }

    private static async Task<string> ReadLineAsync(Socket socket, bool skipEmpty = false)
    {
        var line = new List<byte>();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, timeout.Token) == 0)
            {
                break;
            }

            if (one[0] == '\n' && !(skipEmpty && line.Count == 0))
            {
                break;
            }

            line.Add(one[0]);
            if (skipEmpty && line.Count >= 16)
            {
                break;
            }
        }

        return Encoding.Latin1.GetString(line.ToArray()).TrimEnd('\r');
    }
}
