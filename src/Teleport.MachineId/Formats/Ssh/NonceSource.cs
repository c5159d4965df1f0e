using System.Security.Cryptography;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// Random certificate nonces drawn from a per-thread buffer of CSPRNG output: one call to the
/// system generator costs about 2 µs whatever the size, which is several percent of a signature,
/// so 4 KiB are fetched at a time (128 nonces). Bytes are never handed out twice.
/// </summary>
internal static class NonceSource
{
    private const int BufferSize = 4096;

    [ThreadStatic]
    private static byte[]? t_buffer;

    [ThreadStatic]
    private static int t_position;

    /// <summary>Fills <paramref name="destination"/> with fresh random bytes.</summary>
    public static void Fill(Span<byte> destination)
    {
        if (destination.Length > BufferSize / 4)
        {
            RandomNumberGenerator.Fill(destination);
            return;
        }

        var buffer = t_buffer;
        if (buffer is null || t_position + destination.Length > BufferSize)
        {
            buffer ??= t_buffer = new byte[BufferSize];
            RandomNumberGenerator.Fill(buffer);
            t_position = 0;
        }

        var source = buffer.AsSpan(t_position, destination.Length);
        source.CopyTo(destination);
        source.Clear();
        t_position += destination.Length;
    }
}
