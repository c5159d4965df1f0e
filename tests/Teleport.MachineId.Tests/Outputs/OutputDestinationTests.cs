using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Destinations;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>
/// Destinations in the context of the output service: a reader never pairs a key with another
/// renewal's certificate while the service renews, and reader ACLs are applied to what it writes.
/// </summary>
public sealed class OutputDestinationTests
{
    [Test]
    public async Task A_reader_never_sees_a_mismatched_key_and_certificate_during_200_renewals()
    {
        await using var cluster = await OutputCluster.StartAsync();
        using var work = new SshTestDirectory("tmid-consistency");
        var path = Path.Combine(work.Path, "machine-id");
        var options = new IdentityOutputOptions { DestinationPath = path };
        options.Roles.Add(OutputCluster.AccessRole);
        await using var output = IdentityOutputService.Create(cluster.Signer, options);
        await output.RenewNowAsync();

        using var stop = new CancellationTokenSource();
        using var firstRead = new ManualResetEventSlim();

        // A dedicated thread, running before the renewals start: on a loaded machine a pool thread could
        // be scheduled only after the renewals are done.
        var reader = Task.Factory.StartNew(() => ReadContinuously(path, firstRead, stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.That(firstRead.Wait(TimeSpan.FromSeconds(30)), Is.True, "the reader started");
        var keys = new HashSet<PublicKeyInfo>();
        for (var i = 0; i < 200; i++)
        {
            var result = await output.RenewNowAsync();
            keys.Add(result.Certificates.SshCertificate.PublicKey);
        }

        await stop.CancelAsync();
        var (reads, mismatches, distinctKeysSeen) = await reader;

        Assert.That(keys, Has.Count.EqualTo(200), "every renewal has a fresh key");
        Assert.That(mismatches, Is.Empty);
        Assert.That(reads, Is.GreaterThanOrEqualTo(distinctKeysSeen), "the reader kept reading while the renewals ran");
        Assert.That(distinctKeysSeen, Is.GreaterThan(10), "the reader saw many different sets");
    }

    [Test]
    public async Task Reader_acls_from_the_options_are_applied_to_the_output()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("POSIX ACLs are Linux-only here.");
        }

        var getfacl = ProcessRunner.Require("getfacl", "acl");
        await using var cluster = await OutputCluster.StartAsync();
        using var temp = new TempDirectory("tmid-out-acl-");
        var path = temp.Combine("machine-id");
        var directory = new DirectoryDestinationOptions { Path = path, Acls = AclMode.Required };
        directory.Readers.Add(AclReader.User("nobody"));
        await using var output = IdentityOutputService.Create(cluster.Signer, new IdentityOutputOptions { Destination = new DirectoryDestination(directory) });

        try
        {
            await output.RenewNowAsync();
        }
        catch (DestinationException ex) when (ex.Failure == DestinationFailure.AclFailed)
        {
            Assert.Ignore($"The temp file system does not support POSIX ACLs: {ex.Message}");
        }

        var key = new FileInfo(Path.Combine(path, "key")).ResolveLinkTarget(returnFinalTarget: true)!.FullName;
        var fileAcl = ProcessRunner.Run(getfacl, "--numeric", "--omit-header", "--absolute-names", key).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var directoryAcl = ProcessRunner.Run(getfacl, "--numeric", "--omit-header", "--absolute-names", path).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.That(fileAcl, Is.EqualTo(new[] { "user::rw-", "user:65534:r--", "group::---", "mask::r--", "other::---" }));
        Assert.That(directoryAcl, Is.EqualTo(new[] { "user::rwx", "user:65534:r-x", "group::---", "mask::r-x", "other::---" }));
    }

    private static (int Reads, List<string> Mismatches, int DistinctKeys) ReadContinuously(string path, ManualResetEventSlim firstRead, CancellationToken stop)
    {
        var destination = new DirectoryDestination(new DirectoryDestinationOptions { Path = path, Acls = AclMode.Off });
        var mismatches = new List<string>();
        var seen = new HashSet<PublicKeyInfo>();
        var reads = 0;
        while (!stop.IsCancellationRequested)
        {
            var set = destination.ReadAsync(CancellationToken.None).GetAwaiter().GetResult();
            if (set is null)
            {
                continue;
            }

            reads++;
            firstRead.Set();
            using var key = PrivateKey.ImportPem(Text(set, "key"));
            var publicKey = PublicKeyInfo.ParseAuthorizedKey(Text(set, "key.pub"));
            var ssh = SshCertificate.ParseAuthorizedKey(Text(set, "key-cert.pub").Trim());
            var tls = TeleportTlsIdentity.FromPem(Text(set, "tlscert"));
            var tlsKey = PublicKeyInfo.ImportSubjectPublicKeyInfo(tls.Certificate.PublicKey.ExportSubjectPublicKeyInfo());
            var identity = IdentityFileReader.Parse(Text(set, "identity"));
            using var identityKey = PrivateKey.ImportPem(identity.PrivateKeyPem);
            if (publicKey != key.PublicKey || ssh.PublicKey != key.PublicKey || tlsKey != key.PublicKey || identityKey.PublicKey != key.PublicKey
                || identity.SshCertificate != Text(set, "key-cert.pub").Trim())
            {
                mismatches.Add($"read {reads}: key {key.PublicKey.Sha256Fingerprint}, ssh {ssh.PublicKey.Sha256Fingerprint}, tls {tlsKey.Sha256Fingerprint}");
            }

            seen.Add(key.PublicKey);
        }

        return (reads, mismatches, seen.Count);
    }

    private static string Text(DestinationArtifacts set, string name) => Encoding.UTF8.GetString(set[name].Span);
}
