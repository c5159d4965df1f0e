using Teleport.MachineId.Configuration;

namespace Teleport.MachineId.Tests.Identity;

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
}
