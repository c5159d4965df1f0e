using System.Text.RegularExpressions;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// Issue 13, defects 3 and 4: every mistake a user can make on the command line ends with the
/// documented exit code (2 usage/configuration, 3 refused, 5 destination/storage) and exactly one
/// error line that names the flag, key or file to fix — no .NET type names, no SDK option names,
/// no "(Parameter 'path')" — and an input too large for its limit is refused at once, before
/// anything is sent (the built apphost, separate processes).
/// </summary>
[Parallelizable(ParallelScope.None)]
public sealed partial class CliUserErrorTests
{
    private static readonly string[] SdkWords =
    [
        "Exception", "(Parameter", "TokenFile", "TokenEnvironmentVariable", "RenewalInterval", "CredentialTtl", "ProxyServer", "StoragePath", "ProxyCaBundlePath",
    ];

    private TempDirectory _work = null!;
    private string _unreachableProxy = null!;

    [SetUp]
    public void SetUp()
    {
        _work = new TempDirectory("tmid-cli-errors-");
        _unreachableProxy = $"127.0.0.1:{FreePort()}";
    }

    [TearDown]
    public void TearDown() => _work.Dispose();

    [Test]
    public async Task No_token_and_memory_storage_is_a_usage_error_naming_token()
    {
        var result = await StartIdentityAsync("--destination", _work.Combine("out"));

        AssertOneError(result, ExitCodes2.Usage, "--token");
    }

    [Test]
    public async Task No_token_and_no_stored_identity_is_a_usage_error_naming_token()
    {
        var result = await StartIdentityAsync("--destination", _work.Combine("out"), "--storage", _work.Combine("storage"));

        AssertOneError(result, ExitCodes2.Usage, "--token", _work.Combine("storage"));
    }

    [Test]
    public async Task An_address_that_is_not_one_is_a_usage_error_naming_the_flag()
    {
        var result = await CliProcess.RunAsync(["start", "identity", "--proxy-server", ":::", "--token", "t", "--destination", _work.Combine("out"), "--oneshot"]);

        AssertOneError(result, ExitCodes2.Usage, "--proxy-server", "':::'");
    }

    [Test]
    public async Task A_missing_CA_bundle_is_a_usage_error_naming_the_flag_and_file()
    {
        var result = await StartIdentityAsync("--token", "t", "--ca-bundle", "/missing.pem", "--destination", _work.Combine("out"));

        AssertOneError(result, ExitCodes2.Usage, "--ca-bundle", "/missing.pem");
    }

    [Test]
    public async Task A_directory_given_as_the_token_file_is_a_usage_error()
    {
        var result = await StartIdentityAsync("--token", _work.Path, "--destination", _work.Combine("out"));

        AssertOneError(result, ExitCodes2.Usage, "--token", "is a directory");
    }

    [Test]
    public async Task An_empty_token_file_is_a_usage_error()
    {
        var token = _work.Combine("token");
        await File.WriteAllTextAsync(token, "\n");

        var result = await StartIdentityAsync("--token", token, "--destination", _work.Combine("out"));

        AssertOneError(result, ExitCodes2.Usage, "--token", "empty");
    }

    [Test]
    public async Task An_empty_destination_is_a_usage_error_without_parameter_names()
    {
        var result = await StartIdentityAsync("--token", "t", "--destination", "");

        AssertOneError(result, ExitCodes2.Usage, "--destination");
    }

    [Test]
    public async Task A_renewal_interval_longer_than_the_TTL_names_both_flags()
    {
        var result = await StartIdentityAsync("--token", "t", "--destination", _work.Combine("out"), "--credential-ttl", "10m", "--renewal-interval", "2h");

        AssertOneError(result, ExitCodes2.Usage, "--renewal-interval", "--credential-ttl");
    }

