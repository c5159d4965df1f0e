using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Teleport.MachineId;

/// <summary>
/// Reads a whole file that must not be larger than a limit (<see cref="InputLimits"/>), without
/// trusting its reported size, without hanging on FIFOs and without buffering more than the limit.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="File.ReadAllBytes(string)"/> is unsafe for paths users type: <c>/dev/zero</c> reports
/// a length of 0 and never ends, a FIFO blocks in <c>open(2)</c> until something writes to it. Here
/// at most <c>maxBytes + 1</c> bytes are read; on Linux the file is opened with <c>O_NONBLOCK</c>
/// (then switched back to blocking reads), so a FIFO nobody writes to reads as empty instead of
/// blocking; and a file that is not seekable (FIFO, terminal, socket) must be read within
/// <see cref="InputLimits.NonRegularFileReadTimeout"/>. Process substitution
/// (<c>--token &lt;(pass show bot-token)</c>) and <c>/dev/stdin</c> keep working.
/// </para>
/// <para>Messages name the file, never its content.</para>
/// </remarks>
public static partial class BoundedFile
{
    private const int InitialBufferBytes = 4096;

    /// <summary>Reads a file of at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest content accepted.</param>
    /// <param name="description">What the file is, for messages (e.g. <c>join token file</c>).</param>
    /// <returns>The content.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> or <paramref name="description"/> is null or empty, or <paramref name="maxBytes"/> is negative.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">A directory of the path does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">The path is a directory, the read failed, or a non-regular file gave nothing in time.</exception>
    /// <exception cref="TeleportFormatException">The file is larger than <paramref name="maxBytes"/>.</exception>
    public static byte[] ReadAllBytes(string path, int maxBytes, string description)
    {
        Validate(path, maxBytes, description);
        using var stream = Open(path, description);
        if (stream.CanSeek)
        {
            return ReadBounded(stream, path, maxBytes, description);
        }

        var read = Task.Run(() => ReadBounded(stream, path, maxBytes, description));
        if (!read.Wait(InputLimits.NonRegularFileReadTimeout))
        {
            throw NothingInTime(path, description);
        }

        return read.GetAwaiter().GetResult();
    }

    /// <summary>Reads a file of at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest content accepted.</param>
    /// <param name="description">What the file is, for messages (e.g. <c>join token file</c>).</param>
    /// <param name="cancellationToken">Stops waiting for the file.</param>
    /// <returns>The content.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> or <paramref name="description"/> is null or empty, or <paramref name="maxBytes"/> is negative.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">A directory of the path does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">The path is a directory, the read failed, or a non-regular file gave nothing in time.</exception>
    /// <exception cref="TeleportFormatException">The file is larger than <paramref name="maxBytes"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<byte[]> ReadAllBytesAsync(string path, int maxBytes, string description, CancellationToken cancellationToken = default)
    {
        Validate(path, maxBytes, description);
        cancellationToken.ThrowIfCancellationRequested();
        var stream = Open(path, description);
        if (stream.CanSeek)
        {
            using (stream)
            {
                // Regular files (and devices like /dev/zero, which read at once): no thread hop.
                return ReadBounded(stream, path, maxBytes, description);
            }
        }

        // A FIFO, terminal or socket: the read may block; the caller waits a bounded time. The
        // stream is disposed by the read itself, so an abandoned read never touches a closed handle.
        var read = Task.Run(() =>
        {
            using (stream)
            {
                return ReadBounded(stream, path, maxBytes, description);
            }
        }, CancellationToken.None);
        try
        {
            return await read.WaitAsync(InputLimits.NonRegularFileReadTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw NothingInTime(path, description);
        }
    }

    /// <summary>Reads a UTF-8 text file (a byte order mark is skipped) of at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest content accepted, in bytes.</param>
    /// <param name="description">What the file is, for messages.</param>
    /// <param name="cancellationToken">Stops waiting for the file.</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> or <paramref name="description"/> is null or empty, or <paramref name="maxBytes"/> is negative.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">A directory of the path does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">The path is a directory, the read failed, or a non-regular file gave nothing in time.</exception>
    /// <exception cref="TeleportFormatException">The file is larger than <paramref name="maxBytes"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<string> ReadAllTextAsync(string path, int maxBytes, string description, CancellationToken cancellationToken = default) =>
        DecodeUtf8(await ReadAllBytesAsync(path, maxBytes, description, cancellationToken).ConfigureAwait(false));

    /// <summary>Reads a UTF-8 text file (a byte order mark is skipped) of at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest content accepted, in bytes.</param>
    /// <param name="description">What the file is, for messages.</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> or <paramref name="description"/> is null or empty, or <paramref name="maxBytes"/> is negative.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">A directory of the path does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">The path is a directory, the read failed, or a non-regular file gave nothing in time.</exception>
    /// <exception cref="TeleportFormatException">The file is larger than <paramref name="maxBytes"/>.</exception>
    public static string ReadAllText(string path, int maxBytes, string description) =>
        DecodeUtf8(ReadAllBytes(path, maxBytes, description));

    /// <summary>The exception for input over its limit (also used for streams and bodies that are not files).</summary>
    /// <param name="what">The input, e.g. <c>The join token file '/run/token'</c>.</param>
    /// <param name="maxBytes">The limit.</param>
    /// <returns>The exception to throw.</returns>
    internal static TeleportFormatException TooLarge(string what, long maxBytes) =>
        new($"{what} is larger than {InputLimits.Describe(maxBytes)}, the limit for it; check that it is the right file.");

    private static string DecodeUtf8(byte[] content)
    {
        var preamble = Encoding.UTF8.Preamble;
        var bytes = content.AsSpan();
        if (bytes.StartsWith(preamble))
        {
            bytes = bytes[preamble.Length..];
        }

        return Encoding.UTF8.GetString(bytes);
    }

    private static void Validate(string path, int maxBytes, string description)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(description);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
    }

