using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>One WebSocket frame as it travels (client frames unmasked on reading).</summary>
internal sealed record WebSocketFrame(bool Fin, int Opcode, byte[] Payload)
{
    public const int Continuation = 0, Text = 1, Binary = 2, Close = 8, Ping = 9, Pong = 10;
}

/// <summary>
/// A hand-written, misbehaving proxy for the client side of the WebSocket connection upgrade: TLS on
/// loopback (a test CA the client trusts), a correct <c>101</c> answer to <c>GET
/// /webapi/connectionupgrade</c>, then whatever the test's script writes — raw frames, fragments,
/// lies about lengths, closes — and reads what the client answers. Test code: it frames by hand on
/// purpose, to produce what a well-behaved library never would.
/// </summary>
internal sealed class HostileUpgradeServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _certificate;
    private readonly Func<Stream, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public HostileUpgradeServer(TestAuthority authority, Func<Stream, Task> script)
    {
        _certificate = authority.IssueServer(["localhost"]);
        _script = script;
        _listener.Start();
        _loop = RunAsync();
    }

    public HostPort Address => new("localhost", ((IPEndPoint)_listener.LocalEndpoint).Port);

    /// <summary>Completes when the script finished (or faults with its exception).</summary>
    public TaskCompletionSource ScriptDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Writes one server frame (unmasked); <paramref name="announcedLength"/> lies about the payload length when set.</summary>
    public static async Task WriteFrameAsync(Stream stream, bool fin, int opcode, ReadOnlyMemory<byte> payload, ulong? announcedLength = null)
    {
        var length = announcedLength ?? (ulong)payload.Length;
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        if (length < 126)
        {
            header.Add((byte)length);
        }
        else if (length <= ushort.MaxValue)
        {
            header.Add(126);
            header.AddRange([(byte)(length >> 8), (byte)length]);
        }
        else
        {
            header.Add(127);
            var eight = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(eight, length);
            header.AddRange(eight);
        }

        await stream.WriteAsync(header.ToArray());
        await stream.WriteAsync(payload);
        await stream.FlushAsync();
    }

    /// <summary>Reads and discards whatever the client sends until it closes the connection.</summary>
    public static async Task DrainAsync(Stream stream)
    {
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (IOException)
        {
            // The client went away.
        }
    }

    /// <summary>Reads one client frame (masked, as RFC 6455 requires of clients) and unmasks it.</summary>
    public static async Task<WebSocketFrame> ReadFrameAsync(Stream stream)
    {
        var head = new byte[2];
        await stream.ReadExactlyAsync(head);
        var fin = (head[0] & 0x80) != 0;
        var opcode = head[0] & 0x0F;
        var masked = (head[1] & 0x80) != 0;
        ulong length = (ulong)(head[1] & 0x7F);
        if (length == 126)
        {
            var two = new byte[2];
            await stream.ReadExactlyAsync(two);
            length = BinaryPrimitives.ReadUInt16BigEndian(two);
        }
        else if (length == 127)
        {
            var eight = new byte[8];
            await stream.ReadExactlyAsync(eight);
            length = BinaryPrimitives.ReadUInt64BigEndian(eight);
        }

        Assert.That(masked, Is.True, "client frames are masked");
        var mask = new byte[4];
        await stream.ReadExactlyAsync(mask);
        var payload = new byte[checked((int)length)];
        await stream.ReadExactlyAsync(payload);
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] ^= mask[i % 4];
        }

        return new WebSocketFrame(fin, opcode, payload);
    }

    public async ValueTask DisposeAsync()
    {
        await AcceptLoop.StopAsync(_stop, _listener, _loop);

        _certificate.Dispose();
    }

    private async Task RunAsync()
    {
        using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
        await using var tls = new SslStream(client.GetStream());
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _certificate,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
            }, _stop.Token);
            var request = await ReadRequestHeadAsync(tls);
            var key = Header(request, "Sec-WebSocket-Key");
            var protocol = Header(request, "Sec-WebSocket-Protocol");
#pragma warning disable CA5350 // RFC 6455's accept key is defined with SHA-1.
            var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
            var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                $"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n";
            await tls.WriteAsync(Encoding.ASCII.GetBytes(response), _stop.Token);
            await tls.FlushAsync(_stop.Token);
            await _script(tls);
            ScriptDone.TrySetResult();
        }
        catch (Exception ex)
        {
            ScriptDone.TrySetException(ex);
        }
    }

    private static async Task<string> ReadRequestHeadAsync(Stream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 16 * 1024)
        {
            await stream.ReadExactlyAsync(one);
            bytes.Add(one[0]);
            if (bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n')
            {
                return Encoding.ASCII.GetString(bytes.ToArray());
            }
        }

        throw new InvalidDataException("The upgrade request head is too long.");
    }

    private static string Header(string request, string name) =>
        request.Split("\r\n").Select(line => line.Split(':', 2)).Where(parts => parts.Length == 2 && parts[0].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
            .Select(parts => parts[1].Trim()).FirstOrDefault() ?? string.Empty;
}
