using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Testing;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Identity.Joining;

/// <summary>
/// The delegated join methods through the provider against the emulator (real wire client, shared
/// simulated time): renewal by re-joining for many cycles keeps one bot instance, a restart from
/// storage continues without a new secret, an expired identity is recovered unattended.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class DelegatedJoinMethodEmulatorTests
{
    [Test]
    public async Task Kubernetes_bot_re_joins_at_each_renewal_keeping_its_instance_and_restarts_from_storage_with_its_token_file()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        fixture.Emulator.AddJoinToken(new EmulatorJoinToken
        {
            Name = "kube-bot",
            BotName = EmulatorBotFixture.BotName,
            JoinMethod = EmulatorJoinMethods.Kubernetes,
            Kubernetes = new EmulatorKubernetesJoinSpec { Type = EmulatorKubernetesJoinSpec.StaticJwksType, StaticJwks = fixture.Emulator.Kubernetes.Jwks, AllowServiceAccounts = ["ci:tbot"] },
        });
        var tokenPath = Path.Combine(fixture.Directory, "sa-token");

        // The kubelet keeps the projected token fresh; here every simulated step rewrites it.
        void Kubelet(DateTimeOffset now) => File.WriteAllText(tokenPath, fixture.Emulator.Kubernetes.MintServiceAccountToken("ci:tbot", new EmulatorServiceAccountTokenOptions { Lifetime = TimeSpan.FromMinutes(30) }));
        Kubelet(fixture.Time.GetUtcNow());
        var options = DelegatedOptions(fixture, MachineIdOptions.KubernetesJoinMethod, "kube-bot");
        options.Kubernetes.TokenPath = tokenPath;
        options.CredentialTtl = TimeSpan.FromMinutes(20);

        string instanceId;
        await using (var provider = fixture.CreateProvider(options))
        {
            await provider.StartAsync();
            var joined = await provider.WaitUntilReadyAsync();
            instanceId = joined.InstanceId!;
            Assert.That(joined.IsRenewable, Is.False, "kubernetes identities are not renewable");

            await RunUntilAsync(fixture.Time, provider, fixture.Time.GetUtcNow().AddHours(2), Kubelet);

            // Each re-join is a new generation of the same instance (the generation, unlike IdentityChanged handlers, is published with the identity).
            var rejoins = provider.Current!.Generation - joined.Generation;
            Assert.That(rejoins, Is.GreaterThanOrEqualTo(5), "re-joins at about 2/3 of 20 minutes");
            Assert.That(provider.Current!.InstanceId, Is.EqualTo(instanceId));
        }

        // A new process on the same storage continues with the token file alone.
        Kubelet(fixture.Time.GetUtcNow());
        await using (var restarted = fixture.CreateProvider(options))
        {
            await restarted.StartAsync();
            await restarted.WaitUntilReadyAsync();
            await RunUntilAsync(fixture.Time, restarted, fixture.Time.GetUtcNow().AddMinutes(30), Kubelet);
            Assert.That(restarted.Current!.InstanceId, Is.EqualTo(instanceId));
        }

        var instance = fixture.Emulator.BotInstances.Single();
        Assert.That(instance.Authentications.Select(a => a.JoinMethod), Is.All.EqualTo("kubernetes"));
        Assert.That(fixture.Emulator.Locks, Is.Empty);
    }

    [Test]
    public async Task GitHub_bot_gets_its_id_tokens_from_the_runner_endpoint_at_each_renewal()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        fixture.Emulator.AddJoinToken(new EmulatorJoinToken
        {
            Name = "gh-bot",
            BotName = EmulatorBotFixture.BotName,
            JoinMethod = EmulatorJoinMethods.GitHub,
            GitHub = new EmulatorGitHubJoinSpec { EnterpriseServerHost = fixture.Emulator.OidcIssuer.Host, Allow = [new EmulatorGitHubRule { Repository = "acme/deploy" }] },
        });
        var job = fixture.Emulator.OidcIssuer.CreateGitHubActionsJob(new EmulatorGitHubClaims { Repository = "acme/deploy" });
        var environment = new Dictionary<string, string>
        {
            ["ACTIONS_ID_TOKEN_REQUEST_URL"] = job.RequestUrl,
            ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = job.RequestToken,
        };
        var options = DelegatedOptions(fixture, MachineIdOptions.GitHubJoinMethod, "gh-bot");
        var registry = JoinMethodRegistry.WithDefaults(IdTokenJoinMethod.GitHub(environment.GetValueOrDefault));
        await using var provider = fixture.CreateProvider(options, registry: registry);

        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();
        Assert.That(joined.IsRenewable, Is.False, "github identities are not renewable");
        await RunUntilAsync(fixture.Time, provider, fixture.Time.GetUtcNow().AddHours(4));

        var rejoins = provider.Current!.Generation - joined.Generation;
        Assert.That(rejoins, Is.GreaterThanOrEqualTo(5), "renewed by re-joining");
        Assert.That(job.RequestedAudiences, Has.Count.EqualTo(1 + rejoins), "one fresh ID token from the runner per join");
        Assert.That(job.RequestedAudiences, Is.All.EqualTo("teleport.cluster.local"));
        Assert.That(provider.Current!.InstanceId, Is.EqualTo(joined.InstanceId));
        Assert.That(fixture.Emulator.BotInstances.Single().Generation, Is.EqualTo(provider.Current.Generation));
    }

    [Test]
    public async Task Bound_keypair_bot_registers_re_joins_rotates_and_restarts_without_the_secret()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync(EmulatorJoinApis.LegacyAndUnified);
        fixture.Emulator.AddJoinToken(BoundKeypairToken(new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "bkp-secret-e2e", RecoveryLimit = 2 }));
        var options = DelegatedOptions(fixture, MachineIdOptions.BoundKeypairJoinMethod, "bkp-bot");
        options.BoundKeypair.RegistrationSecret = "bkp-secret-e2e";
        options.CredentialTtl = TimeSpan.FromMinutes(20);

        string instanceId;
        await using (var provider = fixture.CreateProvider(options))
        {
            await provider.StartAsync();
            var joined = await provider.WaitUntilReadyAsync();
            instanceId = joined.InstanceId!;
            Assert.That(joined.IsRenewable, Is.False, "bound keypair identities are not renewable");
            await RunUntilAsync(fixture.Time, provider, fixture.Time.GetUtcNow().AddHours(2));
            Assert.That(provider.Current!.Generation - joined.Generation, Is.GreaterThanOrEqualTo(5), "renewed by re-joining (a challenge signed with the bound key each time)");
            Assert.That(provider.Current.InstanceId, Is.EqualTo(instanceId));

            // The admin asks for a rotation; the next re-join rotates.
            fixture.Emulator.UpdateJoinToken(BoundKeypairToken(new EmulatorBoundKeypairJoinSpec
            {
                RegistrationSecret = "bkp-secret-e2e", RecoveryLimit = 2, RotateAfter = fixture.Time.GetUtcNow(),
            }));
            await RunUntilAsync(fixture.Time, provider, fixture.Time.GetUtcNow().AddHours(2));
            Assert.That(provider.Current!.InstanceId, Is.EqualTo(instanceId));
        }

        var status = fixture.Emulator.GetBoundKeypairStatus("bkp-bot")!;
        Assert.That(status.RecoveryCount, Is.EqualTo(1), "only the first join was a recovery");
        Assert.That(status.LastRotatedAt, Is.Not.Null);
        Assert.That(File.Exists(Path.Combine(fixture.StoragePath, "bkp_key_history.json")), Is.True);

        // A restart needs no secret: the storage holds the bound key and the join state.
        options.BoundKeypair.RegistrationSecret = null;
        await using (var restarted = fixture.CreateProvider(options))
        {
            await restarted.StartAsync();
            await restarted.WaitUntilReadyAsync();
            await RunUntilAsync(fixture.Time, restarted, fixture.Time.GetUtcNow().AddHours(1));
            Assert.That(restarted.Current!.InstanceId, Is.EqualTo(instanceId));
        }

        // Offline past expiry: the next start recovers unattended (a new instance, one more recovery).
        fixture.Time.Advance(TimeSpan.FromHours(5));
        await using (var recovered = fixture.CreateProvider(options))
        {
            await recovered.StartAsync();
            var identity = await recovered.WaitUntilReadyAsync();
            Assert.That(identity.InstanceId, Is.Not.EqualTo(instanceId));
        }

        Assert.That(fixture.Emulator.GetBoundKeypairStatus("bkp-bot")!.RecoveryCount, Is.EqualTo(2));
        Assert.That(fixture.Emulator.Locks, Is.Empty);
    }

    internal static EmulatorJoinToken BoundKeypairToken(EmulatorBoundKeypairJoinSpec spec) =>
        new() { Name = "bkp-bot", BotName = EmulatorBotFixture.BotName, JoinMethod = EmulatorJoinMethods.BoundKeypair, BoundKeypair = spec };

    internal static MachineIdOptions DelegatedOptions(EmulatorBotFixture fixture, string method, string tokenName)
    {
        var options = fixture.Options();
        options.TokenFile = null;
        options.JoinMethod = method;
        options.Token = tokenName;
        return options;
    }
}
