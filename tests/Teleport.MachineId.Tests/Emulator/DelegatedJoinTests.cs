using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire.Proto.Legacy.Client;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>
/// The emulator's server side of the OIDC-style join methods over <c>RegisterUsingToken</c>
/// (<c>IDToken</c>): GitHub (a GHES stand-in issuer), GitLab (self-hosted stand-in), Kubernetes
/// (<c>static_jwks</c> and <c>in_cluster</c>), with Teleport's checks and messages, and the bot
/// instance kept by a re-join that presents the current identity.
/// </summary>
public sealed class DelegatedJoinTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    [Test]
    public async Task GitHub_token_from_the_enterprise_issuer_matching_a_rule_joins_with_a_non_renewable_identity()
    {
        await using var cluster = await StartAsync();
        AddGitHubToken(cluster, new EmulatorGitHubRule { Repository = "acme/deploy", Ref = "refs/heads/main" });
        var idToken = cluster.OidcIssuer.MintGitHubIdToken(new EmulatorGitHubClaims { Repository = "acme/deploy" });

        using var identity = await JoinAsync(cluster, "gh-token", idToken);

        Assert.That(identity.Tls.IsRenewable, Is.False, "only token joins are renewable");
        Assert.That(identity.Tls.Username, Is.EqualTo("bot-robot"));
        Assert.That(identity.Tls.Generation, Is.EqualTo(1));
        using (var attributes = JsonDocument.Parse(identity.Tls.JoinAttributesJson!))
        {
            Assert.That(attributes.RootElement.GetProperty("meta").GetProperty("join_method").GetString(), Is.EqualTo("github"));
            Assert.That(attributes.RootElement.GetProperty("github").GetProperty("repository").GetString(), Is.EqualTo("acme/deploy"));
        }

        Assert.That(cluster.JoinTokenExists("gh-token"), Is.True, "delegated tokens are reusable");
        var join = cluster.AuditEvents.Single(e => e.Type == "bot.join" && e.Success);
        Assert.That(join.Fields["method"], Is.EqualTo("github"));
        Assert.That(join.Fields["token_name"], Is.EqualTo("gh-token"));
    }

    [TestCase("claims", "id token claims did not match any allow rules")]
    [TestCase("audience", "oidc: expected audience \"teleport.cluster.local\"")]
    [TestCase("issuer", "oidc: id token issued by a different provider")]
    [TestCase("signature", "failed to verify signature")]
    [TestCase("expired", "oidc: token is expired")]
    [TestCase("not-before", "token not before in future")]
    public async Task GitHub_token_is_refused_with_Teleport_s_reason(string fault, string reason)
    {
        await using var cluster = await StartAsync();
        AddGitHubToken(cluster, new EmulatorGitHubRule { Repository = "acme/deploy" });
        var now = cluster.TimeProvider.GetUtcNow();
        var idToken = fault switch
        {
            "claims" => cluster.OidcIssuer.MintGitHubIdToken(new EmulatorGitHubClaims { Repository = "acme/other" }),
            "audience" => cluster.OidcIssuer.MintGitHubIdToken(options: new EmulatorIdTokenOptions { Audience = "https://github.com/acme" }),
            "issuer" => cluster.OidcIssuer.MintGitHubIdToken(options: new EmulatorIdTokenOptions { Issuer = "https://token.actions.githubusercontent.com" }),
            "signature" => cluster.OidcIssuer.MintGitHubIdToken(options: new EmulatorIdTokenOptions { SignWithUnpublishedKey = true }),
            "expired" => cluster.OidcIssuer.MintGitHubIdToken(options: new EmulatorIdTokenOptions { IssuedAt = now.AddMinutes(-20), Lifetime = TimeSpan.FromMinutes(10) }),
            _ => cluster.OidcIssuer.MintGitHubIdToken(options: new EmulatorIdTokenOptions { NotBefore = now.AddMinutes(5) }),
        };
        var refused = Assert.ThrowsAsync<RpcException>(() => JoinAsync(cluster, "gh-token", idToken));
        Assert.That(refused!.Status.Detail, Does.Contain(reason));
        Assert.That(cluster.BotInstances, Is.Empty);
        Assert.That(cluster.AuditEvents.Any(e => e.Type == "bot.join" && !e.Success && e.Message.Contains(reason, StringComparison.Ordinal)), Is.True);
    }

    [Test]
    public async Task GitLab_rules_accept_globs_and_protected_flags()
    {
        await using var cluster = await StartAsync();
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "gl-token",
            BotName = EmulatorScenario.BotName,
            JoinMethod = EmulatorJoinMethods.GitLab,
            GitLab = new EmulatorGitLabJoinSpec
            {
                Domain = cluster.OidcIssuer.Host,
                Allow = [new EmulatorGitLabRule { ProjectPath = "platform/*", RefProtected = true }],
            },
        });

        using var identity = await JoinAsync(cluster, "gl-token", cluster.OidcIssuer.MintGitLabIdToken(new EmulatorGitLabClaims { NamespacePath = "platform", ProjectPath = "platform/infra" }));
        Assert.That(identity.Tls.BotName, Is.EqualTo("robot"));

        var unprotected = cluster.OidcIssuer.MintGitLabIdToken(new EmulatorGitLabClaims { ProjectPath = "platform/infra", RefProtected = false });
        Assert.That(Assert.ThrowsAsync<RpcException>(() => JoinAsync(cluster, "gl-token", unprotected))!.Status.Detail,
            Does.Contain("id token claims did not match any allow rules"));
        var githubAudience = cluster.OidcIssuer.MintGitLabIdToken(new EmulatorGitLabClaims { ProjectPath = "platform/infra" }, new EmulatorIdTokenOptions { Audience = "teleport.cluster.local" });
        Assert.That(Assert.ThrowsAsync<RpcException>(() => JoinAsync(cluster, "gl-token", githubAudience))!.Status.Detail,
            Does.Contain($"oidc: expected audience \"{cluster.ClusterName}\""), "GitLab tokens are for the cluster name");
    }

    [TestCase(EmulatorKubernetesJoinSpec.StaticJwksType)]
    [TestCase(EmulatorKubernetesJoinSpec.InCluster)]
    public async Task Kubernetes_service_account_token_joins_when_the_account_is_allowed(string type)
    {
        await using var cluster = await StartAsync();
        AddKubernetesToken(cluster, type);

        using var identity = await JoinAsync(cluster, "kube-token", cluster.Kubernetes.MintServiceAccountToken("ci:tbot"));
        Assert.That(identity.Tls.BotName, Is.EqualTo("robot"));

        var other = cluster.Kubernetes.MintServiceAccountToken("ci:intruder");
        Assert.That(Assert.ThrowsAsync<RpcException>(() => JoinAsync(cluster, "kube-token", other))!.Status.Detail,
            Does.Contain("kubernetes token did not match any allow rules"));
    }

    [TestCase("unbound", "static_jwks joining requires the use of projected pod bound service account token")]
    [TestCase("long-lived", "static_jwks joining requires the use of a service account token with a TTL of less than 30m0s")]
    [TestCase("audience", "validating jwt claims: go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)")]
    [TestCase("expired", "validating jwt claims: go-jose/go-jose/jwt: validation failed, token is expired (exp)")]
    [TestCase("signature", "validating jwt signature")]
    public async Task Static_jwks_tokens_are_checked_as_Teleport_checks_them(string fault, string reason)
    {
        await using var cluster = await StartAsync();
        AddKubernetesToken(cluster, EmulatorKubernetesJoinSpec.StaticJwksType);
        var now = cluster.TimeProvider.GetUtcNow();
        var options = fault switch
        {
            "unbound" => new EmulatorServiceAccountTokenOptions { PodName = null },
            "long-lived" => new EmulatorServiceAccountTokenOptions { Lifetime = TimeSpan.FromHours(1) },
            "audience" => new EmulatorServiceAccountTokenOptions { Audience = EmulatorKubernetesCluster.DefaultAudience },
            "expired" => new EmulatorServiceAccountTokenOptions { IssuedAt = now.AddMinutes(-20) },
            _ => new EmulatorServiceAccountTokenOptions { SignWithUnpublishedKey = true },
        };

        var refused = Assert.ThrowsAsync<RpcException>(() => JoinAsync(cluster, "kube-token", cluster.Kubernetes.MintServiceAccountToken("ci:tbot", options)));
        Assert.That(refused!.Status.Detail, Does.Contain(reason));
    }

    [Test]
    public async Task Re_join_on_Auth_presenting_the_current_identity_keeps_the_bot_instance()
    {
        var clock = new FakeTimeProvider(Start);
        await using var cluster = await StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        AddKubernetesToken(cluster, EmulatorKubernetesJoinSpec.StaticJwksType);
        using var first = await JoinAsync(cluster, "kube-token", cluster.Kubernetes.MintServiceAccountToken("ci:tbot"));
        clock.Advance(TimeSpan.FromMinutes(20));

        using var second = await JoinAsync(cluster, "kube-token", cluster.Kubernetes.MintServiceAccountToken("ci:tbot"), first);
        using var third = await JoinAsync(cluster, "kube-token", cluster.Kubernetes.MintServiceAccountToken("ci:tbot"), second);

        var instance = cluster.BotInstances.Single();
        Assert.That(third.Tls.BotInstanceId, Is.EqualTo(first.Tls.BotInstanceId));
        Assert.That(third.Tls.Generation, Is.EqualTo(3));
        Assert.That(instance.Generation, Is.EqualTo(3));
        Assert.That(instance.Authentications.Select(a => a.JoinMethod), Is.All.EqualTo("kubernetes"));

        using var fresh = await JoinAsync(cluster, "kube-token", cluster.Kubernetes.MintServiceAccountToken("ci:tbot"));
        Assert.That(fresh.Tls.BotInstanceId, Is.Not.EqualTo(first.Tls.BotInstanceId), "without an identity, a new instance");
    }

    [Test]
    public async Task Token_specs_are_validated_as_Teleport_validates_them()
    {
        await using var cluster = await StartAsync();
        Assert.That(() => cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "empty",
            BotName = EmulatorScenario.BotName,
            JoinMethod = EmulatorJoinMethods.GitHub,
            GitHub = new EmulatorGitHubJoinSpec(),
        }), Throws.ArgumentException.With.Message.Contains("requires defined github allow rules"));
        Assert.That(() => cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "bad-account",
            BotName = EmulatorScenario.BotName,
            JoinMethod = EmulatorJoinMethods.Kubernetes,
            Kubernetes = new EmulatorKubernetesJoinSpec { AllowServiceAccounts = ["tbot"] },
        }), Throws.ArgumentException.With.Message.Contains("\"namespace:service_account\""));
    }

    [Test]
    public async Task Resource_yaml_reads_delegated_and_bound_keypair_tokens_in_Teleport_s_shape()
    {
        await using var cluster = await StartAsync();
        cluster.ApplyResources($$"""
            kind: token
            version: v2
            metadata: {name: gh}
            spec:
              roles: [Bot]
              join_method: github
              bot_name: robot
              github:
                enterprise_server_host: {{cluster.OidcIssuer.Host}}
                allow:
                  - repository: acme/deploy
                    ref_type: branch
            ---
            kind: token
            version: v2
            metadata: {name: kube}
            spec:
              roles: [Bot]
              join_method: kubernetes
              bot_name: robot
              kubernetes:
                type: static_jwks
                static_jwks:
                  jwks: '{{cluster.Kubernetes.Jwks}}'
                allow:
                  - service_account: "ci:tbot"
            ---
            kind: token
            version: v2
            metadata: {name: bkp}
            spec:
              roles: [Bot]
              join_method: bound_keypair
              bot_name: robot
              bound_keypair:
                onboarding:
                  registration_secret: not-a-real-secret
                recovery:
                  mode: standard
                  limit: 2
            """);

        using var github = await JoinAsync(cluster, "gh", cluster.OidcIssuer.MintGitHubIdToken(new EmulatorGitHubClaims { Repository = "acme/deploy" }));
        using var kube = await JoinAsync(cluster, "kube", cluster.Kubernetes.MintServiceAccountToken("ci:tbot"));
        var status = cluster.GetBoundKeypairStatus("bkp")!;
        Assert.That(status.RegistrationSecret, Is.EqualTo("not-a-real-secret"));
        Assert.That(status.RecoveryCount, Is.Zero);
        Assert.That(status.BoundPublicKey, Is.Null);
    }

    internal static async Task<TeleportEmulator> StartAsync(TeleportEmulatorOptions? options = null) =>
        await EmulatorScenario.StartAsync(options ?? new TeleportEmulatorOptions { TimeProvider = new FakeTimeProvider(Start) });

    private static void AddGitHubToken(TeleportEmulator cluster, EmulatorGitHubRule rule) =>
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "gh-token",
            BotName = EmulatorScenario.BotName,
            JoinMethod = EmulatorJoinMethods.GitHub,
            GitHub = new EmulatorGitHubJoinSpec { EnterpriseServerHost = cluster.OidcIssuer.Host, Allow = [rule] },
        });

    private static void AddKubernetesToken(TeleportEmulator cluster, string type) =>
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "kube-token",
            BotName = EmulatorScenario.BotName,
            JoinMethod = EmulatorJoinMethods.Kubernetes,
            Kubernetes = new EmulatorKubernetesJoinSpec
            {
                Type = type,
                AllowServiceAccounts = ["ci:tbot"],
                StaticJwks = type == EmulatorKubernetesJoinSpec.StaticJwksType ? cluster.Kubernetes.Jwks : null,
            },
        });

    /// <summary><c>RegisterUsingToken</c> with an ID token on Auth, optionally presenting a current identity.</summary>
    private static async Task<TestIdentity> JoinAsync(TeleportEmulator cluster, string tokenName, string idToken, TestIdentity? current = null)
    {
        var key = PrivateKey.Generate(cluster.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);
        using var channel = current is null ? EmulatorClient.AuthDirect(cluster) : EmulatorClient.Auth(cluster, current.ClientCertificate);
        var request = EmulatorScenario.JoinRequest(key, tokenName);
        request.IDToken = idToken;
        var certs = await new JoinService.JoinServiceClient(channel).RegisterUsingTokenAsync(request, EmulatorClient.Options());
        return TestIdentity.FromCerts(key, certs);
    }
}
