using System.Runtime.Versioning;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Destinations.Internal;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Destinations;

[UnsupportedOSPlatform("windows")]
public class ExclusiveDirectoryLockTests
{
    private TempDirectory _temp = null!;

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("flock semantics are Unix-only.");
        }

        _temp = new TempDirectory();
    }

    [TearDown]
    public void TearDown() => _temp?.Dispose();

    [Test]
    public void SecondAcquisitionInTheSameProcess_FailsAtOnce_NamingThePath()
    {
        using var first = ExclusiveDirectoryLock.Acquire(_temp.Path);

        var ex = Assert.Throws<DestinationException>(() => ExclusiveDirectoryLock.Acquire(_temp.Path));
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.Locked));
        Assert.That(ex.Path, Is.EqualTo(Path.Combine(_temp.Path, "lock")));
        Assert.That(ex.Message, Does.Contain(Path.Combine(_temp.Path, "lock")).And.Contain("tbot-dotnet"));
        Assert.That(first.IsHeld, Is.True);
        Assert.That(File.GetUnixFileMode(first.LockFilePath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Test]
    public void AnotherProcess_SeesTheLock_UntilItIsReleased()
    {
        var flock = ProcessRunner.Require("flock", "util-linux");
        var lockPath = Path.Combine(_temp.Path, "lock");
        var held = ExclusiveDirectoryLock.Acquire(_temp.Path);

        var whileHeld = ProcessRunner.Run(flock, "--nonblock", "--conflict-exit-code", "42", lockPath, "true");
        held.Dispose();
        var afterRelease = ProcessRunner.Run(flock, "--nonblock", "--conflict-exit-code", "42", lockPath, "true");

        Assert.That(whileHeld.ExitCode, Is.EqualTo(42), "flock(1) must see the lock as taken");
        Assert.That(afterRelease.ExitCode, Is.Zero, afterRelease.StandardError);
        Assert.That(held.IsHeld, Is.False);
        Assert.That(File.Exists(lockPath), Is.True, "the lock file is never deleted");
        held.Dispose(); // idempotent
    }

    [Test]
    public void ALockHeldByAnotherProcess_IsReported()
    {
        var flock = ProcessRunner.Require("flock", "util-linux");
        var sleep = ProcessRunner.Require("sleep", "coreutils");
        var lockPath = Path.Combine(_temp.Path, "lock");
        using var holder = System.Diagnostics.Process.Start(flock, [lockPath, sleep, "30"]);
        try
        {
            // Wait until the child holds it (flock(1) creates the file and then locks it).
            DestinationException? ex = null;
            for (var i = 0; i < 200 && ex is null; i++)
            {
                try
                {
                    ExclusiveDirectoryLock.Acquire(_temp.Path).Dispose();
                    Thread.Sleep(25);
                }
                catch (DestinationException caught)
                {
                    ex = caught;
                }
            }

            Assert.That(ex, Is.Not.Null, "flock(1) never took the lock");
            Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.Locked));
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
    }

    [Test]
    public void APlantedLinkAtTheLockFile_IsRefused()
    {
        if (!LinuxNative.IsSupported)
        {
            Assert.Ignore("O_NOFOLLOW lock opening is on the Linux code path.");
        }

        var victim = Path.Combine(_temp.Path, "victim");
        File.WriteAllText(victim, "precious");
        File.CreateSymbolicLink(Path.Combine(_temp.Path, "lock"), victim);

        var ex = Assert.Throws<DestinationException>(() => ExclusiveDirectoryLock.Acquire(_temp.Path));
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.SymlinkRefused));
    }

    [Test]
    public void AMissingDirectory_IsAClearError()
    {
        var ex = Assert.Throws<DestinationException>(() => ExclusiveDirectoryLock.Acquire(Path.Combine(_temp.Path, "missing")));
        Assert.That(ex!.Failure, Is.EqualTo(DestinationFailure.IOError));
        Assert.That(ex.Message, Does.Contain("missing"));
    }
}

[UnsupportedOSPlatform("windows")]
public class AtomicFileTests
{
    private TempDirectory _temp = null!;

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix modes are checked here.");
        }

        _temp = new TempDirectory();
    }

    [TearDown]
    public void TearDown() => _temp?.Dispose();

    private string[] Entries() => Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName).OfType<string>().Order().ToArray();

    [Test]
    [NonParallelizable] // changes the process umask
    public async Task Write_CreatesACompleteFile_Mode0600_AndLeavesNoTemporaryFile()
    {
        var path = _temp.Combine("state.json");
        var content = new byte[100_000];
        new Random(3).NextBytes(content);
        using (TestNative.Umask(0))
        {
            await AtomicFile.WriteAsync(path, content);
        }

        Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(content));
        Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(Entries(), Is.EqualTo(new[] { "state.json" }));
    }

    [Test]
    public async Task Write_ReplacesTheOldContent_AndAPlantedLinkIsReplacedNotFollowed()
    {
        var path = _temp.Combine("state");
        await AtomicFile.WriteAsync(path, "old"u8.ToArray());
        await AtomicFile.WriteAsync(path, "new"u8.ToArray());
        Assert.That(await File.ReadAllTextAsync(path), Is.EqualTo("new"));

        var victim = _temp.Combine("victim");
        await File.WriteAllTextAsync(victim, "precious");
        File.Delete(path);
        File.CreateSymbolicLink(path, victim);
        await AtomicFile.WriteAsync(path, "mine"u8.ToArray());

        Assert.That(await File.ReadAllTextAsync(victim), Is.EqualTo("precious"));
        Assert.That(new FileInfo(path).LinkTarget, Is.Null);
        Assert.That(await File.ReadAllTextAsync(path), Is.EqualTo("mine"));
        Assert.That(Entries(), Is.EqualTo(new[] { "state", "victim" }));
    }

    [Test]
    public async Task CancelledWrite_KeepsTheOldContent_AndLeavesNoTemporaryFile()
    {
        var path = _temp.Combine("state");
        await AtomicFile.WriteAsync(path, "old"u8.ToArray());
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        Assert.That(async () => await AtomicFile.WriteAsync(path, "new"u8.ToArray(), cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(await File.ReadAllTextAsync(path), Is.EqualTo("old"));
        Assert.That(Entries(), Is.EqualTo(new[] { "state" }));
    }

    [Test]
    public async Task FailedRename_RemovesTheTemporaryFile()
    {
        // The target is a non-empty directory, so the final rename fails after the temp file was written.
        var path = _temp.Combine("occupied");
        Directory.CreateDirectory(path);
        await File.WriteAllTextAsync(Path.Combine(path, "inside"), "x");

        Assert.That(async () => await AtomicFile.WriteAsync(path, "data"u8.ToArray()), Throws.InstanceOf<IOException>());
        Assert.That(Entries(), Is.EqualTo(new[] { "occupied" }));
    }

    [Test]
    public void MissingDirectory_Throws_AndCreatesNothing()
    {
        Assert.That(
            async () => await AtomicFile.WriteAsync(_temp.Combine("missing", "state"), "x"u8.ToArray()),
            Throws.InstanceOf<DirectoryNotFoundException>());
        Assert.That(Entries(), Is.Empty);
    }
}
