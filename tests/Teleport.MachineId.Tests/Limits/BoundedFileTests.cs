using System.Diagnostics;
using System.IO.Pipes;
using System.Text;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Limits;

/// <summary>
/// <see cref="BoundedFile"/>: whole-file reads that never buffer more than the limit plus one byte
/// and never hang, whatever the path names (a device, a FIFO, a directory).
/// </summary>
public sealed class BoundedFileTests
{
    [Test]
    public async Task A_file_within_the_limit_is_read_whole()
    {
        using var directory = new TempDirectory();
        var path = directory.Combine("token");
        await File.WriteAllTextAsync(path, "\uFEFFsecret-token\n");

        Assert.That(await BoundedFile.ReadAllTextAsync(path, 64, "join token file"), Is.EqualTo("secret-token\n"));
        Assert.That(BoundedFile.ReadAllBytes(path, 16, "join token file"), Has.Length.EqualTo(16), "exactly at the limit is accepted");
    }

    [Test]
    public async Task A_file_over_the_limit_is_refused_naming_the_file_and_the_limit()
    {
        using var directory = new TempDirectory();
        var path = directory.Combine("token");
        await File.WriteAllBytesAsync(path, new byte[64 * 1024 + 1]);

        var error = Assert.ThrowsAsync<TeleportFormatException>(() => BoundedFile.ReadAllBytesAsync(path, InputLimits.JoinTokenFileBytes, "join token file"));

        Assert.That(error!.Message, Does.Contain(path).And.Contain("join token file").And.Contain("64 KiB"));
    }

    [Test]
    [Platform("Linux")]
    public void Dev_zero_is_refused_after_reading_just_past_the_limit()
    {
        var error = Assert.ThrowsAsync<TeleportFormatException>(() => BoundedFile.ReadAllBytesAsync("/dev/zero", 1024 * 1024, "configuration file"));

        Assert.That(error!.Message, Does.Contain("/dev/zero").And.Contain("1 MiB"));
    }

    [Test]
    [Platform("Linux")]
    public async Task A_fifo_nobody_writes_to_reads_as_empty_instead_of_blocking()
    {
        using var directory = new TempDirectory();
        var fifo = directory.Combine("fifo");
        MakeFifo(fifo);

        var read = BoundedFile.ReadAllBytesAsync(fifo, 1024, "join token file");

        Assert.That(await read.WaitAsync(TimeSpan.FromSeconds(30)), Is.Empty);
    }

    [Test]
    [Platform("Linux")]
    public async Task A_pipe_with_content_is_read_like_process_substitution()
    {
        // bash's <(command) hands over /dev/fd/N of a pipe; /proc/self/fd/N is the same here.
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        var readEnd = pipe.ClientSafePipeHandle.DangerousGetHandle();
        await pipe.WriteAsync(Encoding.UTF8.GetBytes("from-a-pipe"));
        pipe.Close();

        var text = await BoundedFile.ReadAllTextAsync($"/proc/self/fd/{readEnd}", 1024, "join token file").WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(text, Is.EqualTo("from-a-pipe"));
    }

    [Test]
    public void A_directory_is_named_as_such()
    {
        using var directory = new TempDirectory();

        var error = Assert.Throws<IOException>(() => BoundedFile.ReadAllBytes(directory.Path, 1024, "identity file"));

        Assert.That(error!.Message, Does.Contain(directory.Path).And.Contain("is a directory"));
    }

    [Test]
    public void A_missing_file_is_file_not_found()
    {
        using var directory = new TempDirectory();

        Assert.ThrowsAsync<FileNotFoundException>(() => BoundedFile.ReadAllBytesAsync(directory.Combine("missing"), 1024, "identity file"));
    }

    private static void MakeFifo(string path)
    {
        using var process = Process.Start("mkfifo", [path]);
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, "mkfifo");
    }
}
