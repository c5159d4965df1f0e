using System.Runtime.Versioning;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Destinations.Internal;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Destinations;

/// <summary>Linux-only behaviour: openat2 and its fallback, POSIX ACL readers.</summary>
[SupportedOSPlatform("linux")]
public class DirectoryDestinationLinuxTests
{
    private const uint ReaderUid = 4242;  // need not exist
    private const uint OutsiderUid = 4343;

    private TempDirectory _temp = null!;
    private ListLogger<DirectoryDestination> _logger = null!;

    [SetUp]
    public void SetUp()
    {
        if (!OperatingSystem.IsLinux() || !LinuxNative.IsSupported)
        {
            Assert.Ignore("Linux-only behaviour (openat2, POSIX ACLs).");
        }

        _temp = new TempDirectory();
        _logger = new ListLogger<DirectoryDestination>();
    }

    [TearDown]
    public void TearDown() => _temp?.Dispose();

    private DirectoryDestination Create(
        string path,
        SymlinkMode symlinks = SymlinkMode.TrySecure,
        AclMode acls = AclMode.Try,
        AclReader[]? readers = null,
        bool noOpenat2 = false,
        bool portable = false)
    {
        var options = new DirectoryDestinationOptions
        {
            Path = path,
            Symlinks = symlinks,
            Acls = acls,
            SimulateMissingOpenat2 = noOpenat2,
            ForcePortableFileSystem = portable,
        };
        foreach (var reader in readers ?? [])
        {
            options.Readers.Add(reader);
        }

        return new DirectoryDestination(options, _logger);
    }

    private static DestinationArtifacts Set(string key = "private key") =>
        DestinationArtifacts.Empty.SetItem("key", key).SetItem("key-cert.pub", "certificate");

    private static string Generation(string directory) => new FileInfo(Path.Combine(directory, "..data")).LinkTarget!;

