using System.Buffers.Binary;
using System.Net.Sockets;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Outputs.SshMultiplexer;

/// <summary>One key an SSH agent holds: its public key blob (a certificate or a plain key) and comment.</summary>
public sealed class SshAgentIdentity
{
    internal SshAgentIdentity(byte[] blob, string comment)
    {
        Blob = blob;
        Comment = comment;
        try
        {
            Certificate = SshCertificate.FromWire(blob);
            PublicKey = Certificate.PublicKey;
        }
        catch (TeleportFormatException)
        {
            PublicKey = PublicKeyInfo.FromSshWire(blob);
        }
    }

    /// <summary>The key blob as the agent lists it (the SSH wire encoding).</summary>
    public ReadOnlyMemory<byte> Blob { get; }

    /// <summary>The agent's comment for the key.</summary>
    public string Comment { get; }

    /// <summary>The certificate, when the blob is one.</summary>
    public SshCertificate? Certificate { get; }

    /// <summary>The public key (the certified key for a certificate).</summary>
    public PublicKeyInfo PublicKey { get; }
}

/// <summary>
/// A client of an SSH agent (draft-miller-ssh-agent) on a Unix socket — the multiplexer's
/// <c>agent.sock</c> or any other agent: lists its keys and asks it to sign, so an SSH library can log
/// in with keys it never sees. Synchronous (SSH libraries sign synchronously); thread-safe (requests
/// are serialized on one connection). Linux and other Unix systems.
/// </summary>
public sealed class SshAgentClient : IDisposable
{
    private readonly Socket _socket;
    private readonly Lock _gate = new();

    private SshAgentClient(Socket socket) => _socket = socket;

    /// <summary>Connects to the agent at <paramref name="socketPath"/>.</summary>
    /// <param name="socketPath">The agent socket, e.g. the multiplexer's <c>agent.sock</c>.</param>
    /// <returns>The client; dispose it to close the connection.</returns>
    /// <exception cref="TeleportConnectionException">The agent cannot be reached.</exception>
    public static SshAgentClient Connect(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return new SshAgentClient(socket);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new TeleportConnectionException($"Could not connect to the SSH agent at '{socketPath}': {ex.Message}", ex);
        }
    }

    /// <summary>The agent's keys (<c>SSH_AGENTC_REQUEST_IDENTITIES</c>).</summary>
    /// <returns>The keys, in the agent's order.</returns>
    /// <exception cref="TeleportProtocolException">The agent refused or answered something malformed.</exception>
    /// <exception cref="IOException">The connection failed.</exception>
    public IReadOnlyList<SshAgentIdentity> ListIdentities()
    {
        var response = Exchange([SshAgentKeyring.RequestIdentities]);
        try
        {
            var reader = new SshWireReader(response, "agent identities answer");
            if (reader.ReadByte() != SshAgentKeyring.IdentitiesAnswer)
            {
                throw new TeleportProtocolException("The SSH agent refused to list its keys.");
            }

            var count = reader.ReadUInt32();
            var identities = new List<SshAgentIdentity>();
            for (var i = 0; i < count; i++)
            {
                var blob = reader.ReadString().ToArray();
                var comment = reader.ReadUtf8String();
                identities.Add(new SshAgentIdentity(blob, comment));
            }

            return identities;
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportProtocolException($"The SSH agent's list of keys is malformed: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Asks the agent to sign <paramref name="data"/> with the key of <paramref name="identity"/>
    /// (<c>SSH_AGENTC_SIGN_REQUEST</c>); for RSA keys <paramref name="algorithm"/> chooses
    /// <c>rsa-sha2-256</c> or <c>rsa-sha2-512</c>.
    /// </summary>
    /// <param name="identity">A key the agent listed.</param>
    /// <param name="data">The data to sign.</param>
    /// <param name="algorithm">The signature algorithm wanted (e.g. <c>rsa-sha2-512</c>); the key's own otherwise.</param>
    /// <returns>The signature blob: <c>string algorithm, string signature</c>.</returns>
    /// <exception cref="TeleportProtocolException">The agent refused (the key is gone, e.g. after a renewal) or answered something malformed.</exception>
    /// <exception cref="IOException">The connection failed.</exception>
    public byte[] Sign(SshAgentIdentity identity, ReadOnlySpan<byte> data, string? algorithm = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var flags = algorithm switch
        {
            "rsa-sha2-256" => SshAgentKeyring.RsaSha2_256,
            "rsa-sha2-512" => SshAgentKeyring.RsaSha2_512,
            _ => 0u,
        };
        var writer = new SshWireWriter(64 + identity.Blob.Length + data.Length);
        byte[] request;
        try
        {
            writer.WriteByte(SshAgentKeyring.SignRequest);
            writer.WriteString(identity.Blob.Span);
            writer.WriteString(data);
            writer.WriteUInt32(flags);
            request = writer.ToArray();
        }
        finally
        {
            writer.Dispose();
        }

        var response = Exchange(request);
        try
        {
            var reader = new SshWireReader(response, "agent sign response");
            if (reader.ReadByte() != SshAgentKeyring.SignResponse)
            {
                throw new TeleportProtocolException("The SSH agent refused to sign (its keys may have been renewed; list them again).");
            }

            return reader.ReadString().ToArray();
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportProtocolException($"The SSH agent's signature is malformed: {ex.Message}", ex);
        }
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose() => _socket.Dispose();

    private byte[] Exchange(byte[] request)
    {
        lock (_gate)
        {
            var header = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(header, (uint)request.Length);
            _socket.Send(header);
            _socket.Send(request);
            ReceiveExactly(header);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (length is 0 or > SshAgentKeyring.MaxMessageLength)
            {
                throw new TeleportProtocolException($"The SSH agent sent a message of {length} bytes.");
            }

            var response = new byte[length];
            ReceiveExactly(response);
            return response;
        }
    }

    private void ReceiveExactly(byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = _socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("The SSH agent closed the connection.");
            }

            read += n;
        }
    }
}
