using System.Globalization;
using System.IO.Pipes;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Teleport.MachineId.Destinations.Internal;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;

namespace Teleport.MachineId.Outputs.SshMultiplexer;

/// <summary>
/// Opens connections to nodes through a running <c>ssh-multiplexer</c> (this library's or tbot's) over
/// its <c>v1.sock</c>, so several .NET processes share one multiplexer and its credentials. The result
/// is a raw byte stream to the node's SSH server: hand it to an SSH library (SSH.NET through
/// <c>TeleportSshClientFactory.ConnectThroughMultiplexerAsync</c>).
/// </summary>
public static class SshMultiplexerClient
{
    private const int MaxErrorLength = 8 * 1024;

    /// <summary>
    /// Connects to the multiplexer socket, asks for <paramref name="target"/> and waits until the
    /// multiplexer has reached the node: the multiplexer's protocol has no reply, so the call passes the
    /// write end of a pipe as the "stderr" descriptor (as <c>fdpass-teleport</c> does) and reads the dial error
    /// from it, or end-of-file when proxying started.
    /// </summary>
    /// <param name="socketPath">The multiplexer's <c>v1.sock</c> (<see cref="SshMultiplexerService.SocketPath"/>).</param>
    /// <param name="target">The node.</param>
    /// <param name="cancellationToken">Cancels connecting (use it for a timeout).</param>
    /// <returns>The stream to the node; dispose it to close the connection.</returns>
    /// <exception cref="TeleportConnectionException">The multiplexer is not running, or it could not reach the node (its message says why).</exception>
    /// <exception cref="PlatformNotSupportedException">Not 64-bit Linux.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<Stream> ConnectAsync(string socketPath, SshMultiplexerTarget target, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentNullException.ThrowIfNull(target);
        UnixSocketRights.EnsureSupported();
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            try
            {
                await ConnectSocketAsync(socket, socketPath, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new TeleportConnectionException(
                    $"Could not connect to the ssh-multiplexer at '{socketPath}': {ex.Message}. Is the multiplexer running (tbot-dotnet start ssh-multiplexer)?", ex);
            }

            using var errors = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.None);
            var request = target.ToRequestBytes();
            var sent = UnixSocketRights.SendWithDescriptor((int)socket.Handle, request, (int)errors.ClientSafePipeHandle.DangerousGetHandle());
            errors.DisposeLocalCopyOfClientHandle();
            if (sent < request.Length)
            {
                await socket.SendAsync(request.AsMemory(sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }

            var message = await ReadErrorAsync(errors, cancellationToken).ConfigureAwait(false);
            if (message.Length > 0)
            {
                throw new TeleportConnectionException($"The ssh-multiplexer at '{socketPath}' could not connect to {target}: {message}");
            }

            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task ConnectSocketAsync(Socket socket, string socketPath, CancellationToken cancellationToken)
    {
        if (Encoding.UTF8.GetByteCount(socketPath) < 108)
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            return;
        }

        // sun_path is 108 bytes: reach a socket with a longer path through its directory's descriptor.
        var directory = Path.GetDirectoryName(socketPath) ?? ".";
        var fd = PosixNative.OpenReadOnly(directory, PosixNative.ORdOnly);
        if (fd < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        try
        {
            var viaDescriptor = "/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture) + "/" + Path.GetFileName(socketPath);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(viaDescriptor), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _ = PosixNative.Close(fd);
        }
    }

    private static async Task<string> ReadErrorAsync(AnonymousPipeServerStream errors, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxErrorLength];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await errors.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
        }

        return Encoding.UTF8.GetString(buffer, 0, total).Trim();
    }
}
