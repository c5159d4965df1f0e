using Teleport.MachineId.Configuration;

namespace Teleport.MachineId.Tests.Configuration;

public sealed class TbotConfigurationReaderTests
{
    private const string Minimal = """
        version: v2
        proxy_server: teleport.example.com:443
        onboarding:
          join_method: token
          token: join-token
        services:
          - type: identity
            destination:
              type: directory
              path: /opt/machine-id
        """;

    internal static TbotConfigurationException Fails(string yaml, TbotConfigurationOverrides? overrides = null) =>
        Assert.Throws<TbotConfigurationException>(() => TbotConfigurationReader.Read(yaml, overrides))!;

    internal static TbotConfigurationIssue SingleError(string yaml, TbotConfigurationOverrides? overrides = null)
    {
        var ex = Fails(yaml, overrides);
        Assert.That(ex.Errors, Has.Count.EqualTo(1), ex.Message);
        return ex.Errors[0];
    }

    private static string WithService(string serviceBody) => $"""
        version: v2
        proxy_server: teleport.example.com
        onboarding: {"{"}join_method: token, token: t{"}"}
        services:
          - type: identity
        {Indent(serviceBody, "    ")}
        """;

    private static string WithTop(string extra) => Minimal + "\n" + extra;

    private static string Indent(string text, string prefix) =>
        string.Join('\n', text.Split('\n').Select(l => prefix + l));

    // ---- the happy path and defaults ---------------------------------------------------

    [Test]
    public void Minimal_configuration_gets_tbot_defaults()
    {
        var result = TbotConfigurationReader.Read(Minimal);
        var config = result.Configuration;

        Assert.Multiple(() =>
        {
            Assert.That(result.Warnings, Is.Empty);
            Assert.That(config.ProxyServer, Is.EqualTo(new TbotAddress { Host = "teleport.example.com", Port = 443, PortSpecified = true }));
            Assert.That(config.AuthServer, Is.Null);
            Assert.That(config.CredentialLifetime, Is.EqualTo(new TbotCredentialLifetime(TimeSpan.FromHours(1), TimeSpan.FromMinutes(20))));
            Assert.That(config.Oneshot, Is.False);
            Assert.That(config.Insecure, Is.False);
            Assert.That(config.Debug, Is.False);
            Assert.That(config.DiagnosticsAddress, Is.Null);
            Assert.That(config.Onboarding.JoinMethod, Is.EqualTo(TbotJoinMethod.Token));
            Assert.That(config.Onboarding.CaPins, Is.Empty);
            Assert.That(config.Onboarding.CaPath, Is.Null);
            var storage = (TbotDirectoryDestination)config.Storage;
            Assert.That(storage.Path, Is.EqualTo("/var/lib/teleport/bot"));
            Assert.That(storage.Symlinks, Is.EqualTo(TbotSymlinksMode.TrySecure));
            Assert.That(storage.Acls, Is.EqualTo(OperatingSystem.IsLinux() ? TbotAclMode.Try : TbotAclMode.Off));
            Assert.That(config.Services, Has.Count.EqualTo(1));
            var service = config.Services[0];
            Assert.That(((TbotDirectoryDestination)service.Destination).Path, Is.EqualTo("/opt/machine-id"));
            Assert.That(service.WriteSshConfig, Is.True);
            Assert.That(service.Roles, Is.Empty);
        });
    }

