using System.Runtime.InteropServices;
using System.Text;

namespace Teleport.MachineId.Outputs.SshMultiplexer.Internal;

/// <summary>
/// File descriptors passed over Unix stream sockets (<c>SCM_RIGHTS</c>), which .NET has no managed
/// API for: the multiplexer receives the client's stderr with the target, and the
/// <c>ssh-multiplexer-proxy-command</c> helper hands its connected socket to ssh (<c>ProxyUseFDPass</c>).
/// Plain <c>[LibraryImport]</c> calls (no reflection, Native AOT safe), Linux only (the <c>msghdr</c>
/// and <c>cmsghdr</c> layouts below are Linux LP64's).
/// </summary>
internal static unsafe partial class UnixSocketRights
{
    private const string Libc = "libc";
    private const int AfUnix = 1;
    private const int SockStream = 1;
    private const int SockCloexec = 0x80000;
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgNoSignal = 0x4000;
    private const int MsgCmsgCloexec = 0x40000000;
    private const int FGetFl = 3;
    private const int FSetFl = 4;
    private const int ONonBlock = 0x800;
    private const int SunPathLength = 108;

    // cmsghdr on LP64 Linux: size_t cmsg_len, int cmsg_level, int cmsg_type (16 bytes), data aligned to 8.
    private const int CmsgHeaderSize = 16;

    /// <summary>errno: the call would block (non-blocking socket without data).</summary>
    public const int EAGAIN = 11;

    /// <summary>errno: interrupted by a signal.</summary>
    public const int EINTR = 4;

    /// <summary>At most this many descriptors are accepted in one message; extra ones are closed.</summary>
    private const int MaxDescriptors = 4;

    /// <summary>Whether descriptors can be passed on this platform.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && IntPtr.Size == 8;

