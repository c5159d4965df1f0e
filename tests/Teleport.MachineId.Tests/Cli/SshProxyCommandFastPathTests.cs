using Teleport.MachineId.Cli;
using Teleport.MachineId.Cli.Commands;
using Teleport.MachineId.Outputs.Ssh;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// The ProxyCommand's fast path (no System.CommandLine): it accepts exactly the command lines
/// ssh_config holds and reads them as System.CommandLine does; everything else falls back, so help,
/// messages and exit codes stay System.CommandLine's.
/// </summary>
public sealed class SshProxyCommandFastPathTests
{
    // What IdentityOutputService writes into ssh_config, after ssh expanded %r, %h and %p.
    private static readonly string[] GeneratedLine =
    [
        "ssh-proxy-command", "--destination-dir=/opt/machine-id", "--proxy-server=proxy.example.com:443", "--cluster=example.com",
        "--tls-routing", "--no-connection-upgrade", "--no-resume", "--user=root", "--host=node1.example.com", "--port=3022",
    ];

    private static IEnumerable<TestCaseData> AcceptedLines()
    {
        yield return new TestCaseData((object)GeneratedLine).SetName("generated ssh_config line");
        yield return new TestCaseData((object)new[]
        {
            "ssh-proxy-command", "--destination-dir", "/opt/machine-id", "--proxy-server", "proxy.example.com:3023", "--cluster", "example.com",
            "--no-tls-routing", "--connection-upgrade", "--resume", "--user", "ops", "--host", "node1", "--port", "22", "--debug",
        }).SetName("space-separated values, tbot's other transport flags, --debug");
        yield return new TestCaseData((object)new[]
        {
            "ssh-proxy-command", "-d", "--host=node1", "--proxy-server=[::1]:3080", "--destination-dir=/a b/c=d",
        }).SetName("any order, default port, no cluster, -d, '=' in a value");
    }

    private static IEnumerable<TestCaseData> FallbackLines()
    {
        string[] Without(string flag) => [.. GeneratedLine.Where(a => !a.StartsWith(flag, StringComparison.Ordinal))];
        yield return new TestCaseData((object)new[] { "ssh-proxy-command", "--help" }).SetName("help");
        yield return new TestCaseData((object)new[] { "start", "identity" }).SetName("another command");
        yield return new TestCaseData((object)Array.Empty<string>()).SetName("no arguments");
        yield return new TestCaseData((object)Without("--destination-dir")).SetName("missing --destination-dir");
        yield return new TestCaseData((object)Without("--proxy-server")).SetName("missing --proxy-server");
        yield return new TestCaseData((object)Without("--host")).SetName("missing --host");
        yield return new TestCaseData((object)GeneratedLine.Append("--bogus").ToArray()).SetName("unknown flag");
        yield return new TestCaseData((object)GeneratedLine.Append("extra").ToArray()).SetName("stray argument");
        yield return new TestCaseData((object)GeneratedLine.Append("--host=other").ToArray()).SetName("repeated flag");
        yield return new TestCaseData((object)GeneratedLine.Append("--debug").Append("-d").ToArray()).SetName("repeated --debug");
        yield return new TestCaseData((object)GeneratedLine.Select(a => a == "--port=3022" ? "--port=%p" : a).ToArray()).SetName("port not a number");
        yield return new TestCaseData((object)GeneratedLine.Select(a => a == "--port=3022" ? "--port=-1" : a).ToArray()).SetName("negative port");
        yield return new TestCaseData((object)GeneratedLine.Select(a => a == "--no-resume" ? "--no-resume=true" : a).ToArray()).SetName("value on a transport flag");
        yield return new TestCaseData((object)GeneratedLine.Append("--resume").Append("false").ToArray()).SetName("separate value on a transport flag");
        yield return new TestCaseData((object)GeneratedLine.Select(a => a == "--cluster=example.com" ? "--cluster=" : a).ToArray()).SetName("empty value");
        yield return new TestCaseData((object)new[] { "ssh-proxy-command", "--destination-dir=/d", "--proxy-server=p:1", "--host" }).SetName("flag without value");
        yield return new TestCaseData((object)new[] { "ssh-proxy-command", "--destination-dir=/d", "--proxy-server", "--host=h" }).SetName("flag followed by a flag");
        yield return new TestCaseData((object)new[] { "ssh-proxy-command", "--destination-dir:/d", "--proxy-server=p:1", "--host=h" }).SetName("colon delimiter");
        yield return new TestCaseData((object)new[] { "ssh-proxy-command", "@args.rsp" }).SetName("response file");
        yield return new TestCaseData((object)GeneratedLine.Append("--connection-upgrade").ToArray()).SetName("--connection-upgrade and --no-connection-upgrade");
    }

