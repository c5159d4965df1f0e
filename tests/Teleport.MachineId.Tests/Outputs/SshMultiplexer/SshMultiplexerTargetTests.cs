using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Teleport.MachineId.Tests.Outputs.SshMultiplexer;

/// <summary>The v1.sock request <c>host:port[|cluster]</c>, parsed as tbot parses it.</summary>
public sealed class SshMultiplexerTargetTests
{
    [TestCase("node1:3022", "node1", 3022, null)]
    [TestCase("node1.example.com:22|example.com", "node1.example.com", 22, "example.com")]
    [TestCase("[::1]:3022", "::1", 3022, null)]
    [TestCase("[fe80::1]:3022|leaf", "fe80::1", 3022, "leaf")]
    [TestCase("10.0.0.1:0", "10.0.0.1", 0, null)]
    [TestCase("8a50ba48-2fad-4c2c-a8ce-f48bc18db9ee:0|c", "8a50ba48-2fad-4c2c-a8ce-f48bc18db9ee", 0, "c")]
    public void Well_formed_requests_parse_and_print_back(string request, string host, int port, string? cluster)
    {
        Assert.That(SshMultiplexerTarget.TryParse(request, out var target, out var error), Is.True, error);
        Assert.That(target, Is.EqualTo(new SshMultiplexerTarget(host, port, cluster)));
        Assert.That(target!.ToString(), Is.EqualTo(request));
        Assert.That(target.ToRequestBytes()[^1], Is.Zero);
    }

    [TestCase("a:1|b|c", "expected at most 2 fields, got 3")]
    [TestCase("node1", "missing port in address")]
    [TestCase("a:b:22", "too many colons in address")]
    [TestCase("[::1]", "missing port in address")]
    [TestCase("[::1:22", "missing ']' in address")]
    [TestCase("[::1]x22", "unexpected text after ']'")]
    [TestCase(":22", "empty hostname")]
    [TestCase("node1:", "invalid port")]
    [TestCase("node1:ssh", "invalid port")]
    [TestCase("node1:65536", "invalid port")]
    [TestCase("node1:-1", "invalid port")]
    [TestCase("node1:22|", "empty cluster name")]
    [TestCase("", "missing port in address")]
    public void Malformed_requests_say_why(string request, string reason)
    {
        Assert.That(SshMultiplexerTarget.TryParse(request, out var target, out var error), Is.False);
        Assert.That(target, Is.Null);
        Assert.That(error, Does.Contain(reason));
    }

    [Test]
    public void Errors_quote_the_request_without_control_characters()
    {
        SshMultiplexerTarget.TryParse("evil\n[fake log line]\u001b[31m", out _, out var error);

        Assert.That(error!.Any(char.IsControl), Is.False, error);
        Assert.That(error, Does.Contain("\\n").And.Contain("\\x1b"));
    }

    [Test]
    public void Targets_refuse_what_the_protocol_cannot_carry()
    {
        Assert.Throws<ArgumentException>(() => new SshMultiplexerTarget("a|b", 22));
        Assert.Throws<ArgumentException>(() => new SshMultiplexerTarget("a\0b", 22));
        Assert.Throws<ArgumentException>(() => new SshMultiplexerTarget("a", 22, "c|d"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SshMultiplexerTarget("a", 70000));
    }
}