    /// <summary>Throws unless <see cref="IsSupported"/>.</summary>
    /// <exception cref="PlatformNotSupportedException">Not Linux on a 64-bit CPU.</exception>
    public static void EnsureSupported()
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException(
                "The ssh-multiplexer passes file descriptors over Unix sockets (SCM_RIGHTS), which Teleport.MachineId implements for 64-bit Linux only.");
        }
    }

    /// <summary>
    /// Sends <paramref name="data"/> with <paramref name="descriptor"/> attached (one <c>sendmsg</c>),
    /// retrying on <c>EINTR</c>. The descriptor arrives with the first byte.
    /// </summary>
    /// <returns>The number of bytes sent (at least one).</returns>
    /// <exception cref="IOException">The call failed (<see cref="Exception.HResult"/> is the errno).</exception>
    public static int SendWithDescriptor(int socket, ReadOnlySpan<byte> data, int descriptor)
    {
        EnsureSupported();
        if (data.IsEmpty)
        {
            throw new ArgumentException("At least one byte must carry the descriptor.", nameof(data));
        }

        var control = stackalloc byte[CmsgHeaderSize + 8];
        new Span<byte>(control, CmsgHeaderSize + 8).Clear();
        *(ulong*)control = CmsgHeaderSize + sizeof(int);
        *(int*)(control + 8) = SolSocket;
        *(int*)(control + 12) = ScmRights;
        *(int*)(control + CmsgHeaderSize) = descriptor;
        fixed (byte* bytes = data)
        {
            var vector = new IoVector { Base = bytes, Length = (nuint)data.Length };
            var message = new MessageHeader { Iov = &vector, IovLength = 1, Control = control, ControlLength = CmsgHeaderSize + 8 };
            while (true)
            {
                var sent = SendMsg(socket, &message, MsgNoSignal);
                if (sent >= 0)
                {
                    return (int)sent;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    throw Error(errno, "sendmsg");
                }
            }
        }
    }

    /// <summary>
    /// One <c>recvmsg</c> into <paramref name="buffer"/>, accepting one passed descriptor (close-on-exec);
    /// any further descriptors in the same message are closed.
    /// </summary>
    /// <param name="socket">The socket.</param>
    /// <param name="buffer">Where the data goes.</param>
    /// <param name="descriptor">The first passed descriptor, or -1.</param>
    /// <returns>Bytes read (0 at end of stream), or -1 when a non-blocking socket has nothing yet.</returns>
    /// <exception cref="IOException">The call failed.</exception>
    public static int ReceiveWithDescriptor(int socket, Span<byte> buffer, out int descriptor)
    {
        EnsureSupported();
        descriptor = -1;
        const int controlSize = CmsgHeaderSize + (MaxDescriptors * sizeof(int));
        var control = stackalloc byte[controlSize];
        new Span<byte>(control, controlSize).Clear();
        fixed (byte* bytes = buffer)
        {
            var vector = new IoVector { Base = bytes, Length = (nuint)buffer.Length };
            var message = new MessageHeader { Iov = &vector, IovLength = 1, Control = control, ControlLength = controlSize };
            nint read;
            while ((read = RecvMsg(socket, &message, MsgCmsgCloexec)) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EAGAIN)
                {
                    return -1;
                }

                if (errno != EINTR)
                {
                    throw Error(errno, "recvmsg");
                }
            }

            // Walk the control messages; the kernel already closed descriptors that did not fit (MSG_CTRUNC).
            var offset = 0;
            var length = (int)message.ControlLength;
            while (offset + CmsgHeaderSize <= length)
            {
                var cmsgLength = (int)*(ulong*)(control + offset);
                var level = *(int*)(control + offset + 8);
                var type = *(int*)(control + offset + 12);
                if (cmsgLength < CmsgHeaderSize || offset + cmsgLength > length)
                {
                    break;
                }

                if (level == SolSocket && type == ScmRights)
                {
                    var count = (cmsgLength - CmsgHeaderSize) / sizeof(int);
                    for (var i = 0; i < count; i++)
                    {
                        var fd = *(int*)(control + offset + CmsgHeaderSize + (i * sizeof(int)));
                        if (descriptor < 0)
                        {
                            descriptor = fd;
                        }
                        else
                        {
                            _ = Close(fd);
                        }
                    }
                }

                offset += (cmsgLength + 7) & ~7;
            }

            return (int)read;
        }
    }

    /// <summary>A blocking, close-on-exec Unix stream socket connected to <paramref name="path"/>.</summary>
    /// <returns>The descriptor.</returns>
    /// <exception cref="IOException">The socket could not be created or connected.</exception>
    public static int Connect(string path)
    {
        EnsureSupported();
        var encoded = Encoding.UTF8.GetBytes(path);
        if (encoded.Length >= SunPathLength)
        {
            throw new IOException($"The socket path '{path}' is longer than a Unix socket address allows ({SunPathLength - 1} bytes).");
        }

        var fd = Socket(AfUnix, SockStream | SockCloexec, 0);
        if (fd < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "socket");
        }

        var address = stackalloc byte[2 + SunPathLength];
        new Span<byte>(address, 2 + SunPathLength).Clear();
        *(ushort*)address = AfUnix;
        encoded.CopyTo(new Span<byte>(address + 2, SunPathLength));
        while (ConnectNative(fd, address, (uint)(2 + encoded.Length + 1)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
            {
                _ = Close(fd);
                throw Error(errno, $"connect to '{path}'");
            }
        }

        return fd;
    }

    /// <summary>Whether <paramref name="fd"/> is a Unix domain socket (what ssh gives a ProxyCommand with <c>ProxyUseFDPass</c>).</summary>
    public static bool IsUnixSocket(int fd)
    {
        EnsureSupported();
        var address = stackalloc byte[2 + SunPathLength];
        var length = (uint)(2 + SunPathLength);
        return GetSockName(fd, address, &length) == 0 && length >= 2 && *(ushort*)address == AfUnix;
    }

    /// <summary>Clears <c>O_NONBLOCK</c> so a blocking <c>sendmsg</c> never fails with <c>EAGAIN</c>.</summary>
    /// <exception cref="IOException">fcntl failed.</exception>
    public static void MakeBlocking(int fd)
    {
        var flags = FcntlGet(fd, FGetFl);
        if (flags < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "fcntl(F_GETFL)");
        }

        if ((flags & ONonBlock) != 0 && FcntlSet(fd, FSetFl, flags & ~ONonBlock) < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), "fcntl(F_SETFL)");
        }
    }

    /// <summary>Writes all of <paramref name="data"/> to <paramref name="fd"/>, ignoring failures (a best-effort message to a client's stderr).</summary>
    public static void TryWriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* bytes = data)
        {
            var done = 0;
            while (done < data.Length)
            {
                var written = Write(fd, bytes + done, (nuint)(data.Length - done));
                if (written > 0)
                {
                    done += (int)written;
                }
                else if (written < 0 && Marshal.GetLastPInvokeError() == EINTR)
                {
                    continue;
                }
                else
                {
                    return;
                }
            }
        }
    }

    /// <summary>Closes a descriptor.</summary>
    /// <returns>0, or -1 with errno set.</returns>
    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    private static IOException Error(int errno, string operation) =>
        new($"{operation} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);

    [LibraryImport(Libc, EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMsg(int socket, MessageHeader* message, int flags);

    [LibraryImport(Libc, EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint RecvMsg(int socket, MessageHeader* message, int flags);

    [LibraryImport(Libc, EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Libc, EntryPoint = "connect", SetLastError = true)]
    private static partial int ConnectNative(int socket, byte* address, uint addressLength);

    [LibraryImport(Libc, EntryPoint = "getsockname", SetLastError = true)]
    private static partial int GetSockName(int socket, byte* address, uint* addressLength);

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FcntlGet(int fd, int command);

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FcntlSet(int fd, int command, int argument);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nuint count);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    // struct msghdr on LP64 Linux (56 bytes; the compiler pads after msg_namelen and msg_flags).
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }
}
