using System.Text;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Destinations;

/// <summary>
/// Behaviour every file-system code path must have: run once with the Linux descriptor-relative
/// code and once with the portable path-based code (what macOS and the BSDs use).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[TestFixture(false, TestName = "DirectoryDestination(linux)")]
[TestFixture(true, TestName = "DirectoryDestination(portable)")]
public class DirectoryDestinationTests
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly bool _portable;
    private TempDirectory _temp = null!;
    private ListLogger<DirectoryDestination> _logger = null!;

    public DirectoryDestinationTests(bool portable)
    {
        _portable = portable;
    }

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows() || (!_portable && !OperatingSystem.IsLinux()))
        {
            Assert.Ignore("These tests exercise POSIX file-system semantics (the Linux code path runs on Linux only).");
        }

        _temp = new TempDirectory();
        _logger = new ListLogger<DirectoryDestination>();
    }

    [TearDown]
    public void TearDown() => _temp?.Dispose();

    private DirectoryDestination Create(string path, SymlinkMode symlinks = SymlinkMode.TrySecure) =>
        new(new DirectoryDestinationOptions { Path = path, Symlinks = symlinks, ForcePortableFileSystem = _portable }, _logger);

    private static DestinationArtifacts Set(params (string Name, string Content)[] items) =>
        items.Aggregate(DestinationArtifacts.Empty, (set, item) => set.SetItem(item.Name, item.Content));

    private static string? DataTarget(string directory) => new FileInfo(Path.Combine(directory, "..data")).LinkTarget;

    private static string[] Generations(string directory) =>
        Directory.GetFileSystemEntries(directory, "..gen-*").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    [Test]
    [NonParallelizable] // changes the process umask
    public async Task Write_CreatesDirectories0700_AndFiles0600_EvenWithAPermissiveUmask()
    {
        var path = _temp.Combine("a", "b", "dest");
        using (TestNative.Umask(0))
        {
            await Create(path).WriteAsync(Set(("key", "private"), ("key-cert.pub", "cert")));
        }

        var generation = DataTarget(path)!;
        Assert.Multiple(() =>
        {
            Assert.That(File.GetUnixFileMode(_temp.Combine("a")), Is.EqualTo(Mode0700), "created parent");
            Assert.That(File.GetUnixFileMode(_temp.Combine("a", "b")), Is.EqualTo(Mode0700), "created parent");
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(Mode0700), "destination");
            Assert.That(File.GetUnixFileMode(Path.Combine(path, generation)), Is.EqualTo(Mode0700), "generation directory");
            Assert.That(File.GetUnixFileMode(Path.Combine(path, generation, "key")), Is.EqualTo(Mode0600));
            Assert.That(File.GetUnixFileMode(Path.Combine(path, generation, "key-cert.pub")), Is.EqualTo(Mode0600));
            Assert.That(File.GetUnixFileMode(Path.Combine(path, "key")), Is.EqualTo(Mode0600), "through the visible link");
            Assert.That(_logger.Has(MachineIdEventIds.DestinationDirectoryCreated), Is.True);
        });
    }

    [Test]
    [NonParallelizable] // changes the process umask
    public async Task Write_WithARestrictiveUmask_StillGivesTheOwnerExactly0600And0700()
    {
        var path = _temp.Combine("dest");
        using (TestNative.Umask(0b011_111_111)) // 0377: would leave r-------- and r-x------
        {
            await Create(path).WriteAsync(Set(("key", "private")));
        }

        Assert.That(File.GetUnixFileMode(path), Is.EqualTo(Mode0700));
        Assert.That(File.GetUnixFileMode(Path.Combine(path, "key")), Is.EqualTo(Mode0600));
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("private"));
    }

    [Test]
    public async Task Write_LaysOutGenerationDataLinkAndVisibleLinks_AndReadReturnsTheSet()
    {
        var path = _temp.Combine("dest");
        var destination = Create(path);
        var set = Set(("key", "private"), ("key-cert.pub", "cert"), ("identity", "both"));

        Assert.That(await destination.ReadAsync(), Is.Null, "nothing there yet");
        await destination.WriteAsync(set);

        var generation = DataTarget(path);
        Assert.Multiple(async () =>
        {
            Assert.That(generation, Does.StartWith("..gen-"));
            Assert.That(new FileInfo(Path.Combine(path, "key")).LinkTarget, Is.EqualTo("..data/key"));
            Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("private"));
            Assert.That(File.ReadAllText(Path.Combine(path, "identity")), Is.EqualTo("both"));
            Assert.That((await destination.ReadAsync())!.ContentEquals(set), Is.True);
            Assert.That(destination.IsPersistent, Is.True);
            Assert.That(destination.Description, Is.EqualTo("directory " + path));
            Assert.That(Directory.GetFileSystemEntries(path).Select(Path.GetFileName),
                Is.EquivalentTo(new[] { "..data", "..lock", generation, "key", "key-cert.pub", "identity" }));
        });
    }

    [Test]
    public async Task Read_OfAMissingDirectory_OrOfPlainFiles_IsNull_AndCreatesNothing()
    {
        var missing = _temp.Combine("missing");
        Assert.That(await Create(missing).ReadAsync(), Is.Null);
        Assert.That(Directory.Exists(missing), Is.False);

        var tbotStyle = _temp.Combine("tbot");
        Directory.CreateDirectory(tbotStyle);
        File.WriteAllText(Path.Combine(tbotStyle, "key"), "written by tbot");
        Assert.That(await Create(tbotStyle).ReadAsync(), Is.Null);
    }

    [Test]
    public async Task Rewrite_ReplacesTheSet_RemovesStaleLinks_KeepsOnlyThePreviousGeneration_AndLeavesOtherFilesAlone()
    {
        var path = _temp.Combine("dest");
        var destination = Create(path);
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "notes.txt"), "mine");
        File.CreateSymbolicLink(Path.Combine(path, "users-link"), "notes.txt");

        await destination.WriteAsync(Set(("key", "1"), ("old-only", "1")));
        var first = DataTarget(path);
        await destination.WriteAsync(Set(("key", "2"), ("key-cert.pub", "2")));
        var second = DataTarget(path);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("2"));
            Assert.That(File.Exists(Path.Combine(path, "old-only")) || new FileInfo(Path.Combine(path, "old-only")).LinkTarget is not null,
                Is.False, "link of an artifact no longer in the set is removed");
            Assert.That(Generations(path), Is.EquivalentTo(new[] { first, second }), "previous generation kept for readers in flight");
            Assert.That(File.ReadAllText(Path.Combine(path, "notes.txt")), Is.EqualTo("mine"));
            Assert.That(new FileInfo(Path.Combine(path, "users-link")).LinkTarget, Is.EqualTo("notes.txt"));
        });

        await destination.WriteAsync(Set(("key", "3")));
        Assert.That(Generations(path), Is.EquivalentTo(new[] { second, DataTarget(path) }), "older generations removed");
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("3"));
        Assert.That(File.Exists(Path.Combine(path, "key-cert.pub")), Is.False);
    }

    [Test]
    public async Task ConcurrentReaders_NeverSeeAMismatchedOrPartialPair_Across200Writes()
    {
        var path = _temp.Combine("dest");
        var destination = Create(path);
        var random = new Random(42);
        var initial = PairedArtifacts.Create(random, 0);
        await destination.WriteAsync(DestinationArtifacts.Empty.SetItem("key", initial.Key).SetItem("key-cert.pub", initial.Certificate));

        using var stop = new CancellationTokenSource();
        var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var apiReads = 0;
        var protocolReads = 0;

        // Reader 1: the API.
        var apiReader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var set = await destination.ReadAsync();
                if (set is null || !set.ContainsKey("key") || !set.ContainsKey("key-cert.pub"))
                {
                    problems.Enqueue("ReadAsync returned an incomplete set");
                    continue;
                }

                if (PairedArtifacts.Check(set["key"].Span, set["key-cert.pub"].Span) is { } problem)
                {
                    problems.Enqueue("ReadAsync: " + problem);
                }

                Interlocked.Increment(ref apiReads);
            }
        });

        // Reader 2: a plain program following the documented protocol: readlink ..data once, read both files under it,
        // start again if the generation was retired meanwhile.
        var protocolReader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var generation = DataTarget(path)!;
                    var key = File.ReadAllBytes(Path.Combine(path, generation, "key"));
                    var certificate = File.ReadAllBytes(Path.Combine(path, generation, "key-cert.pub"));
                    if (PairedArtifacts.Check(key, certificate) is { } problem)
                    {
                        problems.Enqueue("protocol: " + problem);
                    }

                    Interlocked.Increment(ref protocolReads);
                }
                catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
                {
                    // retired generation: retry
                }
            }
        });

        // Both readers must be running before the writes start: on a loaded machine the writes can
        // otherwise finish before a reader is first scheduled.
        var deadline = Environment.TickCount64 + 30_000;
        while ((Volatile.Read(ref apiReads) == 0 || Volatile.Read(ref protocolReads) == 0) && Environment.TickCount64 < deadline)
        {
            await Task.Delay(5);
        }

        for (var i = 1; i <= 200; i++)
        {
            var pair = PairedArtifacts.Create(random, i);
            await destination.WriteAsync(DestinationArtifacts.Empty
                .SetItem("key", pair.Key)
                .SetItem("key-cert.pub", pair.Certificate)
                .SetItem("known_hosts", $"generation {i}"));
        }

        await stop.CancelAsync();
        await Task.WhenAll(apiReader, protocolReader);

        Assert.That(problems, Is.Empty);
        Assert.That(apiReads, Is.GreaterThan(0));
        Assert.That(protocolReads, Is.GreaterThan(0));
        Assert.That(Generations(path), Has.Length.LessThanOrEqualTo(2));
    }

    [Test]
    public async Task TwoInstancesWritingOneDirectory_AreSerialized_AndReadersSeeOnlyConsistentSets()
    {
        var path = _temp.Combine("dest");
        var initial = PairedArtifacts.Create(new Random(0), 0);
        await Create(path).WriteAsync(DestinationArtifacts.Empty.SetItem("key", initial.Key).SetItem("key-cert.pub", initial.Certificate));

        using var stop = new CancellationTokenSource();
        var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var observer = Create(path);
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var set = (await observer.ReadAsync())!;
                if (PairedArtifacts.Check(set["key"].Span, set["key-cert.pub"].Span) is { } problem)
                {
                    problems.Enqueue(problem);
                }
            }
        });

        async Task WriteMany(DirectoryDestination writer, int seed)
        {
            var random = new Random(seed);
            for (var i = 0; i < 40; i++)
            {
                var pair = PairedArtifacts.Create(random, i);
                await writer.WriteAsync(DestinationArtifacts.Empty.SetItem("key", pair.Key).SetItem("key-cert.pub", pair.Certificate));
            }
        }

        await Task.WhenAll(Task.Run(() => WriteMany(Create(path), 1)), Task.Run(() => WriteMany(Create(path), 2)));
        await stop.CancelAsync();
        await reader;

        var final = (await observer.ReadAsync())!;
        Assert.That(problems, Is.Empty);
        Assert.That(PairedArtifacts.Check(final["key"].Span, final["key-cert.pub"].Span), Is.Null);
        Assert.That(File.ReadAllBytes(Path.Combine(path, "key")), Is.EqualTo(final["key"].ToArray()));
        Assert.That(Generations(path), Has.Length.LessThanOrEqualTo(2));
        Assert.That(Directory.GetFileSystemEntries(path, "*.tmp*"), Is.Empty);
    }

    [TestCase(SymlinkMode.TrySecure)]
    [TestCase(SymlinkMode.Insecure)]
    public async Task PlantedLinkAtAnArtifactName_IsReplaced_NeverWrittenThrough(SymlinkMode mode)
    {
        var victim = _temp.Combine("victim");
        File.WriteAllText(victim, "precious");
        var path = _temp.Combine("dest");
        Directory.CreateDirectory(path);
        File.CreateSymbolicLink(Path.Combine(path, "key"), victim);

        await Create(path, mode).WriteAsync(Set(("key", "new key")));

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(victim), Is.EqualTo("precious"));
            Assert.That(new FileInfo(Path.Combine(path, "key")).LinkTarget, Is.EqualTo("..data/key"));
            Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("new key"));
            Assert.That(_logger.Has(MachineIdEventIds.DestinationUnexpectedSymlinkReplaced), Is.True);
        });
    }

    [Test]
    public async Task DestinationThatIsALink_IsRefusedInTrySecure_AndFollowedInInsecure()
    {
        var real = _temp.Combine("real");
        Directory.CreateDirectory(real);
        var link = _temp.Combine("link");
        Directory.CreateSymbolicLink(link, real);

        var refused = Assert.ThrowsAsync<DestinationException>(() => Create(link).WriteAsync(Set(("key", "x"))));
        Assert.That(refused!.Failure, Is.EqualTo(DestinationFailure.SymlinkRefused));
        Assert.That(refused.Message, Does.Contain(link).And.Contain("symlinks: insecure"));
        Assert.That(Directory.GetFileSystemEntries(real), Is.Empty, "nothing written through the link");
        Assert.That(async () => await Create(link).ReadAsync(), Throws.InstanceOf<DestinationException>());

        await Create(link, SymlinkMode.Insecure).WriteAsync(Set(("key", "x")));
        Assert.That(File.ReadAllText(Path.Combine(real, "key")), Is.EqualTo("x"));
    }

    [Test]
    public void LinkInAParentComponent_IsRefusedInTrySecure()
    {
        var realParent = _temp.Combine("real-parent");
        Directory.CreateDirectory(realParent);
        Directory.CreateSymbolicLink(_temp.Combine("parent-link"), realParent);

        var ex = Assert.ThrowsAsync<DestinationException>(() => Create(_temp.Combine("parent-link", "dest")).InitializeAsync());
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.SymlinkRefused));
        Assert.That(Directory.Exists(Path.Combine(realParent, "dest")), Is.False);
    }

    [Test]
    public async Task ForeignDataLink_IsRefusedByRead_AndReplacedByWrite_WithoutTouchingItsTarget()
    {
        var evil = _temp.Combine("evil");
        Directory.CreateDirectory(evil);
        File.WriteAllText(Path.Combine(evil, "key"), "attacker's key");
        var path = _temp.Combine("dest");
        Directory.CreateDirectory(path);
        Directory.CreateSymbolicLink(Path.Combine(path, "..data"), evil);
        var destination = Create(path);

        var ex = Assert.ThrowsAsync<DestinationException>(() => destination.ReadAsync());
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.SymlinkRefused));

        await destination.WriteAsync(Set(("key", "mine")));
        Assert.That(File.ReadAllText(Path.Combine(evil, "key")), Is.EqualTo("attacker's key"));
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("mine"));
        Assert.That(DataTarget(path), Does.StartWith("..gen-"));
    }

    [Test]
    public async Task ArtifactNameTakenByADirectory_FailsBeforeAnythingChanges()
    {
        var path = _temp.Combine("dest");
        var destination = Create(path);
        await destination.WriteAsync(Set(("key", "1")));
        var generation = DataTarget(path);
        Directory.CreateDirectory(Path.Combine(path, "identity"));

        var ex = Assert.ThrowsAsync<DestinationException>(() => destination.WriteAsync(Set(("key", "2"), ("identity", "x"))));
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.UnexpectedContent));
        Assert.That(ex.Message, Does.Contain("identity"));
        Assert.That(DataTarget(path), Is.EqualTo(generation));
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("1"));
        Assert.That(Generations(path), Has.Length.EqualTo(1));
    }

    [Test]
    public async Task PlainFilesFromTbot_AreReplacedByLinks()
    {
        var path = _temp.Combine("dest");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "key"), "old tbot key");

        await Create(path).WriteAsync(Set(("key", "new")));

        Assert.That(new FileInfo(Path.Combine(path, "key")).LinkTarget, Is.EqualTo("..data/key"));
        Assert.That(File.ReadAllText(Path.Combine(path, "key")), Is.EqualTo("new"));
        Assert.That(_logger.Has(MachineIdEventIds.DestinationPlainFileReplaced), Is.True);
    }

    [Test]
    public async Task TamperedGeneration_IsReportedByRead()
    {
        var path = _temp.Combine("dest");
        var destination = Create(path);
        await destination.WriteAsync(Set(("key", "12345")));
        File.WriteAllText(Path.Combine(path, DataTarget(path)!, "key"), "1");

        var ex = Assert.ThrowsAsync<DestinationException>(() => destination.ReadAsync());
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.UnexpectedContent));
        Assert.That(ex.Message, Does.Contain("manifest").And.Not.Contain("12345"));
    }

    [Test]
    public async Task VerifyWritable_PassesAndLeavesNoTestFile_EvenWhenALinkIsPlantedThere()
    {
        var path = _temp.Combine("dest");
        var victim = _temp.Combine("victim");
        File.WriteAllText(victim, "precious");
        var destination = Create(path);
        await destination.InitializeAsync();
        File.CreateSymbolicLink(Path.Combine(path, ".write-test"), victim);

        await destination.VerifyWritableAsync();

        Assert.That(File.Exists(Path.Combine(path, ".write-test")), Is.False);
        Assert.That(new FileInfo(Path.Combine(path, ".write-test")).LinkTarget, Is.Null);
        Assert.That(File.ReadAllText(victim), Is.EqualTo("precious"));
    }

    [Test]
    public async Task VerifyWritable_OnAnImmutableDirectory_FailsWithNotWritable()
    {
        // Tests run as root, which ignores permission bits; the immutable attribute binds root too.
        var chattr = ProcessRunner.Require("chattr", "e2fsprogs");
        var path = _temp.Combine("dest");
        var destination = Create(path);
        await destination.InitializeAsync();
        var result = ProcessRunner.Run(chattr, "+i", path);
        if (result.ExitCode != 0)
        {
            Assert.Ignore($"The temp file system does not support chattr +i: {result.StandardError.Trim()}");
        }

        try
        {
            var ex = Assert.ThrowsAsync<DestinationException>(() => destination.VerifyWritableAsync());
            Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.NotWritable));
            Assert.That(ex.Message, Does.Contain(path).And.Contain(".write-test").And.Contain("immutable"));

            var writeFailure = Assert.ThrowsAsync<DestinationException>(() => destination.WriteAsync(Set(("key", "x"))));
            Assert.That(writeFailure!.Failure, Is.EqualTo(DestinationFailure.NotWritable));
        }
        finally
        {
            ProcessRunner.Run(chattr, "-i", path);
        }
    }

    [Test]
    public void PathBelowARegularFile_FailsWithUnexpectedContent()
    {
        File.WriteAllText(_temp.Combine("file"), "x");
        var ex = Assert.ThrowsAsync<DestinationException>(() => Create(_temp.Combine("file", "dest")).VerifyWritableAsync());
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.UnexpectedContent));
        Assert.That(ex.Message, Does.Contain(_temp.Combine("file")));
    }

    [Test]
    public async Task ExistingGroupWritableDirectory_LosesGroupWriteAndIsWarnedAbout()
    {
        var path = _temp.Combine("dest");
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, Mode0700 | UnixFileMode.GroupWrite | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);

        await Create(path).InitializeAsync();

        Assert.That(File.GetUnixFileMode(path), Is.EqualTo(Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute), "readers keep read access");
        Assert.That(_logger.Has(MachineIdEventIds.DestinationDirectoryPermissive), Is.True);
        Assert.That(_logger.Has(MachineIdEventIds.DestinationInitialized), Is.True);
    }

    // Issue 13 defect 5: a pre-existing 0777 destination was only warned about; anyone could swap its links.
    [Test]
    public async Task ExistingWorldWritableDirectory_IsRestrictedBeforeAnythingIsWritten()
    {
        var path = _temp.Combine("dest");
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);

        await Create(path).WriteAsync(Set(("key", "one")));

        Assert.That((int)File.GetUnixFileMode(path) & 0b000_010_010, Is.Zero, "group and others may no longer write");
    }

    [Test]
    public void CancelledWrite_ChangesNothing()
    {
        var path = _temp.Combine("dest");
        Assert.That(
            async () => await Create(path).WriteAsync(Set(("key", "x")), new CancellationToken(canceled: true)),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(Directory.Exists(path), Is.False);
    }

    [Test]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentNullException>(() => new DirectoryDestination(null!));
        Assert.Throws<ArgumentException>(() => new DirectoryDestination(new DirectoryDestinationOptions { Path = " " }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirectoryDestination(new DirectoryDestinationOptions { Path = "x", Symlinks = (SymlinkMode)42 }));
        var relative = new DirectoryDestination(new DirectoryDestinationOptions { Path = "relative/dir/" });
        Assert.That(relative.Path, Is.EqualTo(Path.Combine(Environment.CurrentDirectory, "relative", "dir")));
    }

    [Test]
    public async Task ManyArtifacts_RoundTripByteForByte()
    {
        var random = new Random(7);
        var set = DestinationArtifacts.Empty;
        foreach (var name in new[] { "identity", "key", "key.pub", "key-cert.pub", "tlscert", "teleport-host-ca.crt", "teleport-user-ca.crt",
                     "teleport-database-ca.crt", "known_hosts", "ssh_config", "empty" })
        {
            var content = new byte[name == "empty" ? 0 : random.Next(1, 3000)];
            random.NextBytes(content);
            set = set.SetItem(name, content);
        }

        var path = _temp.Combine("dest");
        await Create(path).WriteAsync(set);
        var read = await Create(path).ReadAsync();

        Assert.That(read!.ContentEquals(set), Is.True);
        Assert.That(File.ReadAllBytes(Path.Combine(path, "tlscert")), Is.EqualTo(set["tlscert"].ToArray()));
        Assert.That(Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(path, DataTarget(path)!, ".manifest"))), Does.StartWith("teleport-machineid-artifacts v1\n"));
    }
}
