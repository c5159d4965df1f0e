using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Teleport.MachineId.Destinations.Internal;

/// <summary>
/// Linux libc and syscall bindings for descriptor-relative file operations (<c>openat</c>,
/// <c>openat2</c>, <c>mkdirat</c>, <c>renameat</c>, …), extended attributes and <c>statx</c>.
/// </summary>
/// <remarks>
/// The <c>O_DIRECTORY</c>/<c>O_NOFOLLOW</c> values differ between architectures, so
/// <see cref="IsSupported"/> is true only on 64-bit architectures whose values are known here;
/// elsewhere the portable code path is used. <c>statx</c> is used instead of <c>stat</c> because
/// its structure is the same on every architecture.
/// </remarks>
internal static unsafe partial class LinuxNative
{
    private const string Libc = PosixNative.Libc;

    internal const int AtFdCwd = -100;
    internal const int OWrOnly = 0x1;
    internal const int ORdWr = 0x2;
    internal const int OCreat = 0x40;
    internal const int OExcl = 0x80;
    internal const int ONoCtty = 0x100;
    internal const int ONonBlock = 0x800;
    internal const int OCloExec = 0x80000;

    internal const int AtSymlinkNoFollow = 0x100;
    internal const int AtRemoveDir = 0x200;
    internal const int AtEmptyPath = 0x1000;

    internal const ulong ResolveNoMagicLinks = 0x02;
    internal const ulong ResolveNoSymlinks = 0x04;
    internal const ulong ResolveBeneath = 0x08;

    internal const uint StatxType = 0x1;
    internal const uint StatxMode = 0x2;
    internal const uint StatxUid = 0x8;
    internal const uint StatxSize = 0x200;

    internal const int SIfMt = 0xF000;
    internal const int SIfDir = 0x4000;
    internal const int SIfReg = 0x8000;
    internal const int SIfLnk = 0xA000;

    internal const int ENOTDIR = 20;
    internal const int EISDIR = 21;
    internal const int EINVAL = 22;
    internal const int E2BIG = 7;
    internal const int ERANGE = 34;
    internal const int ENOSYS = 38;
    internal const int ENOTEMPTY = 39;
    internal const int ELOOP = 40;
    internal const int ENODATA = 61;
    internal const int EOPNOTSUPP = 95;
    internal const int EDQUOT = 122;
    internal const int EWOULDBLOCK = 11;

    private const long SysOpenat2 = 437; // the same number on every architecture (added in 5.6)

