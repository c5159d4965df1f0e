using Teleport.MachineId.Configuration;

namespace Teleport.MachineId.Tests.Configuration;

/// <summary>TELEPORT_PROXY / TELEPORT_AUTH_SERVER / TELEPORT_BOT_TOKEN applied as tbot's CLI applies them.</summary>
public sealed class TbotConfigurationOverridesTests
{
    private const string FileToken = "file-token-6f1d2c";
    private const string EnvToken = "env-token-93ab07";

    private const string Config = $"""
        version: v2
        proxy_server: file-proxy.example.com:443
        onboarding:
          join_method: gitlab
          token: {FileToken}
          ca_pins: ["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
          gitlab: {"{"}token_env_var_name: X{"}"}
        services:
          - type: identity
            destination: {"{"}type: directory, path: /opt/machine-id{"}"}
        """;

    private static Func<string, string?> Environment(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return name => map.TryGetValue(name, out var value) ? value : null;
    }

    [Test]
    public void FromEnvironment_reads_the_three_tbot_variables_and_ignores_empty_ones()
    {
        var overrides = TbotConfigurationOverrides.FromEnvironment(Environment(
            ("TELEPORT_PROXY", "proxy.example.com:3080"),
            ("TELEPORT_AUTH_SERVER", string.Empty),
            ("TELEPORT_BOT_TOKEN", EnvToken),
            ("TBOT_CONFIG_PATH", "/etc/tbot.yaml")));

        Assert.Multiple(() =>
        {
            Assert.That(overrides.ProxyServer, Is.EqualTo("proxy.example.com:3080"));
            Assert.That(overrides.AuthServer, Is.Null);
            Assert.That(overrides.Token, Is.EqualTo(EnvToken));
        });
    }

