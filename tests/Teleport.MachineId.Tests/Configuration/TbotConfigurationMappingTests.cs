using Teleport.MachineId.Configuration;
using Teleport.MachineId.Destinations;

namespace Teleport.MachineId.Tests.Configuration;

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class TbotConfigurationMappingTests
{
    [Test]
    public void A_tbot_yaml_maps_to_valid_provider_options()
    {
        var pin = "sha256:" + new string('c', 64);
        var yaml = $"""
            version: v2
            auth_server: auth.example.com:3025
            credential_ttl: 2h
            renewal_interval: 30m
            onboarding:
              join_method: token
              token: /var/lib/teleport/bot-token
              ca_pins: ["{pin}"]
            storage:
              type: directory
              path: /var/lib/teleport/bot
            """;
        var options = TbotConfigurationReader.Read(yaml).Configuration.ToMachineIdOptions();
        Assert.Multiple(() =>
        {
            Assert.That(options.AuthServer, Is.EqualTo("auth.example.com:3025"));
            Assert.That(options.ProxyServer, Is.Null);
            Assert.That(options.TokenFile, Is.EqualTo("/var/lib/teleport/bot-token"));
            Assert.That(options.Token, Is.Null);
            Assert.That(options.CaPins, Is.EqualTo(new[] { pin }));
            Assert.That(options.CredentialTtl, Is.EqualTo(TimeSpan.FromHours(2)));
            Assert.That(options.RenewalMode, Is.EqualTo(BotRenewalMode.FixedInterval));
            Assert.That(options.RenewalInterval, Is.EqualTo(TimeSpan.FromMinutes(30)));
            Assert.That(options.StorageType, Is.EqualTo(BotStorageType.Directory));
            Assert.That(options.StoragePath, Is.EqualTo("/var/lib/teleport/bot"));
            Assert.That(new MachineIdOptionsValidator().Validate(null, options).Succeeded, Is.True);
        });
    }

    [Test]
    public void An_inline_token_and_memory_storage_map_too()
    {
        var yaml = """
            version: v2
            proxy_server: teleport.example.com:443
            onboarding:
              token: abcdef123
            storage:
              type: memory
            """;
        var options = TbotConfigurationReader.Read(yaml).Configuration.ToMachineIdOptions();
        Assert.Multiple(() =>
        {
            Assert.That(options.ProxyServer, Is.EqualTo("teleport.example.com:443"));
            Assert.That(options.Token, Is.EqualTo("abcdef123"));
            Assert.That(options.StorageType, Is.EqualTo(BotStorageType.Memory));
        });
    }

    [Test]
    public void Identity_services_map_to_output_options_with_their_destination_modes_and_lifetimes()
    {
        var yaml = """
            version: v2
            proxy_server: teleport.example.com:443
            credential_ttl: 2h
            renewal_interval: 30m
            onboarding:
              token: abcdef123
            storage:
              type: memory
            services:
              - type: identity
                name: ssh
                roles: [access, ops]
                cluster: leaf.example.com
                allow_reissue: true
                credential_ttl: 4h
                renewal_interval: 1h
                destination:
                  type: directory
                  path: /opt/machine-id
                  symlinks: secure
                  acls: required
                  readers:
                    - user: teleport
                    - group: "1000"
              - type: identity
                ssh_config: "off"
                destination:
                  type: memory
            """;
        var configuration = TbotConfigurationReader.Read(yaml).Configuration;
        var outputs = configuration.ToIdentityOutputOptions();

        Assert.That(outputs, Has.Count.EqualTo(2));
        var ssh = outputs[0];
        var directory = (DirectoryDestination)ssh.Destination!;
        var directoryOptions = ((TbotDirectoryDestination)configuration.Services[0].Destination).ToDirectoryDestinationOptions();
        Assert.Multiple(() =>
        {
            Assert.That(ssh.Name, Is.EqualTo("ssh"));
            Assert.That(ssh.Roles, Is.EqualTo(new[] { "access", "ops" }));
            Assert.That(ssh.Cluster, Is.EqualTo("leaf.example.com"));
            Assert.That(ssh.AllowReissue, Is.True);
            Assert.That(ssh.WriteSshConfig, Is.True);
            Assert.That(ssh.CredentialTtl, Is.EqualTo(TimeSpan.FromHours(4)));
            Assert.That(ssh.RenewalInterval, Is.EqualTo(TimeSpan.FromHours(1)));
            Assert.That(directory.Path, Is.EqualTo("/opt/machine-id"));
            Assert.That(directoryOptions.Path, Is.EqualTo("/opt/machine-id"));
            Assert.That(directoryOptions.Symlinks, Is.EqualTo(SymlinkMode.Secure));
            Assert.That(directoryOptions.Acls, Is.EqualTo(AclMode.Required));
            Assert.That(directoryOptions.Readers, Is.EqualTo(new[] { AclReader.User("teleport"), AclReader.Group(1000) }));
            Assert.That(outputs[1].Destination, Is.TypeOf<MemoryDestination>());
            Assert.That(outputs[1].WriteSshConfig, Is.False);
            Assert.That(outputs[1].CredentialTtl, Is.EqualTo(TimeSpan.FromHours(2)), "the bot's lifetime");
            Assert.That(outputs[1].RenewalInterval, Is.EqualTo(TimeSpan.FromMinutes(30)));
        });
    }
}