    static LinuxNative()
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            return;
        }

        switch (RuntimeInformation.ProcessArchitecture)
        {
            case Architecture.X64:
            case Architecture.RiscV64:
            case Architecture.LoongArch64:
            case Architecture.S390x:
                ODirectory = 0x10000;
                ONoFollow = 0x20000;
                IsSupported = true;
                break;
            case Architecture.Arm64:
            case Architecture.Ppc64le:
                ODirectory = 0x4000;
                ONoFollow = 0x8000;
                IsSupported = true;
                break;
        }
    }

    /// <summary>Whether the descriptor-relative Linux code path can be used in this process.</summary>
    internal static bool IsSupported { get; }

    internal static int ODirectory { get; }

    internal static int ONoFollow { get; }

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport(Libc, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenAtRaw(int dirFd, string path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall4(long number, nint arg1, nint arg2, nint arg3, nint arg4);

    [LibraryImport(Libc, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MkdirAt(int dirFd, string path, uint mode);

    [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int FChmod(int fd, uint mode);

    [LibraryImport(Libc, EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int RenameAt(int oldDirFd, string oldPath, int newDirFd, string newPath);

    [LibraryImport(Libc, EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SymlinkAt(string target, int newDirFd, string linkPath);

    [LibraryImport(Libc, EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint ReadLinkAtRaw(int dirFd, string path, byte* buffer, nuint size);

    [LibraryImport(Libc, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UnlinkAt(int dirFd, string path, int flags);

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxRaw(int dirFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadRaw(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteRaw(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "fsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FSetXattrRaw(int fd, string name, byte* value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "fgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint FGetXattrRaw(int fd, string name, byte* value, nuint size);

    [LibraryImport(Libc, EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int GetPwNamR(string name, byte* pwd, byte* buffer, nuint bufferLength, nint* result);

    [LibraryImport(Libc, EntryPoint = "getgrnam_r", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int GetGrNamR(string name, byte* grp, byte* buffer, nuint bufferLength, nint* result);

    /// <summary>The <c>errno</c> of the last call made through these bindings on this thread.</summary>
    internal static int LastError => Marshal.GetLastPInvokeError();

    /// <summary><c>openat</c>, retried on <c>EINTR</c>. Returns the descriptor or -1 (see <see cref="LastError"/>).</summary>
    internal static int OpenAt(int dirFd, string path, int flags, uint mode)
    {
        int fd;
        do
        {
            fd = OpenAtRaw(dirFd, path, flags | OCloExec, mode);
        }
        while (fd < 0 && LastError == PosixNative.EINTR);

        return fd;
    }

    /// <summary>
    /// <c>openat2</c> with the given <c>RESOLVE_*</c> flags, retried on <c>EINTR</c>. Returns the
    /// descriptor or -1 (see <see cref="LastError"/>; <c>ENOSYS</c> where the kernel lacks it).
    /// </summary>
    internal static int OpenAt2(int dirFd, string path, int flags, uint mode, ulong resolve)
    {
        var pathBytes = ToCString(path);
        var how = new OpenHow
        {
            Flags = (ulong)(uint)(flags | OCloExec),
            Mode = (flags & OCreat) != 0 ? mode : 0,
            Resolve = resolve,
        };
        long result;
        fixed (byte* p = pathBytes)
        {
            do
            {
                result = Syscall4(SysOpenat2, dirFd, (nint)p, (nint)(&how), sizeof(OpenHow));
            }
            while (result < 0 && LastError == PosixNative.EINTR);
        }

        return (int)result;
    }

    /// <summary>Whether the kernel (and any seccomp filter) allows <c>openat2</c>. Probed once.</summary>
    internal static bool IsOpenat2Available => s_openat2Available.Value;

    private static readonly Lazy<bool> s_openat2Available = new(() =>
    {
        if (!IsSupported)
        {
            return false;
        }

        var fd = OpenAt2(AtFdCwd, "/", ODirectory, 0, ResolveNoSymlinks);
        if (fd < 0)
        {
            return false; // ENOSYS (kernel < 5.6), EPERM/ENOSYS from seccomp, E2BIG/EINVAL from old ABIs
        }

        PosixNative.Close(fd);
        return true;
    });

    /// <summary><c>readlinkat</c>: the target, or <see langword="null"/> with <see cref="LastError"/> set.</summary>
    internal static string? ReadLinkAt(int dirFd, string path)
    {
        var size = 256;
        while (true)
        {
            var buffer = new byte[size];
            nint length;
            fixed (byte* p = buffer)
            {
                length = ReadLinkAtRaw(dirFd, path, p, (nuint)buffer.Length);
            }

            if (length < 0)
            {
                return null;
            }

            if (length < buffer.Length)
            {
                return System.Text.Encoding.UTF8.GetString(buffer, 0, (int)length);
            }

            size *= 4;
            if (size > 65536)
            {
                Marshal.SetLastPInvokeError(ERANGE);
                return null;
            }
        }
    }

    /// <summary>
    /// <c>statx</c> of <paramref name="path"/> relative to <paramref name="dirFd"/> without following a
    /// final symbolic link (or of <paramref name="dirFd"/> itself when <paramref name="path"/> is empty).
    /// Returns false with <see cref="LastError"/> set on failure.
    /// </summary>
    internal static bool Statx(int dirFd, string path, out FileStatus status)
    {
        var buffer = stackalloc byte[256];
        var flags = AtSymlinkNoFollow | (path.Length == 0 ? AtEmptyPath : 0);
        if (StatxRaw(dirFd, path, flags, StatxType | StatxMode | StatxUid | StatxSize, buffer) != 0)
        {
            status = default;
            return false;
        }

        status = new FileStatus(
            Mode: *(ushort*)(buffer + 28),
            Uid: *(uint*)(buffer + 20),
            Size: *(ulong*)(buffer + 40));
        return true;
    }

    /// <summary>Writes all of <paramref name="data"/>, retrying short writes and <c>EINTR</c>.</summary>
    internal static void WriteAll(SafeFileDescriptor fd, ReadOnlySpan<byte> data, string displayPath)
    {
        fixed (byte* start = data)
        {
            var offset = 0;
            while (offset < data.Length)
            {
                var written = WriteRaw(fd.Fd, start + offset, (nuint)(data.Length - offset));
                if (written < 0)
                {
                    var errno = LastError;
                    if (errno == PosixNative.EINTR)
                    {
                        continue;
                    }

                    throw PosixNative.Error(errno, "write", displayPath);
                }

                offset += (int)written;
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/>, or less of it if the file ends early; returns the count read.</summary>
    internal static int ReadUpTo(SafeFileDescriptor fd, Span<byte> destination, string displayPath)
    {
        fixed (byte* start = destination)
        {
            var offset = 0;
            while (offset < destination.Length)
            {
                var read = ReadRaw(fd.Fd, start + offset, (nuint)(destination.Length - offset));
                if (read < 0)
                {
                    var errno = LastError;
                    if (errno == PosixNative.EINTR)
                    {
                        continue;
                    }

                    throw PosixNative.Error(errno, "read", displayPath);
                }

                if (read == 0)
                {
                    break;
                }

                offset += (int)read;
            }

            return offset;
        }
    }

    /// <summary><c>fsetxattr</c>; returns false with <see cref="LastError"/> set on failure.</summary>
    internal static bool FSetXattr(SafeFileDescriptor fd, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            return FSetXattrRaw(fd.Fd, name, p, (nuint)value.Length, 0) == 0;
        }
    }

    /// <summary>
    /// <c>fgetxattr</c>: the value, an empty array when the attribute is absent (<c>ENODATA</c>), or
    /// <see langword="null"/> with <see cref="LastError"/> set on other failures.
    /// </summary>
    internal static byte[]? FGetXattr(SafeFileDescriptor fd, string name)
    {
        var buffer = new byte[512];
        while (true)
        {
            nint length;
            fixed (byte* p = buffer)
            {
                length = FGetXattrRaw(fd.Fd, name, p, (nuint)buffer.Length);
            }

            if (length >= 0)
            {
                return buffer.AsSpan(0, (int)length).ToArray();
            }

            var errno = LastError;
            if (errno == ENODATA)
            {
                return [];
            }

            if (errno != ERANGE || buffer.Length >= 65536)
            {
                return null;
            }

            buffer = new byte[buffer.Length * 4];
        }
    }

    /// <summary>
    /// Looks up a user (<paramref name="group"/> false) or group id by name through NSS.
    /// Returns <see langword="null"/> when there is no such name.
    /// </summary>
    /// <exception cref="IOException">The lookup itself failed.</exception>
    internal static uint? LookupId(string name, bool group)
    {
        // struct passwd and struct group both start with two pointers (name, passwd) followed by
        // the 32-bit id, on every 64-bit Linux ABI; the records are at most a few dozen bytes.
        var record = stackalloc byte[128];
        var size = 4096;
        while (true)
        {
            var buffer = new byte[size];
            nint result = 0;
            int rc;
            fixed (byte* b = buffer)
            {
                rc = group
                    ? GetGrNamR(name, record, b, (nuint)buffer.Length, &result)
                    : GetPwNamR(name, record, b, (nuint)buffer.Length, &result);
            }

            if (rc == ERANGE && size < 1 << 20)
            {
                size *= 4;
                continue;
            }

            if (rc == 0 || rc == PosixNative.ENOENT || rc == PosixNative.EPERM)
            {
                return result == 0 ? null : *(uint*)(record + (2 * sizeof(nint)));
            }

            throw PosixNative.Error(rc, group ? "getgrnam_r" : "getpwnam_r", name);
        }
    }

    private static byte[] ToCString(string value)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(value) + 1];
        System.Text.Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }
}

/// <summary>The parts of <c>struct statx</c> the destination code uses.</summary>
internal readonly record struct FileStatus(ushort Mode, uint Uid, ulong Size)
{
    public int Type => Mode & LinuxNative.SIfMt;

    public bool IsDirectory => Type == LinuxNative.SIfDir;

    public bool IsRegularFile => Type == LinuxNative.SIfReg;

    public bool IsSymlink => Type == LinuxNative.SIfLnk;

    public int Permissions => Mode & 0xFFF;
}

/// <summary>An owned Unix file descriptor, closed on dispose.</summary>
internal sealed class SafeFileDescriptor : SafeHandleMinusOneIsInvalid
{
    public SafeFileDescriptor()
        : base(ownsHandle: true)
    {
    }

    public SafeFileDescriptor(int fd)
        : base(ownsHandle: true)
    {
        SetHandle(fd);
    }

    /// <summary>The descriptor number. Valid while this object is alive and not disposed.</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => PosixNative.Close((int)handle) == 0;
}
