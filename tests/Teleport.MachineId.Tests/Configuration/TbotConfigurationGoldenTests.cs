using Teleport.MachineId.Configuration;

namespace Teleport.MachineId.Tests.Configuration;

/// <summary>tbot's own YAML (lib/tbot/config/testdata, v18.0.0) read by our reader.</summary>
public sealed class TbotConfigurationGoldenTests
{
    [Test]
    public void Identity_output_full_golden_parses_into_the_expected_service()
    {
        var service = TbotConfigurationParser.ParseServiceFragment(ConfigurationTestFiles.Golden("identity-output-full.golden"));

        Assert.Multiple(() =>
        {
            Assert.That(service.Destination, Is.InstanceOf<TbotMemoryDestination>());
            Assert.That(service.Roles, Is.EqualTo(new[] { "access" }));
            Assert.That(service.Cluster, Is.EqualTo("leaf.example.com"));
            Assert.That(service.WriteSshConfig, Is.False, "ssh_config: \"off\"");
            Assert.That(service.AllowReissue, Is.True);
            Assert.That(service.CredentialLifetime, Is.EqualTo(new TbotCredentialLifetime(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(30))));
            Assert.That(service.Name, Is.Null);
        });
    }

    [Test]
    public void Identity_output_minimal_golden_parses_with_tbot_defaults()
    {
        var service = TbotConfigurationParser.ParseServiceFragment(ConfigurationTestFiles.Golden("identity-output-minimal.golden"));

        Assert.Multiple(() =>
        {
            Assert.That(service.Destination, Is.InstanceOf<TbotMemoryDestination>());
            Assert.That(service.Roles, Is.Empty);
            Assert.That(service.Cluster, Is.Null);
            Assert.That(service.WriteSshConfig, Is.True);
            Assert.That(service.AllowReissue, Is.False);
            Assert.That(service.CredentialLifetime, Is.Null);
        });
    }

    [Test]
    public void Directory_destination_full_golden_parses()
    {
        var destination = TbotConfigurationParser.ParseDestinationFragment(
            ConfigurationTestFiles.Golden("TestDestinationDirectory_YAML-full.golden"));

        var directory = destination as TbotDirectoryDestination;
        Assert.That(directory, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(directory!.Path, Is.EqualTo("/my/path"));
            Assert.That(directory.Symlinks, Is.EqualTo(TbotSymlinksMode.Secure));
            Assert.That(directory.Acls, Is.EqualTo(TbotAclMode.Required));
            Assert.That(directory.Readers, Is.Empty);
        });
    }

    [Test]
    public void Directory_destination_acl_readers_golden_parses()
    {
        var destination = TbotConfigurationParser.ParseDestinationFragment(
            ConfigurationTestFiles.Golden("TestDestinationDirectory_YAML-acl_readers.golden"));

        var directory = destination as TbotDirectoryDestination;
        Assert.That(directory, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(directory!.Path, Is.EqualTo("/my/path"));
            Assert.That(directory.Symlinks, Is.EqualTo(TbotSymlinksMode.TrySecure), "default");
            Assert.That(directory.Acls, Is.EqualTo(TbotAclMode.Required));
            Assert.That(directory.Readers, Is.EqualTo(new[]
            {
                new TbotDirectoryReader(TbotReaderKind.User, "foo"),
                new TbotDirectoryReader(TbotReaderKind.Group, "123"),
            }));
        });
    }

    [Test]
    public void Standard_config_golden_fails_naming_exactly_its_unsupported_parts()
    {
        var yaml = ConfigurationTestFiles.Golden("TestBotConfig_YAML-standard_config.golden");

        var ex = Assert.Throws<TbotConfigurationException>(() => TbotConfigurationReader.Read(yaml, sourceName: "standard_config.golden"));

        var byPath = ex!.Errors.ToDictionary(e => e.Path, e => e.Message);
        Assert.That(byPath.Keys, Is.EquivalentTo(new[]
        {
            "outputs[2].destination.type",
            "services[0].type",
            "services[1].type",
            "services[2].destination.path",
            "services[3].type",
            "services[4].type",
            "services[5].type",
            "services[6].type",
            "fips",
        }));
        Assert.Multiple(() =>
        {
            Assert.That(byPath["outputs[2].destination.type"], Does.Contain("kubernetes_secret").And.Contain("not supported"));
            Assert.That(byPath["services[0].type"], Does.Contain("'spiffe-workload-api'"));
            Assert.That(byPath["services[1].type"], Does.Contain("'example'"));
            Assert.That(byPath["services[2].destination.path"], Does.Contain("'/bot/output' is also used by outputs[0].destination"),
                "the ssh-multiplexer is supported; the golden reuses another output's directory");
            Assert.That(byPath["services[3].type"], Does.Contain("'application-tunnel'"));
            Assert.That(byPath["services[4].type"], Does.Contain("'workload-identity-x509'"));
            Assert.That(byPath["services[5].type"], Does.Contain("'workload-identity-api'"));
            Assert.That(byPath["services[6].type"], Does.Contain("'workload-identity-jwt'"));
            foreach (var path in byPath.Keys.Where(p => p.StartsWith("services[", StringComparison.Ordinal) && p.EndsWith(".type", StringComparison.Ordinal)))
            {
                Assert.That(byPath[path], Does.Contain("not supported by Teleport.MachineId yet"), path);
            }

            Assert.That(byPath["fips"], Does.Contain("FIPS"));
            Assert.That(ex.Errors.All(e => e.Line is > 0 && e.Column is > 0), Is.True, "every problem has a position");
            Assert.That(ex.Message, Does.StartWith("tbot configuration standard_config.golden is not usable (9 problems):"));
            Assert.That(ex.Message, Does.Not.Contain("my-gitlab-token"), "the token never appears");
        });
    }

    [Test]
    public void Standard_config_golden_errors_point_at_the_offending_lines()
    {
        var yaml = ConfigurationTestFiles.Golden("TestBotConfig_YAML-standard_config.golden");
        var lines = yaml.Split('\n');

        var ex = Assert.Throws<TbotConfigurationException>(() => TbotConfigurationReader.Read(yaml));

        foreach (var error in ex!.Errors)
        {
            var line = lines[error.Line!.Value - 1];
            var value = line[(error.Column!.Value - 1)..];
            Assert.That(
                value,
                Does.StartWith("kubernetes_secret").Or.StartWith("true")
                    .Or.StartWith("spiffe-workload-api").Or.StartWith("example").Or.StartWith("/bot/output")
                    .Or.StartWith("application-tunnel").Or.StartWith("workload-identity-"),
                error.ToString());
        }
    }
}
