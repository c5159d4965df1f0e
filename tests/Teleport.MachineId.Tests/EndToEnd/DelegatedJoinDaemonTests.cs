using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Cli;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// The delegated join methods as a long-running bot, in a real process: <c>tbot-dotnet start identity</c>
/// (no <c>--oneshot</c>) with a 1-minute credential TTL and a 2-second renewal interval renews its
/// <c>kubernetes</c>, <c>bound_keypair</c> or <c>github</c> identity by joining again — never with
/// <c>GenerateUserCerts</c>, which only renews <c>token</c> identities — keeping one bot instance, and
/// rewrites the identity output after each join. Stopped with SIGTERM and started again from the same
/// storage, a <c>bound_keypair</c> bot needs no registration secret and a <c>kubernetes</c> bot only its
/// token file: both join again as the same instance. The SDK-level version on simulated time is
/// <see cref="Identity.Joining.DelegatedJoinMethodEmulatorTests"/>.
/// </summary>
[Category("EndToEnd")]
[NonParallelizable]
public sealed class DelegatedJoinDaemonTests
{
    private const string Role = "access";

    /// <summary>The first join and five re-joins.</summary>
    private const int Joins = 6;

    /// <summary>Bounds every wait: six 2-second cycles take about 15 s, even on a loaded 2-core machine.</summary>
    private static readonly TimeSpan JoinsTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private TeleportEmulator _cluster = null!;
    private SshTestDirectory _work = null!;
    private string _webCa = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("POSIX signals.");
        }

        _cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { JoinApis = EmulatorJoinApis.LegacyAndUnified });
        _cluster.UpsertRole(new EmulatorRole { Name = Role, Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        _work = new SshTestDirectory("tmid-rejoin");
        _webCa = _work.Write("web-ca.pem", _cluster.WebCaCertificatePem);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        _work?.Dispose();
    }

    [Test]
    public async Task Kubernetes_daemon_renews_by_re_joining_as_one_instance_and_restarts_from_storage_with_its_token_file()
    {
        var bot = AddBot("kube-robot");
        _cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "kube-daemon",
            BotName = bot,
            JoinMethod = EmulatorJoinMethods.Kubernetes,
            Kubernetes = new EmulatorKubernetesJoinSpec { Type = EmulatorKubernetesJoinSpec.StaticJwksType, StaticJwks = _cluster.Kubernetes.Jwks, AllowServiceAccounts = ["ci:tbot"] },
        });
        var serviceAccountToken = _cluster.Kubernetes.MintServiceAccountToken("ci:tbot");
        Dictionary<string, string?> pod = new() { ["KUBERNETES_TOKEN_PATH"] = _work.Write("kube-sa-token", serviceAccountToken, secret: true) };
        var run = new BotRun(this, bot, "kubernetes", "kube-daemon");

        var instanceId = await run.RenewsByRejoiningAsync([], pod);
        await run.RestartsAsTheSameInstanceAsync(instanceId, [], pod);

        Assert.That(run.StandardError, Does.Not.Contain(serviceAccountToken));
    }

    [Test]
    public async Task Bound_keypair_daemon_renews_by_re_joining_as_one_instance_and_restarts_from_storage_without_the_secret()
    {
        const string secret = "daemon-registration-secret";
        var bot = AddBot("bkp-robot");
        _cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "bkp-daemon",
            BotName = bot,
            JoinMethod = EmulatorJoinMethods.BoundKeypair,
            BoundKeypair = new EmulatorBoundKeypairJoinSpec { RegistrationSecret = secret, RecoveryLimit = 1 },
        });
        var run = new BotRun(this, bot, "bound_keypair", "bkp-daemon");

        var instanceId = await run.RenewsByRejoiningAsync(["--registration-secret", secret]);
        await run.RestartsAsTheSameInstanceAsync(instanceId, []);

        Assert.That(_cluster.GetBoundKeypairStatus("bkp-daemon")!.RecoveryCount, Is.EqualTo(1), "only the registration was a recovery; every later join signed a challenge with the bound key");
        Assert.That(File.Exists(Path.Combine(run.Storage, "bkp_key_history.json")), Is.True);
        Assert.That(run.StandardError, Does.Not.Contain(secret));
    }

    [Test]
    public async Task GitHub_daemon_renews_by_re_joining_as_one_instance_with_a_fresh_runner_id_token_each_time()
    {
        var bot = AddBot("gh-robot");
        _cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "gh-daemon",
            BotName = bot,
            JoinMethod = EmulatorJoinMethods.GitHub,
            GitHub = new EmulatorGitHubJoinSpec { EnterpriseServerHost = _cluster.OidcIssuer.Host, Allow = [new EmulatorGitHubRule { Repository = "acme/deploy" }] },
        });
        var job = _cluster.OidcIssuer.CreateGitHubActionsJob(new EmulatorGitHubClaims { Repository = "acme/deploy" });
        var run = new BotRun(this, bot, "github", "gh-daemon");

        await run.RenewsByRejoiningAsync([], new()
        {
            ["ACTIONS_ID_TOKEN_REQUEST_URL"] = job.RequestUrl,
            ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = job.RequestToken,
        });

        // A join that was in flight at SIGTERM may have fetched a token it never presented.
        Assert.That(job.RequestedAudiences, Has.Count.GreaterThanOrEqualTo(run.JoinsSoFar().Count), "an ID token from the runner for each join");
        Assert.That(job.RequestedAudiences, Is.All.EqualTo("teleport.cluster.local"));
        Assert.That(run.StandardError, Does.Not.Contain(job.RequestToken));
    }

    private string AddBot(string name)
    {
        _cluster.AddBot(new EmulatorBot { Name = name, Roles = [Role] });
        return name;
    }

    /// <summary>One bot's daemon runs against the fixture's cluster, with its own storage and destination.</summary>
    private sealed class BotRun(DelegatedJoinDaemonTests fixture, string bot, string method, string token)
    {
        private readonly HashSet<string> _outputSerials = new(StringComparer.OrdinalIgnoreCase);
        private readonly List<string> _stderr = [];
        private readonly string _destination = Path.Combine(fixture._work.Path, "out-" + bot);

        private TeleportEmulator Cluster => fixture._cluster;

        public string Storage { get; } = Path.Combine(fixture._work.Path, "storage-" + bot);

        /// <summary>What every daemon run printed on standard error.</summary>
        public string StandardError => string.Join('\n', _stderr);

        /// <summary>The bot's successful joins the cluster issued an identity for, oldest first.</summary>
        public List<IssuedCertificate> JoinsSoFar() =>
            [.. Cluster.IssuedCertificates.Where(c => c.BotName == bot && c.Kind == IssuedCertificateKind.BotRejoin).OrderBy(c => c.IssuedAt)];

        /// <summary>
        /// Runs the daemon until it has joined <see cref="Joins"/> times and written the output after the
        /// last, checks every join kept the instance and was followed by a new output, and stops it with SIGTERM.
        /// </summary>
        /// <returns>The bot instance id.</returns>
        public async Task<string> RenewsByRejoiningAsync(string[] extra, Dictionary<string, string?>? environment = null)
        {
            await using (var daemon = Start(extra, environment))
            {
                await daemon.WaitUntilAsync(
                    () =>
                    {
                        ReadOutput();
                        var joins = JoinsSoFar();
                        return joins.Count >= Joins && OutputWrittenSince(joins[Joins - 1]);
                    },
                    JoinsTimeout,
                    $"joined {Joins} times with the output written after the last");
                await StopAsync(daemon);
            }

            var joins = JoinsSoFar();
            var instanceId = joins[0].BotInstanceId;
            Assert.That(instanceId, Is.Not.Null.And.Not.Empty);
            Assert.That(joins.Select(j => j.BotInstanceId), Is.All.EqualTo(instanceId), "every re-join presented the current identity and kept the bot instance");
            Assert.That(joins.Select(j => j.Generation), Is.Ordered.Ascending.And.Unique, "each re-join advanced the instance's generation");
            var instance = Cluster.BotInstances.Single(i => i.BotName == bot);
            Assert.That(instance.InstanceId, Is.EqualTo(instanceId));
            Assert.That(instance.Authentications.Select(a => a.JoinMethod), Is.All.EqualTo(method));
            Assert.That(instance.Authentications, Has.Count.EqualTo(joins.Count), "each authentication of the instance was a join");
            AssertNeverRenewedWithGenerateUserCerts();

            // Each cycle rewrote the output: a certificate issued between that join and the next one was found in tlscert.
            for (var i = 0; i < Joins; i++)
            {
                var (from, to) = (joins[i].IssuedAt, i + 1 < joins.Count ? joins[i + 1].IssuedAt : DateTimeOffset.MaxValue);
                Assert.That(
                    Outputs().Any(c => c.IssuedAt >= from && c.IssuedAt < to && c.BotInstanceId == instanceId),
                    Is.True,
                    () => $"tlscert was rewritten after join {i + 1} (generation {joins[i].Generation}) and before the next.\n{Timeline()}");
            }

            return instanceId!;
        }

        /// <summary>Starts the daemon again on the same storage and waits for it to join as <paramref name="instanceId"/> and rewrite the output.</summary>
        public async Task RestartsAsTheSameInstanceAsync(string instanceId, string[] extra, Dictionary<string, string?>? environment = null)
        {
            var before = JoinsSoFar().Count;
            await using (var daemon = Start(extra, environment))
            {
                await daemon.WaitUntilAsync(
                    () =>
                    {
                        ReadOutput();
                        var joins = JoinsSoFar();
                        return joins.Count > before && OutputWrittenSince(joins[before]);
                    },
                    JoinsTimeout,
                    "joined again after the restart with the output written");
                await StopAsync(daemon);
            }

            Assert.That(JoinsSoFar().Skip(before).Select(j => j.BotInstanceId), Is.All.EqualTo(instanceId), "the restarted process joined with its stored identity");
            Assert.That(Cluster.BotInstances.Where(i => i.BotName == bot).Select(i => i.InstanceId), Is.EqualTo(new[] { instanceId }), "no new bot instance");
            AssertNeverRenewedWithGenerateUserCerts();
        }

        private CliDaemon Start(string[] extra, Dictionary<string, string?>? environment) => CliDaemon.Start(
        [
            "start", "identity", "--proxy-server", Cluster.ProxyAddress, "--join-method", method, "--token", token,
            "--destination", _destination, "--storage", Storage, "--ca-bundle", fixture._webCa, "--roles", Role,
            "--credential-ttl", "1m", "--renewal-interval", "2s", .. extra,
        ], environment);

        private async Task StopAsync(CliDaemon daemon)
        {
            var exitCode = await daemon.StopAsync(StopTimeout);
            _stderr.Add(daemon.StandardError);
            Assert.That(exitCode, Is.Zero, daemon.StandardError);
        }

        private void AssertNeverRenewedWithGenerateUserCerts()
        {
            var renewals = Cluster.IssuedCertificates.Where(c => c.BotName == bot && c.Kind is IssuedCertificateKind.BotRenewal or IssuedCertificateKind.BotJoin);
            Assert.That(renewals, Is.Empty, $"a {method} identity is not renewable: it is renewed by joining again, never with GenerateUserCerts");
        }

        /// <summary>The bot's joins and role certificates, in order, for failure messages.</summary>
        private string Timeline() => string.Join('\n', Cluster.IssuedCertificates
            .Where(c => c.BotName == bot || c.Impersonator == "bot-" + bot)
            .OrderBy(c => c.IssuedAt)
            .Select(c => $"{c.IssuedAt:HH:mm:ss.fff} {c.Kind} generation {c.Generation} serial {c.TlsSerialNumber}{(c.TlsSerialNumber is { } s && _outputSerials.Contains(s) ? " (seen in tlscert)" : "")}"));

        /// <summary>The role certificates issued to this bot that were seen in the destination's <c>tlscert</c>.</summary>
        private IEnumerable<IssuedCertificate> Outputs() => Cluster.IssuedCertificates.Where(c =>
            c.Kind == IssuedCertificateKind.RoleImpersonation && c.Impersonator == "bot-" + bot && c.TlsSerialNumber is { } serial && _outputSerials.Contains(serial));

        /// <summary>Whether a certificate issued after <paramref name="join"/> has been seen in <c>tlscert</c>.</summary>
        private bool OutputWrittenSince(IssuedCertificate join) => Outputs().Any(c => c.IssuedAt >= join.IssuedAt);

        /// <summary>Records the serial of the certificate in <c>tlscert</c> now (at every poll, so each rewrite is seen).</summary>
        private void ReadOutput()
        {
            try
            {
                using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_destination, "tlscert")));
                _outputSerials.Add(certificate.SerialNumber);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or CryptographicException)
            {
                // Not written yet. The destination replaces files by rename, so a read never sees half a file.
            }
        }
    }
}
