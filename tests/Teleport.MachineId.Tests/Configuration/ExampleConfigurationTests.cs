using Teleport.MachineId.Configuration;

namespace Teleport.MachineId.Tests.Configuration;

/// <summary>The configurations shipped in <c>examples/</c> must read cleanly.</summary>
public sealed class ExampleConfigurationTests
{
    [Test]
    public void Ssh_guide_example_reads_without_warnings()
    {
        var result = TbotConfigurationReader.ReadFile(ConfigurationTestFiles.RepositoryPath("examples/tbot.yaml"));
        var config = result.Configuration;

        Assert.Multiple(() =>
        {
            Assert.That(result.Warnings, Is.Empty, string.Join("\n", result.Warnings));
            Assert.That(config.ProxyServer!.ToString(), Is.EqualTo("teleport.example.com:443"));
            Assert.That(config.Onboarding.JoinMethod, Is.EqualTo(TbotJoinMethod.Token));
            Assert.That(config.Onboarding.Token!.FilePath, Is.EqualTo("/var/lib/teleport/bot-token"));
            var storage = (TbotDirectoryDestination)config.Storage;
            Assert.That(storage.Path, Is.EqualTo("/var/lib/teleport/bot"));
            Assert.That(storage.Symlinks, Is.EqualTo(TbotSymlinksMode.TrySecure));
            Assert.That(storage.Readers, Is.Empty);
            Assert.That(config.CredentialLifetime, Is.EqualTo(TbotCredentialLifetime.Default));
            var service = config.Services.Single();
            Assert.That(((TbotDirectoryDestination)service.Destination).Path, Is.EqualTo("/opt/machine-id"));
            Assert.That(service.Roles, Is.EqualTo(new[] { "access" }));
            Assert.That(service.WriteSshConfig, Is.True);
        });
    }

    [Test]
    public void Oneshot_example_reads_with_the_token_from_the_environment()
    {
        var path = ConfigurationTestFiles.RepositoryPath("examples/tbot-oneshot.yaml");

        // Memory storage keeps nothing, so without TELEPORT_BOT_TOKEN the bot could never join.
        var ex = Assert.Throws<TbotConfigurationException>(() => TbotConfigurationReader.ReadFile(path));
        Assert.That(ex!.Errors.Single().Path, Is.EqualTo("onboarding.token"));

        var overrides = TbotConfigurationOverrides.FromEnvironment(
            name => name == "TELEPORT_BOT_TOKEN" ? "ci-join-token" : null);
        var result = TbotConfigurationReader.ReadFile(path, overrides);
        var config = result.Configuration;

        Assert.Multiple(() =>
        {
            Assert.That(config.Oneshot, Is.True);
            Assert.That(config.Storage, Is.InstanceOf<TbotMemoryDestination>());
            Assert.That(config.CredentialLifetime, Is.EqualTo(new TbotCredentialLifetime(TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(10))));
            var service = config.Services.Single();
            Assert.That(service.Name, Is.EqualTo("ansible"));
            Assert.That(
                ((TbotDirectoryDestination)service.Destination).Readers,
                Is.EqualTo(new[] { new TbotDirectoryReader(TbotReaderKind.Group, "ansible") }));
            Assert.That(result.Warnings.Select(w => w.Path), Is.EqualTo(new[] { "onboarding" }), "join_method in the file is replaced");
        });
    }

    [TestCase("examples/github/tbot.yaml", TbotJoinMethod.GitHub, "github-deploy")]
    [TestCase("examples/gitlab/tbot.yaml", TbotJoinMethod.GitLab, "gitlab-deploy")]
    [TestCase("examples/kubernetes/tbot.yaml", TbotJoinMethod.Kubernetes, "kubernetes-in-cluster")]
    [TestCase("examples/bound-keypair/tbot.yaml", TbotJoinMethod.BoundKeypair, "bound-keypair-host")]
    public void Join_method_examples_read_without_warnings(string file, TbotJoinMethod method, string tokenName)
    {
        var result = TbotConfigurationReader.ReadFile(ConfigurationTestFiles.RepositoryPath(file));
        var options = result.Configuration.ToMachineIdOptions();

        Assert.Multiple(() =>
        {
            Assert.That(result.Warnings, Is.Empty, string.Join("\n", result.Warnings));
            Assert.That(result.Configuration.Onboarding.JoinMethod, Is.EqualTo(method));
            Assert.That(options.Token, Is.EqualTo(tokenName));
            Assert.That(result.Configuration.Services.Single().Roles, Is.EqualTo(new[] { "access" }));
        });
        switch (method)
        {
            case TbotJoinMethod.GitLab:
                Assert.That(options.GitLab.TokenEnvironmentVariable, Is.EqualTo("TBOT_GITLAB_JWT"));
                break;
            case TbotJoinMethod.Kubernetes:
                Assert.That(options.Kubernetes.TokenPath, Is.EqualTo("/var/run/secrets/tbot/token"));
                break;
            case TbotJoinMethod.BoundKeypair:
                Assert.That(options.BoundKeypair.RegistrationSecretPath, Is.EqualTo("/etc/tbot/registration-secret"));
                Assert.That(options.StorageType, Is.EqualTo(BotStorageType.Directory));
                break;
        }
    }
}
