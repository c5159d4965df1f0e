using System.Security.Cryptography.X509Certificates;
using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>
/// The identity output service against the emulator: tbot's artifact set with the right contents,
/// modes, CA material as tbot assembles it, <c>ssh_config: off</c>, memory destinations, and the
/// writability check before a renewal.
/// </summary>
public sealed class IdentityOutputServiceTests
{
    [Test]
    public async Task A_directory_output_holds_tbots_files_with_private_modes_and_matching_contents()
    {
        await using var cluster = await OutputCluster.StartAsync();
        using var work = new SshTestDirectory("tmid-out");
        var path = Path.Combine(work.Path, "machine-id");
        var options = new IdentityOutputOptions { DestinationPath = path, ProxyCommandPath = "/opt/tools/tbot-dotnet" };
        options.Roles.Add(OutputCluster.AccessRole);
        await using var output = IdentityOutputService.Create(cluster.Signer, options);

        var result = await output.RenewNowAsync();

        var cluster1 = cluster.Emulator.ClusterName;
        Assert.That(Directory.GetFileSystemEntries(path).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')), Is.EquivalentTo(new[]
        {
            "identity", "key", "key.pub", "key-cert.pub", "tlscert", "teleport-host-ca.crt", "teleport-user-ca.crt", "teleport-database-ca.crt",
            "known_hosts", "ssh_config", cluster1 + ".known_hosts", cluster1 + ".ssh_config",
        }));
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
            foreach (var name in result.ArtifactNames)
            {
                var target = new FileInfo(Path.Combine(path, name)).ResolveLinkTarget(returnFinalTarget: true)!.FullName;
                Assert.That(File.GetUnixFileMode(target), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), name);
            }
        }

        using var key = PrivateKey.ImportPem(Read(path, "key"));
        var ssh = SshCertificate.ParseAuthorizedKey(Read(path, "key-cert.pub").Trim());
        var tls = TeleportTlsIdentity.FromPem(Read(path, "tlscert"));
        Assert.That(PublicKeyInfo.ParseAuthorizedKey(Read(path, "key.pub")), Is.EqualTo(key.PublicKey));
        Assert.That(ssh.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(PublicKeyInfo.ImportSubjectPublicKeyInfo(tls.Certificate.PublicKey.ExportSubjectPublicKeyInfo()), Is.EqualTo(key.PublicKey));
        Assert.That(key.Algorithm, Is.EqualTo(KeyAlgorithm.EcdsaP256), "balanced-v1 impersonated identity key");
        Assert.That(ssh.Principals, Is.EqualTo(new[] { "root", "ubuntu", "-teleport-internal-join" }));
        Assert.That(tls.Roles, Is.EqualTo(new[] { OutputCluster.AccessRole }));
        Assert.That(tls.Impersonator, Is.EqualTo("bot-robot"));
        Assert.That(tls.DisallowReissue, Is.True);
        Assert.That(tls.RouteToCluster, Is.EqualTo(cluster1));

        Assert.That(Certificates(path, "teleport-host-ca.crt"), Is.EqualTo(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host)));
        Assert.That(Certificates(path, "teleport-user-ca.crt"), Is.EqualTo(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.User)));
        Assert.That(Certificates(path, "teleport-database-ca.crt"), Is.EqualTo(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.Database)));
        Assert.That(result.Certificates.TlsCaCertificates, Is.SupersetOf(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host))
            .And.SupersetOf(cluster.Emulator.GetCertificateAuthorityCertificates(CertificateAuthorityType.User)), "§5.1: user CA from the reply + host CA");

        var hostKeys = new ClusterHostCaKeys(cluster1, cluster.Emulator.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host).Select(k => k.ToAuthorizedKey()));
        Assert.That(Read(path, "known_hosts"), Is.EqualTo(KnownHostsRenderer.RenderKnownHosts(cluster.Emulator.ProxyHost, [hostKeys])));
        Assert.That(Read(path, cluster1 + ".known_hosts"), Is.EqualTo(KnownHostsRenderer.RenderClusterKnownHosts(hostKeys)));

        var identity = IdentityFileReader.Parse(Read(path, "identity"));
        Assert.That(identity.SshCertificate, Is.EqualTo(Read(path, "key-cert.pub").Trim()));
        Assert.That(identity.TlsCertificatePem, Is.EqualTo(Read(path, "tlscert")));
        Assert.That(identity.SshCertificateAuthorities.Select(a => a.ToString()),
            Is.EqualTo(hostKeys.PublicKeys.Select(k => $"@cert-authority {cluster1},*.{cluster1} {k} type=host")));

        var config = Read(path, "ssh_config");
        var proxyPort = cluster.Emulator.ProxyAddress.Split(':')[^1];
        Assert.That(config, Does.Contain($"Host *.{cluster1} {cluster.Emulator.ProxyHost}\n"));
        Assert.That(config, Does.Contain($"    ProxyCommand '/opt/tools/tbot-dotnet' ssh-proxy-command --destination-dir='{path}' --proxy-server='{cluster.Emulator.ProxyHost}:{proxyPort}' --cluster='{cluster1}' --tls-routing --no-connection-upgrade --no-resume --user=%r --host=%h --port=%p\n"));
        Assert.That(config, Does.Contain($"    IdentityFile \"{path}/key\"\n"));
    }

    [Test]
    public async Task Without_roles_the_output_gets_every_role_the_bot_may_impersonate_and_honours_ttl_and_reissue()
    {
        await using var cluster = await OutputCluster.StartAsync();
        var memory = new MemoryDestination();
        await using var output = IdentityOutputService.Create(cluster.Signer, new IdentityOutputOptions
        {
            Destination = memory,
            CredentialTtl = TimeSpan.FromMinutes(20),
            AllowReissue = true,
        });

        var result = await output.RenewNowAsync();

        Assert.That(result.Certificates.TlsIdentity.Roles, Is.EquivalentTo(new[] { OutputCluster.AccessRole, OutputCluster.OpsRole }));
        Assert.That(result.Certificates.SshCertificate.Principals, Is.EquivalentTo(new[] { "root", "ubuntu", "ops", "-teleport-internal-join" }));
        Assert.That(result.Certificates.TlsIdentity.DisallowReissue, Is.False);
        Assert.That(result.Certificates.NotAfter - result.WrittenAt, Is.EqualTo(TimeSpan.FromMinutes(20)).Within(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task A_memory_destination_gets_known_hosts_but_no_ssh_config_and_ssh_config_off_writes_neither()
    {
        await using var cluster = await OutputCluster.StartAsync();
        var memory = new MemoryDestination();
        using var work = new SshTestDirectory("tmid-out");
        await using var inMemory = IdentityOutputService.Create(cluster.Signer, new IdentityOutputOptions { Destination = memory });
        await using var off = IdentityOutputService.Create(cluster.Signer, new IdentityOutputOptions { DestinationPath = Path.Combine(work.Path, "off"), WriteSshConfig = false });

        await inMemory.RenewNowAsync();
        var offResult = await off.RenewNowAsync();

        Assert.That(memory.Current!.Keys, Does.Contain("known_hosts").And.Not.Contain("ssh_config"));
        Assert.That(offResult.ArtifactNames, Does.Not.Contain("known_hosts").And.Not.Contain("ssh_config"));
        Assert.That(offResult.ArtifactNames, Does.Contain("identity").And.Contain("key-cert.pub"));
    }

    [Test]
    public async Task The_destination_is_checked_for_writability_before_certificates_are_requested()
    {
        await using var cluster = await OutputCluster.StartAsync();
        var destination = new RefusingDestination();
        await using var output = IdentityOutputService.Create(cluster.Signer, new IdentityOutputOptions { Destination = destination });
        var issuedBefore = cluster.Emulator.IssuedCertificates.Count;

        var error = Assert.ThrowsAsync<DestinationException>(() => output.RenewNowAsync());

        Assert.That(error!.Failure, Is.EqualTo(DestinationFailure.NotWritable));
        Assert.That(cluster.Emulator.IssuedCertificates, Has.Count.EqualTo(issuedBefore), "no certificates were spent");
        Assert.That(destination.Writes, Is.Zero);
        Assert.That(output.LastError, Is.SameAs(error));
    }

    [Test]
    public async Task A_role_the_bot_may_not_impersonate_is_access_denied_and_the_previous_set_stays()
    {
        await using var cluster = await OutputCluster.StartAsync();
        cluster.Emulator.UpsertRole(new EmulatorRole { Name = "admin", Logins = ["admin"] });
        var memory = new MemoryDestination();
        var good = new IdentityOutputOptions { Destination = memory };
        await using var first = IdentityOutputService.Create(cluster.Signer, good);
        await first.RenewNowAsync();
        var before = memory.Current;
        var bad = new IdentityOutputOptions { Destination = memory };
        bad.Roles.Add("admin");
        await using var second = IdentityOutputService.Create(cluster.Signer, bad);

        Assert.ThrowsAsync<TeleportAccessDeniedException>(() => second.RenewNowAsync());
        Assert.That(memory.Current, Is.SameAs(before));
    }

    [Test]
    public void Invalid_options_are_rejected_when_the_service_is_created()
    {
        var signer = new LocalSshCertificateSigner(LocalCertificateAuthority.Generate("offline.example"));

        Assert.Throws<ArgumentException>(() => IdentityOutputService.Create(signer, new IdentityOutputOptions()));
        Assert.Throws<ArgumentException>(() => IdentityOutputService.Create(signer, new IdentityOutputOptions { DestinationPath = "/tmp/x", Destination = new MemoryDestination() }));
        Assert.Throws<ArgumentException>(() => IdentityOutputService.Create(signer, new IdentityOutputOptions { DestinationPath = "/tmp/x", CredentialTtl = TimeSpan.Zero }));
    }

    internal static string Read(string directory, string name) => File.ReadAllText(Path.Combine(directory, name));

    private static X509Certificate2[] Certificates(string directory, string name)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPem(Read(directory, name));
        return [.. collection];
    }

    /// <summary>A destination whose writability check fails (root ignores file modes, so a real directory cannot be made unwritable here).</summary>
    private sealed class RefusingDestination : IDestinationWriter
    {
        public int Writes { get; private set; }

        public bool IsPersistent => true;

        public string Description => "refusing test destination";

        public Task InitializeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task VerifyWritableAsync(CancellationToken cancellationToken = default) =>
            Task.FromException(new DestinationException(DestinationFailure.NotWritable, "/refused", "The destination is read-only."));

        public Task WriteAsync(DestinationArtifacts artifacts, CancellationToken cancellationToken = default)
        {
            Writes++;
            return Task.CompletedTask;
        }

        public Task<DestinationArtifacts?> ReadAsync(CancellationToken cancellationToken = default) => Task.FromResult<DestinationArtifacts?>(null);
    }
}
