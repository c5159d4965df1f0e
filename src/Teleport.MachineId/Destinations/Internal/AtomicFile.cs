using System.Security.Cryptography;

namespace Teleport.MachineId.Destinations.Internal;

/// <summary>
/// Durable, atomic replacement of a single file (for the bot's internal storage): readers and a
/// crash see either the old content or the complete new content, never a partial file.
/// </summary>
/// <remarks>
/// Writes a temporary file <c>.&lt;name&gt;.tmp-&lt;random&gt;</c> next to the target, created with
/// <c>O_CREAT|O_EXCL</c> (so it never follows a planted link) and mode exactly 0600, fsyncs it,
/// renames it over the target (replacing a link at the target rather than writing through it) and
/// fsyncs the directory. The temporary file is removed when anything fails or is cancelled.
/// Concurrent writers of the same path each produce a complete file; the last rename wins.
/// </remarks>
internal static class AtomicFile
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Atomically replaces (or creates) <paramref name="path"/> with <paramref name="content"/>, mode 0600.</summary>
    /// <param name="path">The file to write; its directory must exist.</param>
    /// <param name="content">The complete new content.</param>
    /// <param name="cancellationToken">Cancels the write before the rename; the old content then stays.</param>
    /// <returns>A task that completes when the new content is durable.</returns>
    /// <exception cref="IOException">The file could not be written (for example <see cref="DirectoryNotFoundException"/>).</exception>
    /// <exception cref="UnauthorizedAccessException">The directory is not writable.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the rename.</exception>
    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        cancellationToken.ThrowIfCancellationRequested();
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException("The path has no directory.", nameof(path));
        var name = Path.GetFileName(fullPath);
        if (name.Length == 0)
        {
            throw new ArgumentException("The path names a directory, not a file.", nameof(path));
        }

        var tempPath = Path.Combine(directory, $".{name}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
        var renamed = false;
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = Mode0600;
            }

            var stream = new FileStream(tempPath, options);
            await using (stream.ConfigureAwait(false))
            {
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(stream.SafeFileHandle, Mode0600); // umask can only have narrowed it
                }

                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            cancellationToken.ThrowIfCancellationRequested();
            File.Move(tempPath, fullPath, overwrite: true); // rename(2) on Unix
            renamed = true;
            PosixNative.SyncDirectory(directory);
        }
        finally
        {
            if (!renamed)
            {
                TryDelete(tempPath);
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file is harmless and never read.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
