using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Outputs.Ssh;
using Teleport.MachineId.Wire.Streams;

namespace Teleport.MachineId.Outputs.SshMultiplexer.Internal;

/// <summary>What a multiplexer connection needs from its service.</summary>
internal interface IMultiplexerUpstream
{
    /// <summary>The service's name, for logs.</summary>
    string Name { get; }

    /// <summary>The cluster of the current credentials (the default cluster of a request).</summary>
    string ClusterName { get; }

    /// <summary>The proxy's host name, stripped from target host names as tbot does.</summary>
    string ProxyHost { get; }

    ILogger Logger { get; }

    /// <summary>Opens <c>ProxySSH</c> to a node.</summary>
    Task<DialedNode> DialAsync(string hostPort, string cluster, CancellationToken cancellationToken);
}

/// <summary>
/// One client of <c>v1.sock</c>, tbot's protocol byte for byte: the client sends <c>host:port[|cluster]</c>
/// and a NUL, optionally passing its stderr descriptor with the first bytes (<c>SCM_RIGHTS</c>); the
/// multiplexer sends nothing back but the node's bytes. Dial and request errors go to that stderr (then
/// the socket is closed); it is closed once proxying starts. Bytes that follow the NUL in the same read
/// are forwarded to the node.
/// </summary>
internal static class MultiplexerConnection
{
    private const int BufferSize = 64 * 1024;

    /// <summary>
    /// The send buffer asked for on the client's socket: Linux doubles it, so at most 64 KiB of node
    /// output wait in the socket, as in the pipe a ProxyCommand writes to. With the default (~208 KiB)
    /// a 64 MiB download through ssh ran ~13% slower than through a pipe on the same relay, and the
    /// multiplexer at 0.84–0.87× direct instead of 0.95–0.97× (benchmarks/README.md, "SSH at fleet scale").
    /// </summary>
    private const int ClientSendBufferSize = 32 * 1024;

