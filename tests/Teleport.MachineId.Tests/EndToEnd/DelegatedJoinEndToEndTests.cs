using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Cli;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// Every delegated join method end to end, as a user runs it: the emulator holds the token resource
/// (and stands in for the GitHub Enterprise Server / GitLab issuer, the Actions runner and the pod's
/// Kubernetes), <c>tbot-dotnet start … --oneshot</c> joins and writes the identity output, and real
/// <c>ssh -F ssh_config</c> reaches a real sshd through the proxy. Refusals exit 3 naming the reason.
/// One cluster and sshd serve the whole fixture.
/// </summary>
[Category("EndToEnd")]
[NonParallelizable]
public sealed class DelegatedJoinEndToEndTests
{
    private static readonly string LocalHostname = Environment.MachineName;
    private NodeEnvironment _env = null!;
    private SshTestDirectory _work = null!;
    private string _webCa = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _env = await NodeEnvironment.StartAsync(new TeleportEmulatorOptions { JoinApis = EmulatorJoinApis.LegacyAndUnified });
        _work = new SshTestDirectory("tmid-delegated");
        _webCa = _work.Write("web-ca.pem", _env.Cluster.WebCaCertificatePem);
        var cluster = _env.Cluster;
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "gh-bot",
            BotName = NodeEnvironment.BotName,
            JoinMethod = EmulatorJoinMethods.GitHub,
            GitHub = new EmulatorGitHubJoinSpec
            {
                EnterpriseServerHost = cluster.OidcIssuer.Host,
                Allow = [new EmulatorGitHubRule { Repository = "acme/deploy", RefType = "branch" }],
            },
        });
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "gl-bot",
            BotName = NodeEnvironment.BotName,
            JoinMethod = EmulatorJoinMethods.GitLab,
            GitLab = new EmulatorGitLabJoinSpec { Domain = cluster.OidcIssuer.Host, Allow = [new EmulatorGitLabRule { ProjectPath = "platform/*" }] },
        });
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "kube-bot",
            BotName = NodeEnvironment.BotName,
            JoinMethod = EmulatorJoinMethods.Kubernetes,
            Kubernetes = new EmulatorKubernetesJoinSpec { Type = EmulatorKubernetesJoinSpec.StaticJwksType, StaticJwks = cluster.Kubernetes.Jwks, AllowServiceAccounts = ["ci:tbot"] },
        });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _env.DisposeAsync();
        _work.Dispose();
    }

    [Test]
    public async Task GitHub_job_joins_with_the_runner_s_id_token_and_reaches_the_node()
    {
        var job = _env.Cluster.OidcIssuer.CreateGitHubActionsJob(new EmulatorGitHubClaims { Repository = "acme/deploy" });
        var destination = Destination("github");

        var run = await StartAsync("github", "gh-bot", destination, [], new()
        {
            ["ACTIONS_ID_TOKEN_REQUEST_URL"] = job.RequestUrl,
            ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = job.RequestToken,
        });

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(job.RequestedAudiences, Is.EqualTo(new[] { "teleport.cluster.local" }), "one GET, for Teleport's audience, with the bearer token");
        await AssertSshWorksAsync(destination);
        Assert.That(run.StandardError + run.StandardOutput, Does.Not.Contain(job.RequestToken));
    }

    [Test]
    public async Task GitLab_job_joins_with_its_id_token_variable_and_reaches_the_node()
    {
        var destination = Destination("gitlab");
        var idToken = _env.Cluster.OidcIssuer.MintGitLabIdToken(new EmulatorGitLabClaims { NamespacePath = "platform", ProjectPath = "platform/infra" });

        var run = await StartAsync("gitlab", "gl-bot", destination, [], new() { ["TBOT_GITLAB_JWT"] = idToken });

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        await AssertSshWorksAsync(destination);
        Assert.That(run.StandardError + run.StandardOutput, Does.Not.Contain(idToken));
    }

    [Test]
    public async Task Kubernetes_pod_joins_from_tbot_yaml_with_its_token_path_and_reaches_the_node()
    {
        var destination = Destination("kubernetes");
        var tokenPath = _work.Write("sa-token", _env.Cluster.Kubernetes.MintServiceAccountToken("ci:tbot"), secret: true);
        var config = _work.Write("tbot-kubernetes.yaml", $"""
            version: v2
            proxy_server: {_env.Cluster.ProxyAddress}
            oneshot: true
            onboarding:
              join_method: kubernetes
              token: kube-bot
              kubernetes:
                token_path: {tokenPath}
            storage:
              type: memory
            services:
              - type: identity
                destination:
                  type: directory
                  path: {destination}
                roles: [{NodeEnvironment.AccessRole}]
            """);

        var run = await CliProcess.RunAsync(["start", "-c", config, "--ca-bundle", _webCa]);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        await AssertSshWorksAsync(destination);
    }

    [Test]
    public async Task Bound_keypair_registers_with_the_secret_then_restarts_from_storage_without_it()
    {
        _env.Cluster.AddJoinToken(BoundKeypairToken("bkp-e2e", "e2e-registration-secret", limit: 1));
        var storage = Path.Combine(_work.Path, "bkp-storage");
        var destination = Destination("bound-keypair");

        var first = await StartAsync("bound_keypair", "bkp-e2e", destination, ["--storage", storage, "--registration-secret", "e2e-registration-secret"]);
        var second = await StartAsync("bound_keypair", "bkp-e2e", destination, ["--storage", storage]);

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(first.StandardError + first.StandardOutput + second.StandardError, Does.Not.Contain("e2e-registration-secret"));
        var status = _env.Cluster.GetBoundKeypairStatus("bkp-e2e")!;
        Assert.That(status.RecoveryCount, Is.EqualTo(1), "the restart re-joined with its identity: no recovery used");
        Assert.That(File.Exists(Path.Combine(storage, "bkp_key_history.json")), Is.True);
        await AssertSshWorksAsync(destination);
    }

    [TestCase("github-claims", "id token claims did not match any allow rules")]
    [TestCase("gitlab-audience", "oidc: expected audience")]
    [TestCase("gitlab-issuer", "oidc: id token issued by a different provider")]
    [TestCase("gitlab-signature", "failed to verify signature")]
    [TestCase("gitlab-expired", "oidc: token is expired")]
    [TestCase("kubernetes-account", "kubernetes token did not match any allow rules")]
    [TestCase("bound-keypair-wrong-secret", "a valid registration secret is required")]
    [TestCase("bound-keypair-reused-secret", "registration secret has been used")]
    [TestCase("bound-keypair-recovery-exhausted", "no rejoins remaining")]
    public async Task A_refused_join_exits_3_naming_the_reason(string fault, string reason)
    {
        var cluster = _env.Cluster;
        var destination = Destination(fault);
        var now = cluster.TimeProvider.GetUtcNow();
        string[] arguments;
        Dictionary<string, string?> environment = [];
        string method;
        string token;
        switch (fault)
        {
            case "github-claims":
                var job = cluster.OidcIssuer.CreateGitHubActionsJob(new EmulatorGitHubClaims { Repository = "acme/other" });
                (method, token, arguments) = ("github", "gh-bot", []);
                environment["ACTIONS_ID_TOKEN_REQUEST_URL"] = job.RequestUrl;
                environment["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = job.RequestToken;
                break;
            case "kubernetes-account":
                (method, token) = ("kubernetes", "kube-bot");
                arguments = [];
                environment["KUBERNETES_TOKEN_PATH"] = _work.Write("intruder-token", cluster.Kubernetes.MintServiceAccountToken("ci:intruder"), secret: true);
                break;
            case "bound-keypair-wrong-secret":
                cluster.AddJoinToken(BoundKeypairToken("bkp-wrong", "right-secret", limit: 2));
                (method, token, arguments) = ("bound_keypair", "bkp-wrong", ["--registration-secret", "not-the-secret"]);
                break;
            case "bound-keypair-reused-secret":
                cluster.AddJoinToken(BoundKeypairToken("bkp-reused", "reused-secret", limit: 2));
                var winner = await StartAsync("bound_keypair", "bkp-reused", Destination("winner"), ["--registration-secret", "reused-secret"]);
                Assert.That(winner.ExitCode, Is.Zero, winner.ToString());
                (method, token, arguments) = ("bound_keypair", "bkp-reused", ["--registration-secret", "reused-secret"]);
                break;
            case "bound-keypair-recovery-exhausted":
                cluster.AddJoinToken(BoundKeypairToken("bkp-exhausted", "exhausted-secret", limit: 1));
                var storage = Path.Combine(_work.Path, "exhausted-storage");
                var joined = await StartAsync("bound_keypair", "bkp-exhausted", Destination("exhausted-first"), ["--storage", storage, "--registration-secret", "exhausted-secret"]);
                Assert.That(joined.ExitCode, Is.Zero, joined.ToString());

                // The identity is lost (the bound key survives in the key history): the next join is a recovery, and the limit is spent.
                File.Delete(Path.Combine(storage, "bot-identity.json"));
                (method, token, arguments) = ("bound_keypair", "bkp-exhausted", ["--storage", storage]);
                break;
            default:
                var options = fault switch
                {
                    "gitlab-audience" => new EmulatorIdTokenOptions { Audience = "teleport.cluster.local" },
                    "gitlab-issuer" => new EmulatorIdTokenOptions { Issuer = "https://gitlab.com" },
                    "gitlab-signature" => new EmulatorIdTokenOptions { SignWithUnpublishedKey = true },
                    _ => new EmulatorIdTokenOptions { IssuedAt = now.AddHours(-2), Lifetime = TimeSpan.FromMinutes(5) },
                };
                (method, token, arguments) = ("gitlab", "gl-bot", []);
                environment["TBOT_GITLAB_JWT"] = cluster.OidcIssuer.MintGitLabIdToken(new EmulatorGitLabClaims { ProjectPath = "platform/infra" }, options);
                break;
        }

        var run = await StartAsync(method, token, destination, arguments, environment);

        Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
        Assert.That(run.StandardError, Does.Contain(reason));
        // The destination was checked before the join (its writer lock may exist); no credential is written after a refusal.
        var written = Directory.Exists(destination)
            ? Directory.EnumerateFileSystemEntries(destination).Select(Path.GetFileName).Where(name => name != Teleport.MachineId.Destinations.DirectoryDestination.WriteLockName).ToList()
            : [];
        Assert.That(written, Is.Empty, "nothing is written after a refusal");
    }

    internal static EmulatorJoinToken BoundKeypairToken(string name, string secret, int limit) => new()
    {
        Name = name,
        BotName = NodeEnvironment.BotName,
        JoinMethod = EmulatorJoinMethods.BoundKeypair,
        BoundKeypair = new EmulatorBoundKeypairJoinSpec { RegistrationSecret = secret, RecoveryLimit = limit },
    };

    private string Destination(string name) => Path.Combine(_work.Path, "out-" + name);

    /// <summary><c>tbot-dotnet start identity … --oneshot</c> through the proxy of <paramref name="env"/>.</summary>
    internal static Task<ToolResult> StartIdentityAsync(
        NodeEnvironment env, string webCa, string method, string token, string destination, string[] extra, Dictionary<string, string?>? environment = null) =>
        CliProcess.RunAsync(
        [
            "start", "identity", "--proxy-server", env.Cluster.ProxyAddress, "--join-method", method, "--token", token,
            "--destination", destination, "--oneshot", "--ca-bundle", webCa, "--roles", NodeEnvironment.AccessRole, .. extra,
        ], environment);

    /// <summary>Real <c>ssh -F ssh_config</c> from <paramref name="destination"/> runs <c>hostname</c> on the node.</summary>
    internal static async Task AssertSshWorksAsync(NodeEnvironment env, string destination)
    {
        var ssh = await env.SshAsync(destination, env.Login, env.NodeHost, "hostname");
        Assert.That(ssh.ExitCode, Is.Zero, $"{ssh}\nsshd log:\n{env.Sshd.Log}");
        Assert.That(ssh.StandardOutput.Trim(), Is.EqualTo(LocalHostname));
    }

    private Task<ToolResult> StartAsync(string method, string token, string destination, string[] extra, Dictionary<string, string?>? environment = null) =>
        StartIdentityAsync(_env, _webCa, method, token, destination, extra, environment);

    private Task AssertSshWorksAsync(string destination) => AssertSshWorksAsync(_env, destination);
}