    // Issue 13 defect 5: on a full file system the write test failed after creating its file and
    // left a stray .write-test behind. A 64 KiB tmpfs filled up makes the failure real.
    [Test]
    [TestCase(false)]
    [TestCase(true)]
    public async Task A_full_file_system_fails_the_write_test_and_leaves_nothing_behind(bool portable)
    {
        var mount = _temp.Combine("small");
        Directory.CreateDirectory(mount);
        var mounted = ProcessRunner.Find("mount") is { } mountTool ? ProcessRunner.Run(mountTool, "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount) : null;
        if (mounted is null || mounted.ExitCode != 0)
        {
            Assert.Ignore("[requires-root] mounting a small tmpfs needs root (mount -t tmpfs): " + mounted?.StandardError);
        }

        try
        {
            var path = Path.Combine(mount, "dest");
            var destination = Create(path, portable: portable);
            await destination.InitializeAsync();
            await using (var filler = File.Create(Path.Combine(mount, "filler")))
            {
                var block = new byte[4096];
                try
                {
                    while (true)
                    {
                        filler.Write(block);
                        filler.Flush();
                    }
                }
                catch (IOException)
                {
                    // Full.
                }
            }

            var error = Assert.ThrowsAsync<DestinationException>(() => destination.VerifyWritableAsync());

            Assert.That(error!.Message, Does.Contain(".write-test"));
            Assert.That(Directory.GetFileSystemEntries(path).Select(Path.GetFileName), Does.Not.Contain(".write-test"));
        }
        finally
        {
            ProcessRunner.Run(ProcessRunner.Find("umount")!, mount);
        }
    }

    [Test]
    public void Openat2_IsAvailableOnThisKernel()
    {
        // The build machine runs Linux 6.x; if this fails the secure-mode tests below prove less.
        Assert.That(LinuxNative.IsOpenat2Available, Is.True, Environment.OSVersion.ToString());
    }

    [Test]
    public async Task SecureMode_WithOpenat2_WritesAndRefusesALinkedDestination()
    {
        if (!LinuxNative.IsOpenat2Available)
        {
            Assert.Ignore("openat2 is not available here.");
        }

        var path = _temp.Combine("dest");
        await Create(path, SymlinkMode.Secure).WriteAsync(Set());
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("private key"));

        Directory.CreateSymbolicLink(_temp.Combine("link"), path);
        var ex = Assert.ThrowsAsync<DestinationException>(() => Create(_temp.Combine("link"), SymlinkMode.Secure).WriteAsync(Set("other")));
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.SymlinkRefused));
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("private key"));
    }

    [Test]
    public void SecureMode_WithoutOpenat2_IsAConfigurationError()
    {
        var ex = Assert.ThrowsAsync<DestinationException>(() => Create(_temp.Combine("dest"), SymlinkMode.Secure, noOpenat2: true).InitializeAsync());
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.InvalidConfiguration));
        Assert.That(ex.Message, Does.Contain("openat2").And.Contain("try-secure"));
        Assert.That(Directory.Exists(_temp.Combine("dest")), Is.False);

        var portable = Assert.ThrowsAsync<DestinationException>(() => Create(_temp.Combine("dest"), SymlinkMode.Secure, portable: true).InitializeAsync());
        Assert.That(portable!.Failure, Is.EqualTo(DestinationFailure.InvalidConfiguration));
    }

    [Test]
    public async Task TrySecure_WithoutOpenat2_WarnsOnce_AndStillRefusesLinks()
    {
        var path = _temp.Combine("dest");
        var destination = Create(path, noOpenat2: true);
        await destination.WriteAsync(Set());
        await destination.WriteAsync(Set("second"));
        Assert.That(_logger.Entries.Count(e => e.EventId.Id == MachineIdEventIds.DestinationSecureSymlinksFallback), Is.EqualTo(1));
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("second"));

        Directory.CreateSymbolicLink(_temp.Combine("link"), path);
        var ex = Assert.ThrowsAsync<DestinationException>(() => Create(_temp.Combine("link"), noOpenat2: true).WriteAsync(Set("x")));
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.SymlinkRefused));
    }

    [Test]
    public async Task AWriterInAnotherProcess_HoldingTheWriteLock_MakesAWriteWaitForIt()
    {
        var flock = ProcessRunner.Require("flock", "util-linux");
        var sleep = ProcessRunner.Require("sleep", "coreutils");
        var path = _temp.Combine("dest");
        var destination = Create(path);
        await destination.WriteAsync(Set("first"));
        var lockPath = Path.Combine(path, "..lock");

        using var holder = System.Diagnostics.Process.Start(flock, [lockPath, sleep, "60"]);
        try
        {
            // Wait until the child holds the lock, as flock(1) itself reports it.
            for (var i = 0; i < 400 && ProcessRunner.Run(flock, "--nonblock", "--conflict-exit-code", "42", lockPath, "true").ExitCode != 42; i++)
            {
                Thread.Sleep(25);
            }

            var write = destination.WriteAsync(Set("second"));
            await Task.WhenAny(write, Task.Delay(300));
            Assert.That(write.IsCompleted, Is.False, "the write must wait for the other process's lock");
            Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("first"));

            holder.Kill(entireProcessTree: true);
            await write.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("second"));
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill(entireProcessTree: true);
            }

            holder.WaitForExit();
        }
    }

    private void RequireAclSupport()
    {
        var setfacl = ProcessRunner.Require("setfacl", "acl");
        var probe = _temp.Combine("acl-probe");
        File.WriteAllText(probe, string.Empty);
        var result = ProcessRunner.Run(setfacl, "-m", "u:4242:r", probe);
        File.Delete(probe);
        if (result.ExitCode != 0)
        {
            Assert.Ignore($"The temp file system ({_temp.Path}) does not support POSIX ACLs: {result.StandardError.Trim()}");
        }
    }

    private static string[] GetFacl(string path)
    {
        var getfacl = ProcessRunner.Require("getfacl", "acl");
        var result = ProcessRunner.Run(getfacl, "--numeric", "--omit-header", "--absolute-names", path);
        Assert.That(result.ExitCode, Is.Zero, result.StandardError);
        return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static readonly string[] ExpectedFileAcl =
        ["user::rw-", "user:4242:r--", "user:65534:r--", "group::---", "group:65534:r--", "mask::r--", "other::---"];

    private static readonly string[] ExpectedDirectoryAcl =
        ["user::rwx", "user:4242:r-x", "user:65534:r-x", "group::---", "group:65534:r-x", "mask::r-x", "other::---"];

    private static readonly AclReader[] Readers = [AclReader.User(ReaderUid), AclReader.User("nobody"), AclReader.Group("nogroup")];

    [Test]
    public async Task Readers_GetTbotsAcl_OnTheDirectoryTheGenerationAndEveryFile()
    {
        RequireAclSupport();
        var path = _temp.Combine("dest");
        var destination = Create(path, readers: Readers);
        await destination.WriteAsync(Set());
        var generation = Path.Combine(path, Generation(path));

        Assert.Multiple(() =>
        {
            Assert.That(destination.AclsEnabled, Is.True);
            Assert.That(GetFacl(path), Is.EqualTo(ExpectedDirectoryAcl));
            Assert.That(GetFacl(generation), Is.EqualTo(ExpectedDirectoryAcl));
            Assert.That(GetFacl(Path.Combine(generation, "key")), Is.EqualTo(ExpectedFileAcl));
            Assert.That(GetFacl(Path.Combine(generation, "key-cert.pub")), Is.EqualTo(ExpectedFileAcl));
            Assert.That(GetFacl(Path.Combine(generation, ".manifest")), Is.EqualTo(ExpectedFileAcl));
        });

        // The raw xattr, read back through fgetxattr, is the version-2 ABI with the entries in order.
        var fd = LinuxNative.OpenAt(LinuxNative.AtFdCwd, Path.Combine(generation, "key"), 0, 0);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0));
        using var handle = new SafeFileDescriptor(fd);
        var xattr = LinuxNative.FGetXattr(handle, "system.posix_acl_access")!;
        Assert.That(BitConverter.ToUInt32(xattr, 0), Is.EqualTo(2u));
        Assert.That(PosixAcl.Decode(xattr), Is.EqualTo(new PosixAcl.Entry[]
        {
            new(PosixAcl.TagUserObj, 6, PosixAcl.UndefinedId),
            new(PosixAcl.TagUser, 4, ReaderUid),
            new(PosixAcl.TagUser, 4, 65534),
            new(PosixAcl.TagGroupObj, 0, PosixAcl.UndefinedId),
            new(PosixAcl.TagGroup, 4, 65534),
            new(PosixAcl.TagMask, 4, PosixAcl.UndefinedId),
            new(PosixAcl.TagOther, 0, PosixAcl.UndefinedId),
        }));
    }

    [Test]
    public async Task Readers_CanReadThroughTheLinks_AndOthersCannot()
    {
        RequireAclSupport();
        var setpriv = ProcessRunner.Require("setpriv", "util-linux");
        var cat = ProcessRunner.Require("cat", "coreutils");
        File.SetUnixFileMode(_temp.Path, (UnixFileMode)0b111_101_101); // let other users traverse the temp root
        var path = _temp.Combine("dest");
        await Create(path, readers: [AclReader.User(ReaderUid)]).WriteAsync(Set("readable by 4242"));

        string[] As(uint uid) => ["--reuid", uid.ToString(), "--regid", uid.ToString(), "--clear-groups", cat, Path.Combine(path, "key")];
        var reader = ProcessRunner.Run(setpriv, As(ReaderUid));
        var outsider = ProcessRunner.Run(setpriv, As(OutsiderUid));

        Assert.That(reader.ExitCode, Is.Zero, reader.StandardError);
        Assert.That(reader.StandardOutput, Is.EqualTo("readable by 4242"));
        Assert.That(outsider.ExitCode, Is.Not.Zero);
        Assert.That(outsider.StandardError, Does.Contain("Permission denied"));
    }

    [Test]
    public async Task TamperedAcls_AreCorrectedOnTheNextWrite()
    {
        RequireAclSupport();
        var setfacl = ProcessRunner.Require("setfacl", "acl");
        var path = _temp.Combine("dest");
        var destination = Create(path, readers: Readers);
        await destination.WriteAsync(Set());

        Assert.That(ProcessRunner.Run(setfacl, "-m", "u:777:rwx,o::rx", path).ExitCode, Is.Zero);
        Assert.That(GetFacl(path), Does.Contain("user:777:rwx"));
        await destination.WriteAsync(Set("second"));
        Assert.That(GetFacl(path), Is.EqualTo(ExpectedDirectoryAcl));
        Assert.That(_logger.Has(MachineIdEventIds.DestinationAclCorrected), Is.True);

        Assert.That(ProcessRunner.Run(setfacl, "-b", path).ExitCode, Is.Zero, "remove the ACL altogether");
        await destination.WriteAsync(Set("third"));
        Assert.That(GetFacl(path), Is.EqualTo(ExpectedDirectoryAcl));
        Assert.That(GetFacl(Path.Combine(path, Generation(path), "key")), Is.EqualTo(ExpectedFileAcl));
    }

    [Test]
    public async Task AclsOff_IgnoresReaders_AndTheFilesStayOwnerOnly()
    {
        var path = _temp.Combine("dest");
        await Create(path, acls: AclMode.Off, readers: Readers).WriteAsync(Set());

        Assert.That(_logger.Has(MachineIdEventIds.DestinationAclsIgnored), Is.True);
        Assert.That(File.GetUnixFileMode(Path.Combine(path, "key")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        if (ProcessRunner.Find("getfacl") is not null)
        {
            Assert.That(GetFacl(Path.Combine(path, "key")), Is.EqualTo(new[] { "user::rw-", "group::---", "other::---" }));
        }
    }

    [Test]
    public async Task AclsTry_WhereAclsCannotBeApplied_WarnsAndWritesOwnerOnlyFiles()
    {
        // The portable code path has no ACL support, like a file system without it.
        var path = _temp.Combine("dest");
        var destination = Create(path, readers: Readers, portable: true);
        await destination.WriteAsync(Set());

        Assert.That(destination.AclsEnabled, Is.False);
        Assert.That(_logger.Has(MachineIdEventIds.DestinationAclsUnavailable), Is.True);
        Assert.That(File.GetUnixFileMode(Path.Combine(path, "key")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Test]
    public void AclsRequired_WhereAclsCannotBeApplied_Fails()
    {
        var ex = Assert.ThrowsAsync<DestinationException>(() =>
            Create(_temp.Combine("dest"), acls: AclMode.Required, readers: Readers, portable: true).WriteAsync(Set()));
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.AclFailed));
        Assert.That(ex.Message, Does.Contain("acls: required"));
    }

    [Test]
    public async Task UnknownReaderName_WarnsWithTry_AndFailsWithRequired()
    {
        var unknown = AclReader.User("no-such-user-tmid");
        var tried = Create(_temp.Combine("try"), readers: [unknown]);
        await tried.WriteAsync(Set());
        Assert.That(tried.AclsEnabled, Is.False);
        Assert.That(_logger.Entries.Single(e => e.EventId.Id == MachineIdEventIds.DestinationAclsUnavailable).Message, Does.Contain("no-such-user-tmid"));

        var ex = Assert.ThrowsAsync<DestinationException>(() =>
            Create(_temp.Combine("required"), acls: AclMode.Required, readers: [unknown]).InitializeAsync());
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.InvalidConfiguration));
        Assert.That(ex.Message, Does.Contain("user:no-such-user-tmid"));
    }

    [Test]
    public void AclReader_ParsesNamesAndIdsLikeTbot()
    {
        Assert.Multiple(() =>
        {
            Assert.That(AclReader.User("1000").Id, Is.EqualTo(1000u));
            Assert.That(AclReader.User("1000").Name, Is.Null);
            Assert.That(AclReader.Group("deploy").Name, Is.EqualTo("deploy"));
            Assert.That(AclReader.Group("deploy").ToString(), Is.EqualTo("group:deploy"));
            Assert.That(AclReader.User(7).ToString(), Is.EqualTo("user:7"));
            var alice = AclReader.User("alice");
            Assert.That(AclReader.User("alice"), Is.EqualTo(alice));
            Assert.That(AclReader.User("alice"), Is.Not.EqualTo(AclReader.Group("alice")));
            Assert.Throws<ArgumentException>(() => AclReader.User("a:b"));
            Assert.Throws<ArgumentException>(() => AclReader.User(" "));
            Assert.Throws<ArgumentException>(() => AclReader.User("4294967295"));
            Assert.Throws<ArgumentOutOfRangeException>(() => AclReader.Group(uint.MaxValue));
            Assert.That(LinuxNative.LookupId("root", group: false), Is.EqualTo(0u));
            Assert.That(LinuxNative.LookupId("nogroup", group: true), Is.EqualTo(65534u));
            Assert.That(LinuxNative.LookupId("no-such-user-tmid", group: false), Is.Null);
        });
    }
}
