using Teleport.MachineId.Configuration;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Configuration;

/// <summary>The join token: inline or from a file (tbot's absolute-path rule), and never shown.</summary>
public sealed class TbotJoinTokenTests
{
    private const string Secret = "s3cr3t-join-token-4d9e1b";

    private static string ConfigWithToken(string tokenYaml) => $"""
        version: v2
        proxy_server: teleport.example.com
        onboarding:
          join_method: token
          token: {tokenYaml}
        services:
          - type: identity
            destination: {"{"}type: directory, path: /opt/machine-id{"}"}
        """;

    [Test]
    public async Task Inline_token_resolves_to_itself()
    {
        var token = TbotConfigurationReader.Read(ConfigWithToken(Secret)).Configuration.Onboarding.Token!;

        Assert.Multiple(() =>
        {
            Assert.That(token.IsFile, Is.False);
            Assert.That(token.FilePath, Is.Null);
        });
        Assert.That(await token.ResolveAsync(), Is.EqualTo(Secret));
    }

    [Test]
    public async Task Absolute_path_reads_the_file_lazily_and_trims_it()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("bot-token");
        var token = TbotConfigurationReader.Read(ConfigWithToken(file)).Configuration.Onboarding.Token!;

        // The file may appear after the configuration was read, as tbot reads it only when joining.
        await File.WriteAllTextAsync(file, $"\n  {Secret}\r\n");

        Assert.Multiple(() =>
        {
            Assert.That(token.IsFile, Is.True);
            Assert.That(token.FilePath, Is.EqualTo(file));
        });
        Assert.That(await token.ResolveAsync(), Is.EqualTo(Secret));
    }

    [TestCase("relative/bot-token")]
    [TestCase("./bot-token")]
    [TestCase("~/bot-token")]
    public async Task Relative_paths_are_token_values_as_in_tbot(string value)
    {
        var token = TbotJoinToken.Parse(value);

        Assert.That(token.IsFile, Is.False);
        Assert.That(await token.ResolveAsync(), Is.EqualTo(value));
    }

    [Test]
    public void Missing_token_file_is_a_configuration_error_naming_the_file()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("absent");
        var token = TbotJoinToken.Parse(file);

        var ex = Assert.ThrowsAsync<TbotConfigurationException>(async () => await token.ResolveAsync());

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Errors.Single().Path, Is.EqualTo("onboarding.token"));
            Assert.That(ex.Message, Does.Contain(file).And.Contain("does not exist"));
        });
    }

    [Test]
    public void Empty_token_file_is_an_error()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("empty");
        File.WriteAllText(file, " \n\t\n");

        var ex = Assert.ThrowsAsync<TbotConfigurationException>(async () => await TbotJoinToken.Parse(file).ResolveAsync());

        Assert.That(ex!.Message, Does.Contain("is empty"));
    }

    [Test]
    public void Resolving_honours_cancellation()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("bot-token");
        File.WriteAllText(file, Secret);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.That(
            async () => await TbotJoinToken.Parse(file).ResolveAsync(cancelled.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void Parse_rejects_empty()
    {
        Assert.Throws<ArgumentException>(() => TbotJoinToken.Parse(string.Empty));
    }

    // ---- the token never leaks ----------------------------------------------------------------

    [Test]
    public void Token_is_absent_from_every_string_of_a_read_configuration()
    {
        var result = TbotConfigurationReader.Read(ConfigWithToken(Secret) + "\ncredential_ttl: 10m");

        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.Onboarding.Token!.ToString(), Is.EqualTo("inline token (redacted)"));
            Assert.That(result.Configuration.Onboarding.ToString(), Does.Not.Contain(Secret));
            Assert.That(result.Configuration.ToString(), Does.Not.Contain(Secret));
            Assert.That(result.Configuration.ToString(), Does.Contain("inline token (redacted)"));
            Assert.That(string.Join("\n", result.Warnings), Does.Not.Contain(Secret));
        });
    }

    [Test]
    public void Token_file_is_described_by_its_path_only()
    {
        var token = TbotJoinToken.Parse("/var/lib/teleport/bot-token");
        Assert.That(token.ToString(), Is.EqualTo("token file /var/lib/teleport/bot-token"));
    }

    [TestCase("{0}\nfips: true")]
    [TestCase("{0}\nauth_server: auth.example.com")]
    [TestCase("{0}\n  bogus: 1")]
    [TestCase("{0}\n  ca_pins: [nope]")]
    [TestCase("{0}\n  ca_path: /x\n  ca_pins: [\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]")]
    [TestCase("\"{0}")]
    [TestCase("[{0}")]
    [TestCase("{{value: {0}}}")]
    [TestCase("[{0}]")]
    [TestCase("&a {0}\n  token: *a")]
    public void Token_never_appears_in_error_messages(string tokenYamlFormat)
    {
        var yaml = ConfigWithToken(string.Format(System.Globalization.CultureInfo.InvariantCulture, tokenYamlFormat, Secret));

        var ex = Assert.Throws<TbotConfigurationException>(() => TbotConfigurationReader.Read(yaml));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Not.Contain(Secret));
            Assert.That(ex.ToString(), Does.Not.Contain(Secret));
            Assert.That(string.Join("\n", ex.Errors), Does.Not.Contain(Secret));
        });
    }

    [Test]
    public void Token_never_appears_when_the_override_replaces_it()
    {
        var yaml = ConfigWithToken(Secret) + "\nfips: true";

        var ex = Assert.Throws<TbotConfigurationException>(
            () => TbotConfigurationReader.Read(yaml, new TbotConfigurationOverrides { Token = Secret + "-env" }));

        Assert.That(ex!.Message, Does.Not.Contain(Secret));
    }
}
