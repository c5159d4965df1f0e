using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;

namespace Teleport.MachineId.Outputs.SshMultiplexer.Internal;

/// <summary>
/// One client of <c>agent.sock</c>: length-prefixed agent requests answered from the keyring the
/// connection started with, until the client closes. A message longer than
/// <see cref="SshAgentKeyring.MaxMessageLength"/> ends the connection (as OpenSSH's agent does).
/// </summary>
internal static class SshAgentConnection
{
    /// <summary>Serves until the client closes or <paramref name="stopping"/> fires.</summary>
    /// <exception cref="IOException">The client sent an over-long message or the connection failed.</exception>
    /// <exception cref="SocketException">The connection failed.</exception>
    public static async Task ServeAsync(Socket socket, SshAgentKeyring keyring, CancellationToken stopping)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var header = new byte[4];
        while (true)
        {
            var read = await stream.ReadAtLeastAsync(header, 4, throwOnEndOfStream: false, stopping).ConfigureAwait(false);
            if (read < 4)
            {
                return;
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (length > SshAgentKeyring.MaxMessageLength)
            {
                throw new IOException($"agent request of {length} bytes is longer than {SshAgentKeyring.MaxMessageLength}");
            }

            var message = ArrayPool<byte>.Shared.Rent((int)Math.Max(length, 1));
            try
            {
                await stream.ReadExactlyAsync(message.AsMemory(0, (int)length), stopping).ConfigureAwait(false);
                var response = keyring.Handle(message.AsSpan(0, (int)length));
                await stream.WriteAsync(response, stopping).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(message, clearArray: true);
            }
        }
    }
}