    [TestCase("ssh-proxy-command", "--destination-dir=/tmp", "--proxy-server=localhost:3080", "--cluster=c", "--user=root", "--host=node1", "--port=999999")]
    [TestCase("ssh", "-i", "/tmp/identity", "--proxy", "localhost:3080", "-p", "70000", "root@node1", "hostname")]
    public async Task A_port_out_of_range_is_a_usage_error_naming_the_flag(params string[] arguments)
    {
        var result = await CliProcess.RunAsync(arguments);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes2.Usage), result.ToString());
        Assert.That(result.StandardError, Does.Contain("--port").And.Contain("is not a TCP port"));
    }

    [Test]
    public async Task Roles_the_cluster_does_not_have_are_a_refusal_naming_roles()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        var webCa = _work.Combine("web-ca.pem");
        await File.WriteAllTextAsync(webCa, cluster.WebCaCertificatePem);

        var result = await CliProcess.RunAsync(
        [
            "start", "identity", "--proxy-server", cluster.ProxyAddress, "--ca-bundle", webCa, "--token", cluster.CreateJoinToken("robot").Name,
            "--destination", _work.Combine("out"), "--oneshot", "--roles", "nosuchrole",
        ]);

        AssertOneError(result, ExitCodes2.Refused, "--roles", "nosuchrole");
    }

    // Defect 3: inputs over their limit are refused at once, by name, before anything is sent (the
    // proxy is unreachable: trying to join would be exit code 4).
    [Test]
    [Platform("Linux")]
    public async Task Dev_zero_as_the_token_is_refused_at_once()
    {
        var result = await StartIdentityAsync("--token", "/dev/zero", "--destination", _work.Combine("out"));

        AssertOneError(result, ExitCodes2.Usage, "--token", "/dev/zero", "64 KiB");
    }

    [Test]
    public async Task A_50_MB_token_file_is_refused_before_it_is_sent()
    {
        var token = _work.Combine("token");
        await using (var file = File.Create(token))
        {
            file.SetLength(50L * 1024 * 1024);
        }

        var result = await StartIdentityAsync("--token", token, "--destination", _work.Combine("out"));

        AssertOneError(result, ExitCodes2.Usage, "--token", token, "larger than 64 KiB");
    }

    [Test]
    [Platform("Linux")]
    public async Task Dev_zero_as_the_configuration_is_refused_at_once()
    {
        var result = await CliProcess.RunAsync(["start", "-c", "/dev/zero"]);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes2.Usage), result.ToString());
        Assert.That(result.StandardError, Does.Contain("/dev/zero").And.Contain("larger than 1 MiB"));
        Assert.That(Regex.Matches(result.StandardError, "larger than"), Has.Count.EqualTo(1), "said once");
    }

    [Test]
    [Platform("Linux")]
    public async Task Dev_zero_as_the_identity_file_is_refused_at_once()
    {
        var result = await CliProcess.RunAsync(["ssh", "-i", "/dev/zero", "--proxy", _unreachableProxy, "root@node1", "hostname"]);

        AssertOneError(result, ExitCodes2.Usage, "-i", "/dev/zero", "1 MiB");
    }

    [Test]
    public async Task A_directory_as_the_configuration_is_a_usage_error_naming_it()
    {
        var result = await CliProcess.RunAsync(["start", "-c", _work.Path]);

        AssertOneError(result, ExitCodes2.Usage, "-c", _work.Path, "is a directory");
    }

    [Test]
    public async Task Each_tbot_yaml_problem_is_printed_once()
    {
        var config = _work.Combine("tbot.yaml");
        await File.WriteAllTextAsync(config, "version: v2\nproxy_server: teleport.example.com:443\nservcies: []\ncredential_ttl: 5x\n");

        var result = await CliProcess.RunAsync(["start", "-c", config]);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes2.Usage), result.ToString());
        Assert.That(Regex.Matches(result.StandardError, "unknown key 'servcies'"), Has.Count.EqualTo(1), result.StandardError);
        Assert.That(Regex.Matches(result.StandardError, "'5x' is not a duration"), Has.Count.EqualTo(1), result.StandardError);
    }

    // Defect 5: the storage holds the long-lived identity; a path through a link is refused (exit 5).
    [Test]
    public async Task A_storage_path_through_a_symbolic_link_is_refused()
    {
        var real = Directory.CreateDirectory(_work.Combine("real")).FullName;
        var link = _work.Combine("link");
        File.CreateSymbolicLink(link, real);

        var result = await StartIdentityAsync("--token", "t", "--storage", link, "--destination", _work.Combine("out"));

        AssertOneError(result, ExitCodes2.Destination, "--storage", "symbolic link");
    }

    // Defect 5: a newline in --host was logged raw, so a host name could forge log lines.
    [Test]
    public async Task A_host_with_a_line_break_is_refused_and_cannot_forge_a_log_line()
    {
        var result = await CliProcess.RunAsync(
            ["ssh-proxy-command", "--destination-dir=/tmp", "--proxy-server=localhost:3080", "--cluster=c", "--user=root", "--host=node1\n01:00:00.000 ERROR [tbot-dotnet] forged", "--port=22"]);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes2.Usage), result.ToString());
        Assert.That(result.StandardError, Does.Contain("--host contains control characters"));
        Assert.That(result.StandardError.Split('\n'), Has.None.StartsWith("01:00:00.000"), "no forged line");
    }

    [Test]
    public void Logged_values_cannot_start_a_line_or_drive_the_terminal()
    {
        var line = Teleport.MachineId.Cli.StderrLoggerProvider.Neutralize("dial node1\n01:00:00.000 ERROR [x] forged\r\u001b[2J");

        Assert.That(line.Split('\n').Skip(1), Has.All.StartsWith("  "), "continuation lines are indented");
        Assert.That(line.IndexOfAny(['\r', '\u001b']), Is.EqualTo(-1), "no raw carriage return or escape");
        Assert.That(line, Does.Contain("\\x0d").And.Contain("\\x1b"));
    }

    private Task<ToolResult> StartIdentityAsync(params string[] arguments) =>
        CliProcess.RunAsync(["start", "identity", "--proxy-server", _unreachableProxy, "--oneshot", .. arguments]);

    private static void AssertOneError(ToolResult result, int exitCode, params string[] mentions)
    {
        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
        var errors = result.StandardError.Split('\n').Where(l => l.Contains(" ERROR ", StringComparison.Ordinal)).ToList();
        Assert.That(errors, Has.Count.EqualTo(1), "exactly one error line:\n" + result.StandardError);
        Assert.That(result.StandardError.Split('\n').Where(l => l.Contains(" WARN ", StringComparison.Ordinal)), Is.Empty, "no warnings:\n" + result.StandardError);
        foreach (var mention in mentions)
        {
            Assert.That(errors[0], Does.Contain(mention));
        }

        foreach (var word in SdkWords)
        {
            Assert.That(errors[0], Does.Not.Contain(word));
        }
    }

    private static int FreePort() => Infrastructure.LoopbackPorts.Reserve();

    /// <summary>The documented exit codes (README), written out so the test checks the documentation, not the code.</summary>
    private static class ExitCodes2
    {
        public const int Usage = 2;
        public const int Refused = 3;
        public const int Destination = 5;
    }
}
