using System.Buffers.Binary;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Outputs.SshMultiplexer.Internal;

/// <summary>
/// A read-only SSH agent keyring (draft-miller-ssh-agent) over keys held in memory: answers
/// <c>REQUEST_IDENTITIES</c> and <c>SIGN_REQUEST</c> and refuses everything else (adding, removing,
/// locking, extensions) with <c>SSH_AGENT_FAILURE</c>. Immutable; the multiplexer swaps in a new
/// keyring on every renewal and each agent connection keeps the one it started with, as tbot does.
/// </summary>
internal sealed class SshAgentKeyring
{
    /// <summary>OpenSSH's limit on an agent message (<c>AGENT_MAX_LEN</c>).</summary>
    public const int MaxMessageLength = 256 * 1024;

    public const byte AgentFailure = 5;
    public const byte AgentSuccess = 6;
    public const byte RequestIdentities = 11;
    public const byte IdentitiesAnswer = 12;
    public const byte SignRequest = 13;
    public const byte SignResponse = 14;

    /// <summary>Sign-request flag: an <c>rsa-sha2-256</c> signature.</summary>
    public const uint RsaSha2_256 = 2;

    /// <summary>Sign-request flag: an <c>rsa-sha2-512</c> signature.</summary>
    public const uint RsaSha2_512 = 4;

    private static readonly byte[] Failure = [0, 0, 0, 1, AgentFailure];

    private readonly Identity[] _identities;

    /// <summary>An empty keyring (before the first credentials).</summary>
    public static SshAgentKeyring Empty { get; } = new([]);

    private SshAgentKeyring(Identity[] identities) => _identities = identities;

    /// <summary>The public key blobs served, in order.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Blobs => [.. _identities.Select(i => (ReadOnlyMemory<byte>)i.Blob)];

    /// <summary>
    /// The keyring tbot's multiplexer serves: the key with its certificate, then the bare key (older
    /// Paramiko and OpenSSH clients only use a certificate when its plain key is also offered).
    /// </summary>
    /// <param name="key">The private key (owned by the caller, kept alive while the keyring is used).</param>
    /// <param name="certificate">The SSH user certificate for it.</param>
    /// <returns>The keyring.</returns>
    public static SshAgentKeyring ForCertificate(PrivateKey key, SshCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(certificate);
        if (certificate.PublicKey != key.PublicKey)
        {
            throw new ArgumentException("The certificate is for another key.", nameof(certificate));
        }

        return new SshAgentKeyring(
        [
            new Identity(certificate.WireSpan.ToArray(), string.Empty, key),
            new Identity(key.PublicKey.WireSpan.ToArray(), string.Empty, key),
        ]);
    }

    /// <summary>Answers one request (the message type and contents, without the length prefix).</summary>
    /// <param name="request">The request.</param>
    /// <returns>The complete response, length prefix included.</returns>
    public byte[] Handle(ReadOnlySpan<byte> request)
    {
        if (request.IsEmpty)
        {
            return Failure;
        }

        try
        {
            return request[0] switch
            {
                RequestIdentities => ListIdentities(),
                SignRequest => Sign(request[1..]),
                _ => Failure,
            };
        }
        catch (TeleportFormatException)
        {
            // A malformed request: the agent protocol answers with a failure and keeps the connection.
            return Failure;
        }
    }

    private byte[] ListIdentities()
    {
        var writer = new SshWireWriter(256);
        try
        {
            var body = writer.BeginNested();
            writer.WriteByte(IdentitiesAnswer);
            writer.WriteUInt32((uint)_identities.Length);
            foreach (var identity in _identities)
            {
                writer.WriteString(identity.Blob);
                writer.WriteString(identity.Comment);
            }

            writer.EndNested(body);
            return writer.ToArray();
        }
        finally
        {
            writer.Dispose();
        }
    }

    private byte[] Sign(ReadOnlySpan<byte> contents)
    {
        var reader = new SshWireReader(contents, "agent sign request");
        var blob = reader.ReadString();
        var data = reader.ReadString();
        var flags = reader.Remaining >= 4 ? reader.ReadUInt32() : 0;
        Identity? match = null;
        foreach (var identity in _identities)
        {
            if (blob.SequenceEqual(identity.Blob))
            {
                match = identity;
                break;
            }
        }

        if (match is null)
        {
            return Failure;
        }

        var key = match.Key;
        var algorithm = key.Algorithm == KeyAlgorithm.Rsa2048
            ? (flags & RsaSha2_512) != 0 ? SshSignature.RsaSha512 : (flags & RsaSha2_256) != 0 ? SshSignature.RsaSha256 : SshSignature.RsaSha1
            : SshSignature.DefaultAlgorithm(key.Algorithm);
        byte[] signature;
        try
        {
            signature = SshSignature.Create(key, algorithm, data);
        }
        catch (ObjectDisposedException)
        {
            return Failure;
        }

        var response = new byte[4 + 1 + 4 + signature.Length];
        BinaryPrimitives.WriteUInt32BigEndian(response, (uint)(1 + 4 + signature.Length));
        response[4] = SignResponse;
        BinaryPrimitives.WriteUInt32BigEndian(response.AsSpan(5), (uint)signature.Length);
        signature.CopyTo(response, 9);
        return response;
    }

    private sealed record Identity(byte[] Blob, string Comment, PrivateKey Key);
}
