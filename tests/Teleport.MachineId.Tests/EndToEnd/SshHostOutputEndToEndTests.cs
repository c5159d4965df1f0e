using System.Globalization;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>
/// The <c>ssh_host</c> output stands up an OpenSSH node Teleport trusts without <c>tctl auth sign</c>:
/// a real sshd configured only with the output's three files accepts a user certificate from the
/// cluster, and presents a host certificate that the identity output's <c>known_hosts</c> verifies
/// (ssh runs with strict host key checking).
/// </summary>
[Category("EndToEnd")]
public sealed class SshHostOutputEndToEndTests
{
    private const string HostRole = "host-certifier";
    private const string NodeName = "built-node";

    [Test]
    public async Task Sshd_with_the_ssh_host_files_accepts_a_cluster_user_and_is_verified_by_the_identity_known_hosts()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        var fqdn = NodeName + "." + cluster.ClusterName;
        cluster.UpsertRole(new EmulatorRole { Name = NodeEnvironment.AccessRole, Logins = [Environment.UserName], NodeLabels = EmulatorRole.AllNodes });
        cluster.UpsertRole(new EmulatorRole
        {
            Name = HostRole,
            Rules = [new EmulatorRoleRule { Resources = ["host_cert"], Verbs = ["create"], Where = $"is_subset(host_cert.principals, \"{NodeName}\", \"{fqdn}\")" }],
        });
        cluster.AddBot(new EmulatorBot { Name = NodeEnvironment.BotName, Roles = [NodeEnvironment.AccessRole, HostRole] });
        await using var bot = BotIdentityProvider.Create(NodeEnvironment.BotOptionsFor(cluster, cluster.CreateJoinToken(NodeEnvironment.BotName).Name));
        await bot.StartAsync();
        await using var signer = new TeleportSshCertificateSigner(bot, NodeEnvironment.BotOptionsFor(cluster, "unused"));
        using var work = new SshTestDirectory("tmid-ssh-host");
        var hostFiles = Path.Combine(work.Path, "ssh-host");
        var identityFiles = Path.Combine(work.Path, "machine-id");

        var hostOptions = new SshHostOutputOptions { DestinationPath = hostFiles, Principals = { NodeName, fqdn }, Roles = { HostRole } };
        await using var hostOutput = SshHostOutputService.Create(signer, hostOptions);
        var written = await hostOutput.RenewNowAsync();
        var identityOptions = new IdentityOutputOptions { DestinationPath = identityFiles, ProxyCommandPath = NodeEnvironment.TbotDotnetPath, Roles = { NodeEnvironment.AccessRole } };
        await using var identityOutput = IdentityOutputService.Create(signer, identityOptions);
        await identityOutput.RenewNowAsync();

        var sshdOptions = new SshdFixtureOptions
        {
            ExistingFiles = (Path.Combine(hostFiles, "ssh_host"), Path.Combine(hostFiles, "ssh_host-cert.pub"), Path.Combine(hostFiles, "ssh_host-user-ca.pub")),
        };
        sshdOptions.AllowedPrincipals.Add(Environment.UserName);
        await using var sshd = await SshdFixture.StartAsync(sshdOptions);
        cluster.AddNode(new EmulatorNode { Name = NodeName, Address = "127.0.0.1:" + sshd.Port.ToString(CultureInfo.InvariantCulture) });

        var result = await SshToolRunner.RunAsync(OpenSshTools.Ssh,
        [
            "-F", Path.Combine(identityFiles, "ssh_config"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", "GlobalKnownHostsFile=/dev/null", $"{Environment.UserName}@{fqdn}", "hostname",
        ]);

        Assert.That(result.ExitCode, Is.Zero, $"{result}\nsshd log:\n{sshd.Log}");
        Assert.That(result.StandardOutput.Trim(), Is.EqualTo(Environment.MachineName));
        Assert.That(await sshd.LogOnceItContainsAsync("Accepted certificate ID \"bot-robot\""), Does.Contain("Accepted certificate ID \"bot-robot\""));
        Assert.That(written.HostCertificate.Type, Is.EqualTo(SshCertificateType.Host));
        Assert.That(written.HostCertificate.Principals, Is.EqualTo(new[] { NodeName, fqdn }));
        Assert.That(written.HostCertificate.SignatureKey, Is.EqualTo(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host)[0]));
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(Path.Combine(hostFiles, "ssh_host")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    [Test]
    public async Task Ssh_keygen_reads_the_files_as_tbot_writes_them()
    {
        await using var env = await HostOutputCluster.StartAsync();
        var written = await env.Output.RenewNowAsync();

        var certificate = await SshToolRunner.RunAsync(OpenSshTools.SshKeygen, ["-L", "-f", env.File("ssh_host-cert.pub")]);
        var publicKey = await SshToolRunner.RunAsync(OpenSshTools.SshKeygen, ["-y", "-f", env.File("ssh_host")]);
        var userCa = File.ReadAllText(env.File("ssh_host-user-ca.pub"));

        Assert.That(certificate.ExitCode, Is.Zero, certificate.ToString());
        Assert.That(certificate.StandardOutput, Does.Contain("-cert-v01@openssh.com host certificate"));
        Assert.That(certificate.StandardOutput, Does.Contain("Principals: \n                " + NodeName + "\n"));
        Assert.That(certificate.StandardOutput, Does.Contain("x-teleport-role").And.Contain("x-teleport-authority"));
        Assert.That(publicKey.ExitCode, Is.Zero, publicKey.ToString());
        Assert.That(publicKey.StandardOutput.Trim(), Does.StartWith(written.HostCertificate.PublicKey.ToAuthorizedKey()));
        var caKey = env.Cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)[0].ToAuthorizedKey();
        Assert.That(userCa, Is.EqualTo($"{caKey} clustername={env.Cluster.ClusterName}&type=user\n"));
    }