    private static byte[] ReadBounded(FileStream stream, string path, int maxBytes, string description)
    {
        // A declared length over the limit is refused before reading anything; otherwise the length
        // is only a hint (devices and procfs files report 0, files may grow while being read).
        long declared = stream.CanSeek ? stream.Length : 0;
        if (declared > maxBytes)
        {
            throw TooLarge(What(path, description), maxBytes);
        }

        var capacity = (int)Math.Min((long)maxBytes + 1, Math.Max(declared + 1, InitialBufferBytes));
        var buffer = new byte[capacity];
        var total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (total > maxBytes)
                {
                    throw TooLarge(What(path, description), maxBytes);
                }

                Array.Resize(ref buffer, (int)Math.Min((long)maxBytes + 1, (long)buffer.Length * 2));
            }

            var read = stream.Read(buffer, total, buffer.Length - total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        if (total > maxBytes)
        {
            throw TooLarge(What(path, description), maxBytes);
        }

        return total == buffer.Length ? buffer : buffer.AsSpan(0, total).ToArray();
    }

    private static FileStream Open(string path, string description)
    {
        if (Directory.Exists(path))
        {
            throw new IOException($"{What(path, description)} is a directory; give the path of a file.");
        }

        var handle = OperatingSystem.IsLinux() ? OpenLinux(path, description) : File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        try
        {
            return new FileStream(handle, FileAccess.Read, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    // O_NONBLOCK makes open(2) of a FIFO return at once instead of waiting for a writer; blocking
    // mode is restored right after, so reads behave as usual (EOF when there is no writer).
    private static SafeFileHandle OpenLinux(string path, string description)
    {
        const int ORdOnly = 0, ONonBlock = 0x800, OCloExec = 0x80000, FGetFl = 3, FSetFl = 4, EINTR = 4;
        int fd;
        do
        {
            fd = Open(path, ORdOnly | ONonBlock | OCloExec);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);

        if (fd < 0)
        {
            throw OpenError(Marshal.GetLastPInvokeError(), path, description);
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var flags = Fcntl(fd, FGetFl, 0);
        if (flags < 0 || Fcntl(fd, FSetFl, flags & ~ONonBlock) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new IOException($"The {description} '{path}' cannot be read: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }

        return handle;
    }

    private static Exception OpenError(int errno, string path, string description)
    {
        const int EPERM = 1, ENOENT = 2, EACCES = 13, ENOTDIR = 20;
        var what = What(path, description);
        return errno switch
        {
            ENOENT => new FileNotFoundException($"{what} does not exist.", path),
            ENOTDIR => new DirectoryNotFoundException($"{what} does not exist (a part of the path is not a directory)."),
            EACCES or EPERM => new UnauthorizedAccessException($"{what} may not be read by this user."),
            _ => new IOException($"{what} cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}.", errno),
        };
    }

    private static IOException NothingInTime(string path, string description) =>
        new($"The {description} '{path}' is not a regular file and gave no complete content within {InputLimits.NonRegularFileReadTimeout.TotalSeconds:0} s; is it a FIFO or terminal nothing writes to?");

    private static string What(string path, string description) => $"The {description} '{path}'";

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
