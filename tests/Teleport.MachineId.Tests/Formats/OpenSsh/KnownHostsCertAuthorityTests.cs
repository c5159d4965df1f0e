using Teleport.MachineId.OpenSsh;

namespace Teleport.MachineId.Tests.Formats.OpenSsh;

/// <summary><c>@cert-authority</c> lines read from known_hosts and identity files.</summary>
[TestFixture]
public sealed class KnownHostsCertAuthorityTests
{
    private static string CaKey() =>
        string.Join(' ', File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "Crypto", "keys", "ed25519.pub")).Split(' ')[..2]);

    [Test]
    public void A_teleport_line_round_trips()
    {
        var line = $"@cert-authority example.com,*.example.com {CaKey()} type=host";

        var entry = KnownHostsCertAuthority.Parse(line);

        Assert.That(entry.HostPatterns, Is.EqualTo(new[] { "example.com", "*.example.com" }));
        Assert.That(entry.Comment, Is.EqualTo("type=host"));
        Assert.That(entry.ToString(), Is.EqualTo(line));
    }

    // Fuzzing regressions (key-lines): fields are split at spaces and tabs, so a CR left in a host
    // pattern or the comment reached the constructor and escaped as an ArgumentException.
    [TestCase("@cert-authority tele.blackmesa.gov,tele.blackmesa.gov\r*.tele.blackmesa.gov {0} type=host", "host pattern")]
    [TestCase("@cert-authority example.com {0} type=host\rtrailing", "comment must be a single line")]
    public void A_line_break_inside_a_field_is_a_format_error(string template, string problem)
    {
        var line = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, CaKey());

        var error = Assert.Throws<TeleportFormatException>(() => KnownHostsCertAuthority.Parse(line));

        Assert.That(error!.Message, Does.StartWith("An @cert-authority line is malformed").And.Contain(problem));
        Assert.That(error.Message, Does.Not.Contain("\r"));
    }

    [Test]
    public void The_constructor_still_rejects_bad_arguments_as_argument_errors()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<ArgumentException>(() => new KnownHostsCertAuthority([], CaKey()))!.ParamName, Is.EqualTo("hostPatterns"));
            Assert.That(Assert.Throws<ArgumentException>(() => new KnownHostsCertAuthority(["a b"], CaKey()))!.ParamName, Is.EqualTo("hostPatterns"));
            Assert.That(Assert.Throws<ArgumentException>(() => new KnownHostsCertAuthority(["a"], CaKey(), "x\ny"))!.ParamName, Is.EqualTo("comment"));
        });
    }
}