    /// <summary>Serves one accepted connection until either side closes; never throws (failures are logged and told to the client).</summary>
    public static async Task ServeAsync(Socket downstream, IMultiplexerUpstream upstream, CancellationToken stopping)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var stderr = new PassedDescriptor();
        try
        {
            downstream.SendBufferSize = ClientSendBufferSize;
            var request = await ReadRequestAsync(downstream, buffer, stderr, stopping).ConfigureAwait(false);
            if (request.Text is null)
            {
                return; // The client went away before finishing its request.
            }

            if (request.Error is not null)
            {
                Fail(upstream, stderr, request.Error);
                return;
            }

            if (!SshMultiplexerTarget.TryParse(request.Text, out var target, out var error))
            {
                Fail(upstream, stderr, error);
                return;
            }

            var cluster = target.Cluster ?? upstream.ClusterName;
            var node = TargetHostNames.Clean(target.Host, upstream.ProxyHost, cluster);
            var hostPort = (node.Contains(':', StringComparison.Ordinal) ? "[" + node + "]" : node) + ":" + target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            OutputsLog.MultiplexerRequest(upstream.Logger, upstream.Name, node, target.Port, cluster);
            DialedNode dialed;
            try
            {
                dialed = await upstream.DialAsync(hostPort, cluster, stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TeleportException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                Fail(upstream, stderr, ex.Message);
                return;
            }

            await using (dialed.ConfigureAwait(false))
            {
                // Proxying starts: the client's stderr is no longer ours to write to.
                stderr.Close();
                var started = Stopwatch.GetTimestamp();
                await RelayAsync(downstream, dialed.Stream, buffer.AsMemory(request.Consumed, request.Buffered - request.Consumed), buffer, stopping)
                    .ConfigureAwait(false);
                var duration = Stopwatch.GetElapsedTime(started);
                OutputsLog.MultiplexerConnectionClosed(upstream.Logger, upstream.Name, node, target.Port, duration);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // The service is stopping or the client went away.
        }
        finally
        {
            stderr.Close();
            downstream.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void Fail(IMultiplexerUpstream upstream, PassedDescriptor stderr, string message)
    {
        OutputsLog.MultiplexerConnectionFailed(upstream.Logger, upstream.Name, message);
        if (stderr.Fd >= 0)
        {
            UnixSocketRights.TryWriteAll(stderr.Fd, Encoding.UTF8.GetBytes(message + "\n"));
        }
    }

    /// <summary>
    /// Reads up to and including the NUL with <c>recvmsg</c>, so a descriptor passed with any of those
    /// bytes is received (only the first is kept). Bounded by <see cref="SshMultiplexerTarget.MaxRequestLength"/>.
    /// </summary>
    private static async Task<Request> ReadRequestAsync(Socket socket, byte[] buffer, PassedDescriptor stderr, CancellationToken cancellationToken)
    {
        var filled = 0;
        var peek = new byte[1];
        while (true)
        {
            // Wait until something can be read, without consuming it (the descriptor comes with the bytes).
            if (await socket.ReceiveAsync(peek, SocketFlags.Peek, cancellationToken).ConfigureAwait(false) == 0)
            {
                return new Request(null, null, 0, filled);
            }

            var read = UnixSocketRights.ReceiveWithDescriptor((int)socket.Handle, buffer.AsSpan(filled), out var descriptor);
            if (descriptor >= 0)
            {
                if (stderr.Fd < 0)
                {
                    stderr.Fd = descriptor;
                }
                else
                {
                    _ = UnixSocketRights.Close(descriptor);
                }
            }

            if (read < 0)
            {
                continue; // Spurious wake-up.
            }

            if (read == 0)
            {
                return new Request(null, null, 0, filled);
            }

            var nul = buffer.AsSpan(filled, read).IndexOf((byte)0);
            filled += read;
            if (nul >= 0)
            {
                var end = filled - read + nul;
                if (end > SshMultiplexerTarget.MaxRequestLength)
                {
                    return new Request(string.Empty, $"malformed request: longer than {SshMultiplexerTarget.MaxRequestLength} bytes", end + 1, filled);
                }

                try
                {
                    var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, end);
                    return new Request(text, null, end + 1, filled);
                }
                catch (DecoderFallbackException)
                {
                    return new Request(string.Empty, "malformed request: not UTF-8", end + 1, filled);
                }
            }

            if (filled > SshMultiplexerTarget.MaxRequestLength)
            {
                return new Request(string.Empty, $"malformed request: no NUL within {SshMultiplexerTarget.MaxRequestLength} bytes", filled, filled);
            }
        }
    }

    /// <summary>
    /// Copies both ways until the node closes (or either side fails). The client's end of input
    /// half-closes the node's side; the node's end closes the connection.
    /// </summary>
    private static async Task RelayAsync(Socket client, ProxySshStream node, ReadOnlyMemory<byte> pending, byte[] buffer, CancellationToken stopping)
    {
        using var relay = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var up = CopyUpAsync(client, node, pending, buffer, relay.Token);
        var down = CopyDownAsync(node, client, relay.Token);
        var first = await Task.WhenAny(up, down).ConfigureAwait(false);
        if (first == up && up.IsCompletedSuccessfully)
        {
            // The client finished sending; the node may still answer.
            await Task.WhenAny(down).ConfigureAwait(false);
        }

        await relay.CancelAsync().ConfigureAwait(false);
        try
        {
            client.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
    }

    private static async Task CopyUpAsync(Socket client, ProxySshStream node, ReadOnlyMemory<byte> pending, byte[] buffer, CancellationToken cancellationToken)
    {
        if (!pending.IsEmpty)
        {
            await node.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }

        int read;
        while ((read = await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await node.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }

        await node.ShutdownWriteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task CopyDownAsync(ProxySshStream node, Socket client, CancellationToken cancellationToken)
    {
        // Each received frame goes straight from its pooled buffer to the socket.
        ReadOnlyMemory<byte> frame;
        while (!(frame = await node.ReadFrameAsync(cancellationToken).ConfigureAwait(false)).IsEmpty)
        {
            await client.SendAsync(frame, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <param name="Text">The request, or null when the client closed first.</param>
    /// <param name="Error">Why the request cannot be used, if so.</param>
    /// <param name="Consumed">Bytes of the buffer taken by the request and its NUL.</param>
    /// <param name="Buffered">Bytes read into the buffer.</param>
    private sealed record Request(string? Text, string? Error, int Consumed, int Buffered);

    /// <summary>The client's stderr, when it passed one; closed once (when proxying starts or the connection ends).</summary>
    private sealed class PassedDescriptor
    {
        public int Fd { get; set; } = -1;

        public void Close()
        {
            var fd = Fd;
            Fd = -1;
            if (fd >= 0)
            {
                _ = UnixSocketRights.Close(fd);
            }
        }
    }
}