    [Test]
    public void FromEnvironment_with_nothing_set_overrides_nothing()
    {
        var overrides = TbotConfigurationOverrides.FromEnvironment(_ => null);
        var yaml = Config.Replace("join_method: gitlab", "join_method: token", StringComparison.Ordinal);

        var result = TbotConfigurationReader.Read(yaml, overrides);

        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.ProxyServer!.Host, Is.EqualTo("file-proxy.example.com"));
            Assert.That(result.Warnings, Is.Empty);
        });
    }

    [Test]
    public void FromEnvironment_can_read_the_real_process_environment()
    {
        var overrides = TbotConfigurationOverrides.FromEnvironment(System.Environment.GetEnvironmentVariable);
        Assert.That(overrides, Is.Not.Null);
    }

    [Test]
    public void Teleport_proxy_replaces_the_file_value_with_a_warning()
    {
        var overrides = TbotConfigurationOverrides.FromEnvironment(Environment(("TELEPORT_PROXY", "env-proxy.example.com")));
        var yaml = Config.Replace("join_method: gitlab", "join_method: token", StringComparison.Ordinal);

        var result = TbotConfigurationReader.Read(yaml, overrides);

        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.ProxyServer, Is.EqualTo(new TbotAddress { Host = "env-proxy.example.com", Port = 443 }));
            var warning = result.Warnings.Single();
            Assert.That(warning.Path, Is.EqualTo("proxy_server"));
            Assert.That(warning.Message, Does.Contain("TELEPORT_PROXY"));
            Assert.That(warning.Line, Is.EqualTo(2));
        });
    }

    [Test]
    public void Teleport_proxy_supplies_a_missing_proxy_server()
    {
        var yaml = Config
            .Replace("proxy_server: file-proxy.example.com:443\n", string.Empty, StringComparison.Ordinal)
            .Replace("join_method: gitlab", "join_method: token", StringComparison.Ordinal);
        Assert.That(TbotConfigurationReaderTests.Fails(yaml).Errors.Single().Path, Is.EqualTo("proxy_server"));

        var result = TbotConfigurationReader.Read(yaml, new TbotConfigurationOverrides { ProxyServer = "env-proxy.example.com:3080" });

        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.ProxyServer!.Port, Is.EqualTo(3080));
            Assert.That(result.Warnings, Is.Empty);
        });
    }

    [Test]
    public void Teleport_auth_server_with_a_file_proxy_server_is_rejected_as_both_set()
    {
        var yaml = Config.Replace("join_method: gitlab", "join_method: token", StringComparison.Ordinal);
        var overrides = TbotConfigurationOverrides.FromEnvironment(Environment(("TELEPORT_AUTH_SERVER", "auth.example.com:3025")));

        var error = TbotConfigurationReaderTests.SingleError(yaml, overrides);

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("auth_server"));
            Assert.That(error.Message, Does.Contain("mutually exclusive").And.Contain("TELEPORT_AUTH_SERVER"));
        });
    }

    [Test]
    public void Teleport_auth_server_replaces_a_file_auth_server()
    {
        var yaml = Config
            .Replace("proxy_server: file-proxy.example.com:443", "auth_server: file-auth.example.com", StringComparison.Ordinal)
            .Replace("join_method: gitlab", "join_method: token", StringComparison.Ordinal);
        var overrides = TbotConfigurationOverrides.FromEnvironment(Environment(("TELEPORT_AUTH_SERVER", "env-auth.example.com:4025")));

        var result = TbotConfigurationReader.Read(yaml, overrides);

        Assert.That(result.Configuration.AuthServer, Is.EqualTo(new TbotAddress { Host = "env-auth.example.com", Port = 4025, PortSpecified = true }));
    }

    [Test]
    public void Invalid_override_value_names_its_source()
    {
        var yaml = Config.Replace("join_method: gitlab", "join_method: token", StringComparison.Ordinal);

        var error = TbotConfigurationReaderTests.SingleError(yaml, new TbotConfigurationOverrides { ProxyServer = "https://bad" });

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("proxy_server"));
            Assert.That(error.Message, Does.Contain("TELEPORT_PROXY"));
            Assert.That(error.Line, Is.Null, "an override has no position in the file");
        });
    }

    [Test]
    public async Task Teleport_bot_token_replaces_the_whole_onboarding_section_like_tbot()
    {
        var overrides = TbotConfigurationOverrides.FromEnvironment(Environment(("TELEPORT_BOT_TOKEN", EnvToken)));

        // The file's join_method (gitlab, unsupported) and ca_pins are dropped, as tbot drops them.
        var result = TbotConfigurationReader.Read(Config, overrides);
        var onboarding = result.Configuration.Onboarding;
        var token = await onboarding.Token!.ResolveAsync();

        Assert.Multiple(() =>
        {
            Assert.That(onboarding.JoinMethod, Is.EqualTo(TbotJoinMethod.Token));
            Assert.That(onboarding.CaPins, Is.Empty);
            Assert.That(onboarding.CaPath, Is.Null);
            Assert.That(token, Is.EqualTo(EnvToken));
            var warning = result.Warnings.Single();
            Assert.That(warning.Path, Is.EqualTo("onboarding"));
            Assert.That(warning.Message, Does.Contain("join_method, ca_pins, token"));
            Assert.That(warning.Message, Does.Not.Contain(EnvToken).And.Not.Contain(FileToken));
        });
    }

    [Test]
    public void Teleport_bot_token_may_name_a_token_file()
    {
        var result = TbotConfigurationReader.Read(Config, new TbotConfigurationOverrides { Token = "/run/secrets/bot-token" });
        Assert.That(result.Configuration.Onboarding.Token!.FilePath, Is.EqualTo("/run/secrets/bot-token"));
    }

    [Test]
    public void Overrides_never_show_the_token()
    {
        var overrides = new TbotConfigurationOverrides { ProxyServer = "p.example.com", Token = EnvToken };
        Assert.Multiple(() =>
        {
            Assert.That(overrides.ToString(), Does.Not.Contain(EnvToken));
            Assert.That(overrides.ToString(), Does.Contain("p.example.com").And.Contain("(redacted)"));
        });
    }
}