    [TestCaseSource(nameof(AcceptedLines))]
    public void Accepted_lines_read_the_same_values_as_System_CommandLine(string[] args)
    {
        var accepted = SshProxyCommandLine.TryParse(args, out var request, out var debug);
        var parsed = TbotDotnet.CreateRootCommand(TimeProvider.System).Parse(args);

        Assert.That(accepted, Is.True);
        Assert.That(parsed.Errors, Is.Empty, "System.CommandLine accepts the same line");
        var expected = new SshProxyCommandRequest(
            parsed.GetValue<string>("--destination-dir")!, parsed.GetValue<string>("--proxy-server")!, parsed.GetValue<string?>("--cluster"),
            parsed.GetValue<string>("--host")!, parsed.GetValue<int>("--port"))
        {
            ConnectionUpgrade = SshProxyCommandLine.UpgradePolicy(parsed.GetValue<bool>("--connection-upgrade"), parsed.GetValue<bool>("--no-connection-upgrade"))!.Value,
        };
        Assert.That(request, Is.EqualTo(expected));
        Assert.That(debug, Is.EqualTo(parsed.GetValue<bool>("--debug")));
    }

    [Test]
    public void The_generated_line_is_read_exactly()
    {
        Assert.That(SshProxyCommandLine.TryParse(GeneratedLine, out var request, out var debug), Is.True);
        Assert.That(request, Is.EqualTo(new SshProxyCommandRequest("/opt/machine-id", "proxy.example.com:443", "example.com", "node1.example.com", 3022)
        {
            ConnectionUpgrade = AlpnUpgradePolicy.Never,
        }));
        Assert.That(debug, Is.False);
    }

    [TestCaseSource(nameof(FallbackLines))]
    public void Anything_else_is_left_to_System_CommandLine(string[] args)
    {
        Assert.That(SshProxyCommandLine.TryParse(args, out var request, out _), Is.False);
        Assert.That(request, Is.Null);
    }

    [Test]
    public async Task Both_paths_fail_alike_when_the_credentials_are_missing()
    {
        string[] fast = ["ssh-proxy-command", "--destination-dir=/nonexistent/machine-id", "--proxy-server=localhost:3080", "--cluster=example", "--user=root", "--host=node1.example", "--port=3022"];
        // "--resume=true" is valid for System.CommandLine but not taken by the fast path.
        string[] full = [.. fast, "--resume=true"];

        var fastResult = await CliProcess.RunAsync(fast);
        var fullResult = await CliProcess.RunAsync(full);

        Assert.That(SshProxyCommandLine.TryParse(fast, out _, out _), Is.True);
        Assert.That(SshProxyCommandLine.TryParse(full, out _, out _), Is.False);
        Assert.That(fastResult.ExitCode, Is.EqualTo(ExitCodes.Usage), fastResult.ToString());
        Assert.That(fullResult.ExitCode, Is.EqualTo(fastResult.ExitCode), fullResult.ToString());
        Assert.That(StripTime(fullResult.StandardError), Is.EqualTo(StripTime(fastResult.StandardError)));
        Assert.That(fastResult.StandardError, Does.Contain("/nonexistent/machine-id"));
        Assert.That(fastResult.StandardOutput, Is.Empty, "stdout carries only SSH bytes");
    }

    [Test]
    public async Task A_mistake_gets_System_CommandLine_s_message_and_the_usage_exit_code()
    {
        var result = await CliProcess.RunAsync([.. GeneratedLine.Where(a => !a.StartsWith("--host", StringComparison.Ordinal)), "--bogus"]);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Usage), result.ToString());
        Assert.That(result.StandardError, Does.Contain("--bogus").And.Contain("--host"));
        Assert.That(result.StandardOutput, Is.Empty);
    }

    [Test]
    public async Task The_timing_trace_goes_to_stderr_only_when_asked_for()
    {
        string[] args = ["ssh-proxy-command", "--destination-dir=/nonexistent/machine-id", "--proxy-server=localhost:3080", "--host=node1"];

        var traced = await CliProcess.RunAsync(args, new Dictionary<string, string?> { [StartupTrace.Variable] = "1" });
        var quiet = await CliProcess.RunAsync(args);

        Assert.That(traced.StandardError, Does.Match(@"tbot-dotnet timing: +\d+\.\d ms managed entry point"));
        Assert.That(traced.StandardOutput, Is.Empty);
        Assert.That(traced.ExitCode, Is.EqualTo(quiet.ExitCode));
        Assert.That(quiet.StandardError, Does.Not.Contain("timing"));
    }

    // Log lines start with a time of day.
    private static string StripTime(string stderr) =>
        System.Text.RegularExpressions.Regex.Replace(stderr, @"^\d\d:\d\d:\d\d\.\d{3} ", "", System.Text.RegularExpressions.RegexOptions.Multiline);
}