    [Test]
    public async Task The_output_is_renewed_on_its_interval_with_a_new_host_key_each_time()
    {
        await using var env = await HostOutputCluster.StartAsync(renewalInterval: TimeSpan.FromSeconds(1));
        await env.Output.StartAsync();
        var first = await env.Output.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (ReferenceEquals(env.Output.Current, first))
        {
            await Task.Delay(50, timeout.Token);
        }

        await env.Output.DisposeAsync();
        var last = env.Output.Current!;
        Assert.That(last.HostCertificate.PublicKey, Is.Not.EqualTo(first.HostCertificate.PublicKey));
        Assert.That(File.ReadAllText(env.File("ssh_host-cert.pub")), Is.EqualTo(last.HostCertificate.ToAuthorizedKey() + "\n"), "the files hold the last renewal");
    }

    [Test]
    public async Task Roles_without_a_host_cert_rule_or_principals_outside_the_where_clause_are_refused()
    {
        await using var env = await HostOutputCluster.StartAsync();
        var outside = new SshHostOutputOptions { DestinationPath = env.File("outside"), Principals = { "other.example.com" }, Roles = { HostRole } };
        var noRule = new SshHostOutputOptions { DestinationPath = env.File("no-rule"), Principals = { NodeName }, Roles = { NodeEnvironment.AccessRole } };
        await using var outsideOutput = SshHostOutputService.Create(env.Signer, outside);
        await using var noRuleOutput = SshHostOutputService.Create(env.Signer, noRule);

        var outsideError = Assert.ThrowsAsync<TeleportAccessDeniedException>(() => outsideOutput.RenewNowAsync());
        var noRuleError = Assert.ThrowsAsync<TeleportAccessDeniedException>(() => noRuleOutput.RenewNowAsync());

        Assert.That(outsideError!.Message, Does.Contain("host_cert"));
        Assert.That(noRuleError!.Message, Does.Contain("host_cert"));
        Assert.That(Directory.Exists(env.File("outside")) ? Directory.GetFileSystemEntries(env.File("outside")).Where(e => !Path.GetFileName(e).StartsWith('.')) : [], Is.Empty,
            "nothing is written when the certificate is refused");
    }

    /// <summary>A cluster whose bot may create host certificates for <see cref="NodeName"/>, and an ssh_host output for it.</summary>
    private sealed class HostOutputCluster : IAsyncDisposable
    {
        private readonly SshTestDirectory _work;
        private readonly BotIdentityProvider _bot;

        private HostOutputCluster(TeleportEmulator cluster, BotIdentityProvider bot, TeleportSshCertificateSigner signer, SshHostOutputService output, SshTestDirectory work)
        {
            Cluster = cluster;
            _bot = bot;
            Signer = signer;
            Output = output;
            _work = work;
        }

        public TeleportEmulator Cluster { get; }

        public TeleportSshCertificateSigner Signer { get; }

        public SshHostOutputService Output { get; }

        public string File(string name) => Path.Combine(_work.Path, "out", name);

        public static async Task<HostOutputCluster> StartAsync(TimeSpan? renewalInterval = null)
        {
            var cluster = await TeleportEmulator.StartAsync();
            cluster.UpsertRole(new EmulatorRole { Name = NodeEnvironment.AccessRole, Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
            cluster.UpsertRole(new EmulatorRole
            {
                Name = HostRole,
                Rules = [new EmulatorRoleRule { Resources = ["host_cert"], Verbs = ["create"], Where = $"all_end_with(host_cert.principals, \"{NodeName}\")" }],
            });
            cluster.AddBot(new EmulatorBot { Name = NodeEnvironment.BotName, Roles = [NodeEnvironment.AccessRole, HostRole] });
            var bot = BotIdentityProvider.Create(NodeEnvironment.BotOptionsFor(cluster, cluster.CreateJoinToken(NodeEnvironment.BotName).Name));
            await bot.StartAsync();
            var signer = new TeleportSshCertificateSigner(bot, NodeEnvironment.BotOptionsFor(cluster, "unused"));
            var work = new SshTestDirectory("tmid-ssh-host");
            var options = new SshHostOutputOptions
            {
                DestinationPath = Path.Combine(work.Path, "out"),
                Principals = { NodeName },
                Roles = { HostRole },
                RenewalInterval = renewalInterval ?? TimeSpan.FromMinutes(20),
            };
            return new HostOutputCluster(cluster, bot, signer, SshHostOutputService.Create(signer, options), work);
        }

        public async ValueTask DisposeAsync()
        {
            await Output.DisposeAsync();
            await Signer.DisposeAsync();
            await _bot.DisposeAsync();
            await Cluster.DisposeAsync();
            _work.Dispose();
        }
    }
}