    [Test]
    public void Reads_every_supported_top_level_key()
    {
        var yaml = """
            version: v2
            auth_server: auth.example.com
            credential_ttl: 2h
            renewal_interval: 30m
            oneshot: yes
            debug: True
            insecure: false
            fips: false
            diag_addr: 127.0.0.1:3001
            onboarding:
              join_method: token
              token: join-token
              ca_pins:
                - sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef
              gitlab:
                token_env_var_name: IGNORED
            storage:
              type: memory
            services: []
            """;

        var result = TbotConfigurationReader.Read(yaml);
        var config = result.Configuration;

        Assert.Multiple(() =>
        {
            Assert.That(config.AuthServer, Is.EqualTo(new TbotAddress { Host = "auth.example.com", Port = 3025, PortSpecified = false }));
            Assert.That(config.ProxyServer, Is.Null);
            Assert.That(config.CredentialLifetime, Is.EqualTo(new TbotCredentialLifetime(TimeSpan.FromHours(2), TimeSpan.FromMinutes(30))));
            Assert.That(config.Oneshot, Is.True);
            Assert.That(config.Debug, Is.True);
            Assert.That(config.DiagnosticsAddress, Is.EqualTo(new TbotAddress { Host = "127.0.0.1", Port = 3001, PortSpecified = true }));
            Assert.That(config.Onboarding.CaPins, Is.EqualTo(new[] { "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }));
            Assert.That(config.Storage, Is.InstanceOf<TbotMemoryDestination>());
            Assert.That(config.Services, Is.Empty);
            Assert.That(result.Warnings.Select(w => w.Path), Is.EqualTo(new[] { "services" }), "no services is worth a warning");
        });
    }

    [Test]
    public void Services_come_before_deprecated_outputs_whatever_the_key_order()
    {
        var yaml = """
            version: v2
            proxy_server: teleport.example.com
            onboarding: {join_method: token}
            outputs:
              - type: identity
                destination: {type: directory, path: /out/a}
            services:
              - type: identity
                destination: {type: directory, path: /out/b}
            """;

        var result = TbotConfigurationReader.Read(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(
                result.Configuration.Services.Select(s => ((TbotDirectoryDestination)s.Destination).Path),
                Is.EqualTo(new[] { "/out/b", "/out/a" }));
            Assert.That(result.Warnings.Single().Path, Is.EqualTo("outputs"));
            Assert.That(result.Warnings.Single().Message, Does.Contain("deprecated"));
        });
    }

    [Test]
    public void Anchors_aliases_and_merge_keys_work_like_yaml_v3()
    {
        var yaml = """
            version: v2
            proxy_server: teleport.example.com
            onboarding: {join_method: token, token: t}
            x-common: &common
              type: identity
              roles: [access]
            """;
        var ex = Fails(yaml);
        Assert.That(ex.Errors.Single().Path, Is.EqualTo("x-common"), "an unknown key is still unknown");

        yaml = """
            version: v2
            proxy_server: teleport.example.com
            onboarding: {join_method: token, token: t}
            services:
              - &first
                type: identity
                roles: [access, &editor editor]
                ssh_config: "off"
                destination: {type: directory, path: /out/a}
              - <<: *first
                roles: [*editor]
                destination: {type: directory, path: /out/b}
            """;

        var services = TbotConfigurationReader.Read(yaml).Configuration.Services;

        Assert.Multiple(() =>
        {
            Assert.That(services[1].Roles, Is.EqualTo(new[] { "editor" }), "explicit keys win over merged ones");
            Assert.That(services[1].WriteSshConfig, Is.False, "merged from the anchor");
            Assert.That(((TbotDirectoryDestination)services[1].Destination).Path, Is.EqualTo("/out/b"));
        });
    }

    // ---- version ------------------------------------------------------------------------

    [Test]
    public void Version_v1_is_rejected_alone_pointing_at_tbot_migrate()
    {
        var error = SingleError("""
            version: v1
            auth_server: auth.example.com:3025
            destinations:
              - directory: /opt/machine-id
            """);

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("version"));
            Assert.That(error.Message, Does.Contain("tbot migrate"));
            Assert.That(error.Line, Is.EqualTo(1));
            Assert.That(error.Column, Is.EqualTo(10));
        });
    }

    [Test]
    public void Missing_version_is_rejected_because_tbot_would_read_v1()
    {
        var error = SingleError("proxy_server: teleport.example.com\n");

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("version"));
            Assert.That(error.Message, Does.Contain("version: v2").And.Contain("v1"));
        });
    }

    [Test]
    public void Unrecognized_version_is_rejected()
    {
        var error = SingleError("version: v3\n");
        Assert.That(error.Message, Does.Contain("unrecognized configuration version 'v3'"));
    }

    // ---- malformed documents ---------------------------------------------------------------

    [Test]
    public void Malformed_yaml_reports_line_and_column()
    {
        var error = SingleError("version: v2\nproxy_server: [teleport.example.com\nonboarding:\n  join_method: token\n");

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.StartWith("malformed YAML"));
            Assert.That(error.Line, Is.Not.Null.And.GreaterThan(1));
            Assert.That(error.Column, Is.Not.Null);
        });
    }

    [Test]
    public void Duplicate_keys_are_rejected_with_both_lines()
    {
        var error = SingleError("version: v2\nproxy_server: a.example.com\nproxy_server: b.example.com\n");

        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Does.Contain("'proxy_server' appears twice").And.Contain("line 2"));
            Assert.That(error.Line, Is.EqualTo(3));
        });
    }

    [TestCase("")]
    [TestCase("# only a comment\n")]
    [TestCase("~\n")]
    public void Empty_document_is_rejected(string yaml)
    {
        Assert.That(SingleError(yaml).Message, Does.Contain("empty"));
    }

    [TestCase("just a string\n", "not a scalar value")]
    [TestCase("- version: v2\n", "not a list")]
    public void Root_must_be_a_mapping(string yaml, string found)
    {
        Assert.That(SingleError(yaml).Message, Does.Contain("must be a mapping").And.Contain(found));
    }

    [Test]
    public void Undefined_alias_is_a_clear_error()
    {
        Assert.That(SingleError("version: v2\nproxy_server: *nowhere\n").Message, Does.Contain("*nowhere"));
    }

    [Test]
    public void Later_documents_are_ignored_with_a_warning()
    {
        var result = TbotConfigurationReader.Read(Minimal + "\n---\nnot: read\n");
        Assert.That(result.Warnings.Single().Message, Does.Contain("more than one YAML document"));
    }

    [Test]
    public void Oversized_input_is_rejected()
    {
        var yaml = Minimal + "\n#" + new string('x', TbotConfigurationReader.MaxLength);
        Assert.That(SingleError(yaml).Message, Does.Contain("larger than"));
    }

    [Test]
    public void Truncating_a_real_configuration_anywhere_gives_only_configuration_errors()
    {
        var yaml = ConfigurationTestFiles.Golden("TestBotConfig_YAML-standard_config.golden")
            .Replace("fips: true", "fips: [", StringComparison.Ordinal);
        for (var length = 0; length <= yaml.Length; length += 3)
        {
            var prefix = yaml[..length];
            try
            {
                TbotConfigurationReader.Read(prefix);
            }
            catch (TbotConfigurationException ex)
            {
                Assert.That(ex.Errors, Is.Not.Empty, $"length {length}");
            }
        }
    }

    [Test]
    public void Deep_nesting_is_rejected_without_exhausting_the_stack()
    {
        var yaml = "version: v2\nproxy_server: " + new string('[', 5000) + new string(']', 5000) + "\n";
        Assert.That(Fails(yaml).Errors, Is.Not.Empty);
    }

    [Test]
    public void Merge_key_bombs_are_bounded()
    {
        var lines = new List<string> { "version: v2", "a0: &a0 {" + string.Join(", ", Enumerable.Range(0, 200).Select(i => $"k{i}: v")) + "}" };
        for (var i = 1; i < 200; i++)
        {
            lines.Add($"a{i}: &a{i} {{<<: [*a{i - 1}, *a0]}}");
        }

        var ex = Fails(string.Join('\n', lines));
        Assert.That(ex.Errors.Single().Message, Does.Contain("merges more than"));
    }

    // ---- unknown keys ---------------------------------------------------------------------

    [Test]
    public void Unknown_keys_anywhere_are_named_with_path_and_suggestion()
    {
        var yaml = """
            version: v2
            proxy_sever: teleport.example.com
            onboarding:
              join_metod: token
              gitlab:
                token_env: X
            storage:
              type: directory
              path: /var/lib/teleport/bot
              acl: try
            services:
              - type: identity
                destinaton: {type: memory}
              - type: identity
                destination:
                  type: directory
                  pathh: /opt/machine-id
                  readers:
                    - usr: foo
            """;

        var ex = Fails(yaml);
        var messages = ex.Errors.ToDictionary(e => e.Path, e => e.Message);

        Assert.Multiple(() =>
        {
            Assert.That(messages["proxy_sever"], Does.Contain("unknown key 'proxy_sever'; did you mean 'proxy_server'?"));
            Assert.That(messages["onboarding.join_metod"], Does.Contain("did you mean 'join_method'?"));
            Assert.That(messages["onboarding.gitlab.token_env"], Does.Contain("did you mean 'token_env_var_name'?"));
            Assert.That(messages["storage.acl"], Does.Contain("did you mean 'acls'?"));
            Assert.That(messages["services[0].destinaton"], Does.Contain("did you mean 'destination'?"));
            Assert.That(messages["services[1].destination.pathh"], Does.Contain("did you mean 'path'?"));
            Assert.That(messages["services[1].destination.readers[0].usr"], Does.Contain("did you mean 'user'?"));
            Assert.That(ex.Errors.First(e => e.Path == "proxy_sever").Line, Is.EqualTo(2));
        });
    }

    [Test]
    public void Misplaced_keys_say_where_they_belong()
    {
        var ex = Fails("""
            version: v2
            proxy_server: teleport.example.com
            token: abc
            onboarding:
              join_method: token
              insecure: true
            services:
              - type: identity
                path: /opt/machine-id
                destination: {type: memory, roles: [a]}
            """);
        var messages = ex.Errors.ToDictionary(e => e.Path, e => e.Message);

        Assert.Multiple(() =>
        {
            Assert.That(messages["token"], Does.Contain("belongs under 'onboarding'"));
            Assert.That(messages["onboarding.insecure"], Does.Contain("at the top level"));
            Assert.That(messages["services[0].path"], Does.Contain("under 'destination'"));
            Assert.That(messages["services[0].destination.roles"], Does.Contain("unknown key 'roles'"));
        });
    }

    [Test]
    public void Unknown_key_without_a_close_match_lists_the_known_keys()
    {
        var error = SingleError(WithTop("frobnicate: 1"));
        Assert.That(error.Message, Does.Contain("expected one of:").And.Contain("proxy_server"));
    }

    [Test]
    public void All_problems_are_reported_at_once_in_document_order()
    {
        var ex = Fails("""
            version: v2
            proxy_server: teleport.example.com
            auth_server: auth.example.com
            fips: true
            onboarding:
              ca_pins: [nope]
            services:
              - type: identity
                destination: {type: directory}
            """);

        Assert.That(ex.Errors.Select(e => e.Path), Is.EqualTo(new[]
        {
            "auth_server",
            "fips",
            "onboarding.join_method",
            "onboarding.ca_pins[0]",
            "services[0].destination.path",
        }));
    }

    // ---- addresses ---------------------------------------------------------------------------

    [TestCase("teleport.example.com", "teleport.example.com", 443, false)]
    [TestCase("teleport.example.com:3080", "teleport.example.com", 3080, true)]
    [TestCase("10.0.0.5", "10.0.0.5", 443, false)]
    [TestCase("[::1]:3080", "::1", 3080, true)]
    [TestCase("[fd00::5]", "fd00::5", 443, false)]
    public void Proxy_server_defaults_to_port_443(string text, string host, int port, bool specified)
    {
        var yaml = Minimal.Replace("teleport.example.com:443", $"\"{text}\"", StringComparison.Ordinal);

        var proxy = TbotConfigurationReader.Read(yaml).Configuration.ProxyServer;

        Assert.That(proxy, Is.EqualTo(new TbotAddress { Host = host, Port = port, PortSpecified = specified }));
    }

    [Test]
    public void Auth_server_defaults_to_port_3025_and_formats_back()
    {
        var yaml = Minimal.Replace("proxy_server: teleport.example.com:443", "auth_server: \"[::1]\"", StringComparison.Ordinal);

        var auth = TbotConfigurationReader.Read(yaml).Configuration.AuthServer;

        Assert.Multiple(() =>
        {
            Assert.That(auth!.Port, Is.EqualTo(3025));
            Assert.That(auth.ToString(), Is.EqualTo("[::1]:3025"));
        });
    }

    [TestCase("https://teleport.example.com", "remove the URL scheme")]
    [TestCase("teleport.example.com:0", "port must be a number from 1 to 65535")]
    [TestCase("teleport.example.com:65536", "port must be a number from 1 to 65535")]
    [TestCase("teleport.example.com:https", "port must be a number")]
    [TestCase("teleport.example.com:", "port must be a number")]
    [TestCase("::1", "brackets")]
    [TestCase(":443", "host is missing")]
    [TestCase("teleport.example.com/web", "must not contain")]
    [TestCase("[teleport.example.com]:443", "only IPv6 addresses go in brackets")]
    public void Bad_addresses_are_rejected_with_the_reason(string text, string reason)
    {
        var error = SingleError(Minimal.Replace("teleport.example.com:443", $"\"{text}\"", StringComparison.Ordinal));

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("proxy_server"));
            Assert.That(error.Message, Does.Contain(reason));
            Assert.That(error.Line, Is.EqualTo(2));
        });
    }

    [Test]
    public void Proxy_and_auth_server_are_mutually_exclusive()
    {
        var error = SingleError(WithTop("auth_server: auth.example.com:3025"));

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("auth_server"));
            Assert.That(error.Message, Does.Contain("mutually exclusive"));
        });
    }

    [Test]
    public void Exclusivity_does_not_hide_a_bad_address()
    {
        var ex = Fails(Minimal.Replace("teleport.example.com:443", "\"https://teleport.example.com\"\nauth_server: auth.example.com", StringComparison.Ordinal));

        Assert.That(ex.Errors.Select(e => e.Path), Is.EqualTo(new[] { "proxy_server", "auth_server" }));
    }

    [Test]
    public void One_of_proxy_or_auth_server_is_required()
    {
        var error = SingleError(Minimal.Replace("proxy_server: teleport.example.com:443\n", string.Empty, StringComparison.Ordinal));

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("proxy_server"));
            Assert.That(error.Message, Does.Contain("set proxy_server").And.Contain("TELEPORT_PROXY"));
        });
    }

    [Test]
    public void Diag_addr_needs_a_port()
    {
        var error = SingleError(WithTop("diag_addr: localhost"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("diag_addr"));
            Assert.That(error.Message, Does.Contain("needs a port"));
        });
    }

    // ---- lifetimes ---------------------------------------------------------------------------

    [Test]
    public void Certificate_ttl_is_a_deprecated_alias_of_credential_ttl()
    {
        var result = TbotConfigurationReader.Read(WithTop("certificate_ttl: 90m"));

        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.CredentialLifetime.Ttl, Is.EqualTo(TimeSpan.FromMinutes(90)));
            Assert.That(result.Warnings.Single().Path, Is.EqualTo("certificate_ttl"));
            Assert.That(result.Warnings.Single().Message, Does.Contain("deprecated"));
        });
    }

    [Test]
    public void Credential_ttl_wins_over_certificate_ttl()
    {
        var result = TbotConfigurationReader.Read(WithTop("certificate_ttl: 90m\ncredential_ttl: 2h"));

        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.CredentialLifetime.Ttl, Is.EqualTo(TimeSpan.FromHours(2)));
            Assert.That(result.Warnings.Select(w => w.Message), Has.Some.Contains("credential_ttl is used"));
        });
    }

    [TestCase("credential_ttl: 20m\nrenewal_interval: 20m")]
    [TestCase("credential_ttl: 10m")]
    [TestCase("renewal_interval: 2h")]
    public void Renewal_interval_not_shorter_than_ttl_is_a_warning(string lifetime)
    {
        var result = TbotConfigurationReader.Read(WithTop(lifetime));

        var warning = result.Warnings.Single();
        Assert.Multiple(() =>
        {
            Assert.That(warning.Path, Is.EqualTo("renewal_interval"));
            Assert.That(warning.Message, Does.Contain("is not shorter than credential_ttl"));
            Assert.That(warning.Line, Is.Not.Null);
        });
    }

    [Test]
    public void Oneshot_does_not_warn_about_the_renewal_interval()
    {
        var result = TbotConfigurationReader.Read(WithTop("credential_ttl: 10m\noneshot: true"));
        Assert.That(result.Warnings, Is.Empty);
    }

    [Test]
    public void Ttl_above_the_7_day_maximum_is_a_warning()
    {
        var result = TbotConfigurationReader.Read(WithTop("credential_ttl: 200h"));
        Assert.That(result.Warnings.Single().Message, Does.Contain("longer than the 168h0m0s"));
    }

    [Test]
    public void Zero_duration_means_the_default()
    {
        var result = TbotConfigurationReader.Read(WithTop("credential_ttl: \"0\"\nrenewal_interval: 0s"));
        Assert.That(result.Configuration.CredentialLifetime, Is.EqualTo(TbotCredentialLifetime.Default));
    }

    [TestCase("credential_ttl: -1h", "negative")]
    [TestCase("credential_ttl: 30", "missing unit")]
    [TestCase("renewal_interval: 1d", "unknown unit 'd'")]
    [TestCase("renewal_interval: [1m]", "expected a single value, found a list")]
    public void Bad_durations_are_rejected(string line, string reason)
    {
        var error = SingleError(WithTop(line));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo(line[..line.IndexOf(':', StringComparison.Ordinal)]));
            Assert.That(error.Message, Does.Contain(reason));
        });
    }

    // ---- booleans, fips, insecure --------------------------------------------------------

    [TestCase("yes", true)]
    [TestCase("on", true)]
    [TestCase("ON", true)]
    [TestCase("\"y\"", true)]
    [TestCase("True", true)]
    [TestCase("no", false)]
    [TestCase("Off", false)]
    [TestCase("FALSE", false)]
    [TestCase("~", false)]
    public void Booleans_follow_yaml_v3_including_yaml_1_1_words(string text, bool expected)
    {
        var config = TbotConfigurationReader.Read(WithTop($"debug: {text}")).Configuration;
        Assert.That(config.Debug, Is.EqualTo(expected));
    }

    [TestCase("1")]
    [TestCase("\"true\"")]
    [TestCase("enabled")]
    public void Non_booleans_are_rejected(string text)
    {
        var error = SingleError(WithTop($"debug: {text}"));
        Assert.That(error.Message, Does.Contain("expected true or false"));
    }

    [Test]
    public void Fips_true_is_rejected_false_is_accepted()
    {
        var error = SingleError(WithTop("fips: true"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("fips"));
            Assert.That(error.Message, Does.Contain("no FIPS mode"));
            Assert.That(TbotConfigurationReader.Read(WithTop("fips: false")).Warnings, Is.Empty);
        });
    }

    private const string Pin = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    [Test]
    public void Ca_pins_and_ca_path_are_mutually_exclusive()
    {
        var error = SingleError(Minimal.Replace("token: join-token", $"token: join-token\n  ca_pins: [\"{Pin}\"]\n  ca_path: /etc/ca.pem", StringComparison.Ordinal));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("onboarding.ca_path"));
            Assert.That(error.Message, Does.Contain("mutually exclusive"));
        });
    }

    [Test]
    public void A_bad_pin_does_not_hide_the_ca_path_conflict()
    {
        var ex = Fails(Minimal.Replace("token: join-token", "token: join-token\n  ca_pins: [sha256:abc]\n  ca_path: /etc/ca.pem", StringComparison.Ordinal));

        Assert.That(ex.Errors.Select(e => e.Path), Is.EqualTo(new[] { "onboarding.ca_pins[0]", "onboarding.ca_path" }));
    }

    [TestCase("ca_pins: [\"" + Pin + "\"]", "onboarding.ca_pins")]
    [TestCase("ca_path: /etc/ca.pem", "onboarding.ca_path")]
    public void Ca_pins_or_path_cannot_be_used_with_insecure(string onboardingLine, string path)
    {
        var yaml = WithTop("insecure: true").Replace("token: join-token", "token: join-token\n  " + onboardingLine, StringComparison.Ordinal);

        var error = SingleError(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo(path));
            Assert.That(error.Message, Does.Contain("insecure"));
        });
    }

    [Test]
    public void Insecure_alone_is_allowed_with_a_warning()
    {
        var result = TbotConfigurationReader.Read(WithTop("insecure: true"));
        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.Insecure, Is.True);
            Assert.That(result.Warnings.Single().Path, Is.EqualTo("insecure"));
        });
    }

    [TestCase("sha256:abc")]
    [TestCase("sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [TestCase("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [TestCase("sha256:gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Bad_pin_format_is_rejected_with_its_index(string pin)
    {
        var yaml = Minimal.Replace("token: join-token", $"token: join-token\n  ca_pins:\n    - {Pin}\n    - \"{pin}\"", StringComparison.Ordinal);

        var error = SingleError(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("onboarding.ca_pins[1]"));
            Assert.That(error.Message, Does.Contain("is not a CA pin").And.Contain("sha256:"));
        });
    }

    // ---- onboarding --------------------------------------------------------------------

    [Test]
    public void Missing_join_method_with_a_token_joins_with_token_and_warns()
    {
        var result = TbotConfigurationReader.Read(Minimal.Replace("  join_method: token\n", string.Empty, StringComparison.Ordinal));
        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.Onboarding.JoinMethod, Is.EqualTo(TbotJoinMethod.Token));
            Assert.That(result.Warnings.Select(w => w.Path), Does.Contain("onboarding.join_method"));
        });
    }

    [Test]
    public void Missing_onboarding_section_is_rejected_as_missing_join_method()
    {
        var yaml = "version: v2\nproxy_server: teleport.example.com\nservices: []\n";
        Assert.That(SingleError(yaml).Path, Is.EqualTo("onboarding.join_method"));
    }

    [TestCase("iam")]
    [TestCase("tpm")]
    [TestCase("azure")]
    public void Known_but_unsupported_join_methods_are_named(string method)
    {
        var error = SingleError(Minimal.Replace("join_method: token", $"join_method: {method}", StringComparison.Ordinal));
        Assert.That(error.Message, Is.EqualTo(
            $"join method '{method}' is not supported by Teleport.MachineId yet; supported: 'token', 'bound_keypair', 'github', 'gitlab' and 'kubernetes'"));
    }

    [TestCase("github", TbotJoinMethod.GitHub)]
    [TestCase("gitlab", TbotJoinMethod.GitLab)]
    [TestCase("kubernetes", TbotJoinMethod.Kubernetes)]
    [TestCase("bound_keypair", TbotJoinMethod.BoundKeypair)]
    public void Delegated_join_methods_take_the_token_resource_name(string method, TbotJoinMethod expected)
    {
        var result = TbotConfigurationReader.Read(Minimal.Replace("join_method: token", $"join_method: {method}", StringComparison.Ordinal));

        var options = result.Configuration.ToMachineIdOptions();
        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.Onboarding.JoinMethod, Is.EqualTo(expected));
            Assert.That(options.JoinMethod, Is.EqualTo(method));
            Assert.That(options.Token, Is.EqualTo("join-token"), "the name of the token resource");
        });
    }

    [Test]
    public void Method_blocks_map_to_the_options_with_tbot_s_key_names()
    {
        var yaml = Minimal.Replace("join_method: token", "join_method: bound_keypair", StringComparison.Ordinal).Replace(
            "  token: join-token\n",
            "  token: bot-token\n  bound_keypair:\n    registration_secret: s3cret-value\n    static_private_key_path: /etc/tbot/key\n"
            + "  gitlab: {token_env_var_name: OTHER_JWT}\n  kubernetes: {token_path: /var/run/tbot/token}\n",
            StringComparison.Ordinal);

        var result = TbotConfigurationReader.Read(yaml);
        var options = result.Configuration.ToMachineIdOptions();

        Assert.Multiple(() =>
        {
            Assert.That(options.BoundKeypair.RegistrationSecret, Is.EqualTo("s3cret-value"));
            Assert.That(options.BoundKeypair.StaticPrivateKeyPath, Is.EqualTo("/etc/tbot/key"));
            Assert.That(options.GitLab.TokenEnvironmentVariable, Is.EqualTo("OTHER_JWT"));
            Assert.That(options.Kubernetes.TokenPath, Is.EqualTo("/var/run/tbot/token"));
            Assert.That(result.Warnings, Is.Empty, "as tbot, blocks of other methods are read and ignored");
            Assert.That(result.Configuration.Onboarding.BoundKeypair.ToString(), Does.Not.Contain("s3cret-value"));
            Assert.That(options.ToString(), Does.Not.Contain("s3cret-value"));
        });
    }

    [Test]
    public void Bound_keypair_refuses_both_secret_keys_and_unknown_block_keys()
    {
        var both = Minimal.Replace("join_method: token", "join_method: bound_keypair", StringComparison.Ordinal).Replace(
            "  token: join-token\n", "  token: bot-token\n  bound_keypair:\n    registration_secret: s3cret-value\n    registration_secret_path: /etc/secret\n",
            StringComparison.Ordinal);
        var typo = both.Replace("registration_secret_path", "registraton_secret_path", StringComparison.Ordinal);

        var bothError = SingleError(both);
        var typoError = SingleError(typo);

        Assert.Multiple(() =>
        {
            Assert.That(bothError.Path, Is.EqualTo("onboarding.bound_keypair"));
            Assert.That(bothError.Message, Is.EqualTo("only one of 'registration_secret' and 'registration_secret_path' may be set"));
            Assert.That(typoError.Path, Is.EqualTo("onboarding.bound_keypair.registraton_secret_path"));
            Assert.That(typoError.Message, Does.Contain("did you mean 'registration_secret_path'?"));
            Assert.That(bothError.ToString() + typoError, Does.Not.Contain("s3cret-value"));
        });
    }

    [Test]
    public void Delegated_join_methods_need_the_token_resource_name()
    {
        var yaml = Minimal.Replace("join_method: token", "join_method: github", StringComparison.Ordinal).Replace("  token: join-token\n", string.Empty, StringComparison.Ordinal);

        var error = SingleError(yaml);

        Assert.That(error.Path, Is.EqualTo("onboarding.token"));
        Assert.That(error.Message, Does.Contain("name of the join token resource"));
    }

    [Test]
    public void Unknown_join_method_suggests_the_closest()
    {
        var error = SingleError(Minimal.Replace("join_method: token", "join_method: tokne", StringComparison.Ordinal));
        Assert.That(error.Message, Does.Contain("unrecognized join method 'tokne' (did you mean 'token'?)"));
    }

    [Test]
    public void Memory_storage_needs_a_token()
    {
        var yaml = Minimal.Replace("  token: join-token\n", string.Empty, StringComparison.Ordinal) + "\nstorage: {type: memory}";

        var error = SingleError(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("onboarding.token"));
            Assert.That(error.Message, Does.Contain("storage is memory"));
            Assert.That(TbotConfigurationReader.Read(yaml, new TbotConfigurationOverrides { Token = "t" }).Configuration.Onboarding.Token, Is.Not.Null);
        });
    }

    [Test]
    public void Token_may_be_absent_with_directory_storage()
    {
        var yaml = Minimal.Replace("  token: join-token\n", string.Empty, StringComparison.Ordinal);
        Assert.That(TbotConfigurationReader.Read(yaml).Configuration.Onboarding.Token, Is.Null);
    }

    // ---- destinations ------------------------------------------------------------------

    [Test]
    public void Directory_destination_without_path_is_rejected()
    {
        var error = SingleError(WithService("destination:\n  type: directory\n  symlinks: secure"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("services[0].destination.path"));
            Assert.That(error.Message, Does.Contain("needs a 'path'"));
        });
    }

    [Test]
    public void Kubernetes_secret_destination_is_unsupported_by_name()
    {
        var error = SingleError(WithService("destination: {type: kubernetes_secret, name: my-secret}"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("services[0].destination.type"));
            Assert.That(error.Message, Does.Contain("'kubernetes_secret' is not supported by Teleport.MachineId yet"));
        });
    }

    [Test]
    public void Unknown_destination_type_suggests_the_closest()
    {
        var error = SingleError(WithService("destination: {type: directroy, path: /x}"));
        Assert.That(error.Message, Does.Contain("unrecognized destination type 'directroy' (did you mean 'directory'?)"));
    }

    [TestCase("destination: {path: /x}", "services[0].destination.type")]
    [TestCase("destination: /opt/machine-id", "services[0].destination")]
    [TestCase("roles: [access]", "services[0]")]
    public void Destination_shape_problems_are_named(string body, string path)
    {
        Assert.That(SingleError(WithService(body)).Path, Is.EqualTo(path));
    }

    [Test]
    public void Memory_destination_takes_no_other_keys()
    {
        Assert.That(SingleError(WithService("destination: {type: memory, path: /x}")).Path, Is.EqualTo("services[0].destination.path"));
    }

    [TestCase("symlinks: insecure", TbotSymlinksMode.Insecure, TbotAclMode.Off, "acls: off")]
    [TestCase("symlinks: try-secure", TbotSymlinksMode.TrySecure, TbotAclMode.Try, "acls: try")]
    [TestCase("symlinks: secure", TbotSymlinksMode.Secure, TbotAclMode.Required, "acls: \"required\"")]
    public void Symlinks_and_acls_modes_are_read(string symlinksLine, TbotSymlinksMode symlinks, TbotAclMode acls, string aclsLine)
    {
        var config = TbotConfigurationReader.Read(WithService($"destination:\n  type: directory\n  path: /x\n  {symlinksLine}\n  {aclsLine}")).Configuration;

        var directory = (TbotDirectoryDestination)config.Services[0].Destination;
        Assert.Multiple(() =>
        {
            Assert.That(directory.Symlinks, Is.EqualTo(symlinks));
            Assert.That(directory.Acls, Is.EqualTo(acls));
        });
    }

    [TestCase("symlinks: secur", "services[0].destination.symlinks", "(did you mean 'secure'?)")]
    [TestCase("acls: false", "services[0].destination.acls", "is not an acls mode")]
    public void Bad_modes_are_rejected(string line, string path, string reason)
    {
        var error = SingleError(WithService($"destination:\n  type: directory\n  path: /x\n  {line}"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo(path));
            Assert.That(error.Message, Does.Contain(reason));
        });
    }

    [Test]
    public void Readers_take_names_and_numeric_ids()
    {
        var config = TbotConfigurationReader.Read(WithService(
            "destination:\n  type: directory\n  path: /x\n  readers:\n    - user: teleport\n    - user: 1000\n    - group: \"456\"")).Configuration;

        Assert.That(((TbotDirectoryDestination)config.Services[0].Destination).Readers, Is.EqualTo(new[]
        {
            new TbotDirectoryReader(TbotReaderKind.User, "teleport"),
            new TbotDirectoryReader(TbotReaderKind.User, "1000"),
            new TbotDirectoryReader(TbotReaderKind.Group, "456"),
        }));
    }

    [TestCase("- {user: a, group: b}", "only one of 'user' or 'group'")]
    [TestCase("- {}", "exactly one of 'user' or 'group'")]
    [TestCase("- {user: \"\"}", "exactly one of 'user' or 'group'")]
    [TestCase("- alice", "a reader is a mapping")]
    public void Reader_entries_need_exactly_one_of_user_or_group(string entry, string reason)
    {
        var error = SingleError(WithService($"destination:\n  type: directory\n  path: /x\n  readers:\n    - {{user: ok}}\n    {entry}"));

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("services[0].destination.readers[1]"));
            Assert.That(error.Message, Does.Contain(reason));
        });
    }

    [Test]
    public void Duplicate_destinations_across_services_are_errors_naming_both()
    {
        var yaml = """
            version: v2
            proxy_server: teleport.example.com
            onboarding: {join_method: token}
            storage: {type: directory, path: /var/lib/teleport/bot}
            services:
              - type: identity
                destination: {type: directory, path: /opt/machine-id}
            outputs:
              - type: identity
                destination: {type: directory, path: /opt/machine-id/}
              - type: identity
                destination: {type: directory, path: /var/lib/teleport/bot}
            """;

        var ex = Fails(yaml);
        var messages = ex.Errors.ToDictionary(e => e.Path, e => e.Message);

        Assert.Multiple(() =>
        {
            Assert.That(messages.Keys, Is.EquivalentTo(new[] { "outputs[0].destination.path", "outputs[1].destination.path" }));
            Assert.That(messages["outputs[0].destination.path"], Does.Contain("also used by services[0].destination"));
            Assert.That(messages["outputs[1].destination.path"], Does.Contain("also used by storage"));
        });
    }

    [Test]
    public void An_output_in_the_default_storage_directory_is_a_duplicate()
    {
        var error = SingleError(WithService("destination: {type: directory, path: /var/lib/teleport/bot}"));
        Assert.That(error.Message, Does.Contain("also used by storage (default)"));
    }

    // ---- services -------------------------------------------------------------------------

    [TestCase("ssh_config: \"off\"", false)]
    [TestCase("ssh_config: off", false)]
    [TestCase("ssh_config: 'on'", true)]
    [TestCase("ssh_config: on", true)]
    [TestCase("ssh_config: ~", true)]
    public void Ssh_config_is_on_or_off_quoted_or_not(string line, bool expected)
    {
        var config = TbotConfigurationReader.Read(WithService($"destination: {{type: memory}}\n{line}")).Configuration;
        Assert.That(config.Services[0].WriteSshConfig, Is.EqualTo(expected));
    }

    [TestCase("ssh_config: false")]
    [TestCase("ssh_config: \"On\"")]
    [TestCase("ssh_config: yes")]
    public void Ssh_config_rejects_booleans_and_other_words_as_tbot_does(string line)
    {
        var error = SingleError(WithService($"destination: {{type: memory}}\n{line}"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("services[0].ssh_config"));
            Assert.That(error.Message, Does.Contain("use \"on\" or \"off\""));
        });
    }

    [Test]
    public void Service_lifetime_needs_both_ttl_and_interval()
    {
        var error = SingleError(WithService("destination: {type: memory}\ncredential_ttl: 30m"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("services[0].credential_ttl"));
            Assert.That(error.Message, Does.Contain("add 'renewal_interval'"));
        });
    }

    [Test]
    public void Service_lifetime_warnings_name_the_service()
    {
        var result = TbotConfigurationReader.Read(WithService("destination: {type: memory}\ncredential_ttl: 5m\nrenewal_interval: 10m"));

        Assert.Multiple(() =>
        {
            Assert.That(result.Configuration.Services[0].CredentialLifetime, Is.EqualTo(new TbotCredentialLifetime(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10))));
            Assert.That(result.Warnings.Single().Path, Is.EqualTo("services[0].renewal_interval"));
        });
    }

    [TestCase("application")]
    [TestCase("database")]
    [TestCase("kubernetes/v2")]
    [TestCase("workload-identity-aws-roles-anywhere")]
    public void Other_tbot_service_types_are_unsupported_by_name(string type)
    {
        var yaml = $"version: v2\nproxy_server: p.example.com\nonboarding: {{join_method: token}}\nservices:\n  - type: {type}\n    whatever: 1\n";

        var error = SingleError(yaml);

        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("services[0].type"));
            Assert.That(error.Message, Is.EqualTo($"service type '{type}' is not supported by Teleport.MachineId yet; 'identity', 'ssh-multiplexer' and 'ssh_host' services are"));
        });
    }

    [Test]
    public void Unknown_service_type_suggests_the_closest()
    {
        var yaml = "version: v2\nproxy_server: p.example.com\nonboarding: {join_method: token}\nservices:\n  - type: identiy\n";
        Assert.That(SingleError(yaml).Message, Does.Contain("did you mean 'identity'?"));
    }

    [TestCase("roles: access", "services[0].roles", "expected a list")]
    [TestCase("roles: [access, \"\"]", "services[0].roles[1]", "empty list entry")]
    [TestCase("roles: [[a]]", "services[0].roles[0]", "found a list")]
    public void Roles_must_be_a_list_of_names(string line, string path, string reason)
    {
        var error = SingleError(WithService($"destination: {{type: memory}}\n{line}"));
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo(path));
            Assert.That(error.Message, Does.Contain(reason));
        });
    }

    [Test]
    public void Service_names_follow_tbot_rules()
    {
        var yaml = """
            version: v2
            proxy_server: teleport.example.com
            onboarding: {join_method: token}
            services:
              - {type: identity, name: ssh, destination: {type: directory, path: /a}}
              - {type: identity, name: ssh, destination: {type: directory, path: /b}}
              - {type: identity, name: heartbeat, destination: {type: directory, path: /c}}
              - {type: identity, name: Bad Name, destination: {type: directory, path: /d}}
              - {type: identity, name: identity-6, destination: {type: directory, path: /e}}
              - {type: identity, destination: {type: directory, path: /f}}
              - {type: identity, destination: {type: directory, path: /g}}
            """;

        var ex = Fails(yaml);
        var messages = ex.Errors.ToDictionary(e => e.Path, e => e.Message);

        Assert.Multiple(() =>
        {
            Assert.That(messages.Keys, Is.EquivalentTo(new[] { "services[1].name", "services[2].name", "services[3].name", "services[5]" }));
            Assert.That(messages["services[1].name"], Does.Contain("used more than once"));
            Assert.That(messages["services[2].name"], Does.Contain("reserved"));
            Assert.That(messages["services[3].name"], Does.Contain("lowercase letters"));
            Assert.That(messages["services[5]"], Does.Contain("would be named 'identity-6'"));
        });
    }

    [Test]
    public void Named_services_keep_their_names()
    {
        var config = TbotConfigurationReader.Read(WithService("name: ansible_ssh+1\ndestination: {type: memory}")).Configuration;
        Assert.That(config.Services[0].Name, Is.EqualTo("ansible_ssh+1"));
    }

    [Test]
    public void Service_without_type_is_rejected()
    {
        var yaml = "version: v2\nproxy_server: p.example.com\nonboarding: {join_method: token}\nservices:\n  - destination: {type: memory}\n";
        var error = SingleError(yaml);
        Assert.Multiple(() =>
        {
            Assert.That(error.Path, Is.EqualTo("services[0].type"));
            Assert.That(error.Message, Does.Contain("'type' is required"));
        });
    }

    [Test]
    public void Services_must_be_a_list()
    {
        var yaml = "version: v2\nproxy_server: p.example.com\nonboarding: {join_method: token}\nservices:\n  type: identity\n";
        Assert.That(SingleError(yaml).Path, Is.EqualTo("services"));
    }

    // ---- files ---------------------------------------------------------------------------------

    [Test]
    public void ReadFile_names_the_file_in_the_message()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tbot-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "version: v1\n");
        try
        {
            var ex = Assert.Throws<TbotConfigurationException>(() => TbotConfigurationReader.ReadFile(path));
            Assert.That(ex!.Message, Does.StartWith($"tbot configuration {path} is not usable (1 problem):"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ReadFile_of_a_missing_file_is_an_io_error()
    {
        Assert.Throws<FileNotFoundException>(() => TbotConfigurationReader.ReadFile(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.yaml")));
    }

    [Test]
    public void ReadFile_reads_a_utf8_file_with_bom()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tbot-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Minimal, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        try
        {
            Assert.That(TbotConfigurationReader.ReadFile(path).Configuration.Services, Has.Count.EqualTo(1));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
