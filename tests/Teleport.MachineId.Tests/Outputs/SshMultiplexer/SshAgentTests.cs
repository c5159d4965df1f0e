using System.Buffers.Binary;
using System.Diagnostics;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Outputs.SshMultiplexer;

/// <summary>
/// The in-memory agent's protocol (draft-miller-ssh-agent) message by message, and the agent client
/// against OpenSSH's own ssh-agent (an implementation independent of ours).
/// </summary>
public sealed class SshAgentTests
{
    [TestCase(KeyAlgorithm.Ed25519)]
    [TestCase(KeyAlgorithm.EcdsaP256)]
    [TestCase(KeyAlgorithm.Rsa2048)]
    public void The_keyring_lists_the_certificate_then_the_bare_key_and_signs_with_either(KeyAlgorithm algorithm)
    {
        using var key = PrivateKey.Generate(algorithm);
        using var ca = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        var certificate = UserCertificate(key, ca);
        var keyring = SshAgentKeyring.ForCertificate(key, certificate);

        var list = Body(keyring.Handle([SshAgentKeyring.RequestIdentities]));
        var reader = new SshWireReader(list, "test");
        Assert.That(reader.ReadByte(), Is.EqualTo(SshAgentKeyring.IdentitiesAnswer));
        Assert.That(reader.ReadUInt32(), Is.EqualTo(2));
        var first = reader.ReadString().ToArray();
        _ = reader.ReadString();
        var second = reader.ReadString().ToArray();
        _ = reader.ReadString();
        Assert.That(reader.IsAtEnd);
        Assert.That(first, Is.EqualTo(certificate.WireSpan.ToArray()));
        Assert.That(second, Is.EqualTo(key.PublicKey.WireSpan.ToArray()));

        var data = "session identifier and userauth request"u8.ToArray();
        foreach (var blob in new[] { first, second })
        {
            var flags = algorithm == KeyAlgorithm.Rsa2048 ? SshAgentKeyring.RsaSha2_512 : 0;
            var signature = SignatureFrom(keyring.Handle(SignRequest(blob, data, flags)));
            Assert.That(SshSignature.Verify(key.PublicKey, data, signature), Is.True);
            if (algorithm == KeyAlgorithm.Rsa2048)
            {
                Assert.That(AlgorithmOf(signature), Is.EqualTo("rsa-sha2-512"));
                Assert.That(AlgorithmOf(SignatureFrom(keyring.Handle(SignRequest(blob, data, SshAgentKeyring.RsaSha2_256)))), Is.EqualTo("rsa-sha2-256"));
            }
        }
    }

    [Test]
    public void Unknown_keys_malformed_requests_and_changes_to_the_keyring_are_refused()
    {
        using var key = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var other = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var ca = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        var keyring = SshAgentKeyring.ForCertificate(key, UserCertificate(key, ca));
        byte[] failure = [0, 0, 0, 1, SshAgentKeyring.AgentFailure];

        Assert.Multiple(() =>
        {
            Assert.That(keyring.Handle(SignRequest(other.PublicKey.WireSpan.ToArray(), [1, 2, 3], 0)), Is.EqualTo(failure), "a key it does not hold");
            Assert.That(keyring.Handle([SshAgentKeyring.SignRequest, 0, 0, 0, 9, 1]), Is.EqualTo(failure), "a truncated sign request");
            Assert.That(keyring.Handle([]), Is.EqualTo(failure), "an empty message");
            Assert.That(keyring.Handle([17, 0, 0, 0, 0]), Is.EqualTo(failure), "SSH_AGENTC_ADD_IDENTITY");
            Assert.That(keyring.Handle([19]), Is.EqualTo(failure), "SSH_AGENTC_REMOVE_ALL_IDENTITIES");
            Assert.That(keyring.Handle([22, 0, 0, 0, 1, (byte)'x']), Is.EqualTo(failure), "SSH_AGENTC_LOCK");
            Assert.That(keyring.Handle([27, 0, 0, 0, 4, (byte)'q', (byte)'u', (byte)'e', (byte)'r']), Is.EqualTo(failure), "SSH_AGENTC_EXTENSION");
        });
    }

    [Test]
    public async Task The_agent_client_lists_and_signs_with_openssh_ssh_agent()
    {
        var sshAgent = OpenSshTools.Require("ssh-agent", "openssh-client");
        using var work = new SshTestDirectory("tmid-agent");
        var socket = work.File("agent.sock");
        var keygen = await SshToolRunner.RunAsync(OpenSshTools.SshKeygen, ["-q", "-t", "ecdsa", "-N", "", "-C", "from-keygen", "-f", work.File("id")]);
        Assert.That(keygen.ExitCode, Is.Zero, keygen.ToString());
        using var agent = Process.Start(new ProcessStartInfo(sshAgent) { ArgumentList = { "-D", "-a", socket }, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (!File.Exists(socket))
            {
                await Task.Delay(20, timeout.Token);
            }

            var add = Process.Start(new ProcessStartInfo(OpenSshTools.SshAdd) { ArgumentList = { work.File("id") }, Environment = { ["SSH_AUTH_SOCK"] = socket }, UseShellExecute = false, RedirectStandardError = true })!;
            await add.WaitForExitAsync(timeout.Token);
            Assert.That(add.ExitCode, Is.Zero);

            using var client = SshAgentClient.Connect(socket);
            var identity = client.ListIdentities().Single();
            var data = "to be signed"u8.ToArray();
            var signature = client.Sign(identity, data);

            Assert.That(identity.Comment, Is.EqualTo("from-keygen"));
            Assert.That(identity.Certificate, Is.Null);
            Assert.That(identity.PublicKey.ToAuthorizedKey(), Is.EqualTo(string.Join(' ', File.ReadAllText(work.File("id.pub")).Split(' ')[..2])));
            Assert.That(SshSignature.Verify(identity.PublicKey, data, signature), Is.True);
        }
        finally
        {
            agent.Kill();
            await agent.WaitForExitAsync();
        }
    }

    private static SshCertificate UserCertificate(PrivateKey key, PrivateKey ca)
    {
        var builder = new SshCertificateBuilder
        {
            PublicKey = key.PublicKey,
            Type = SshCertificateType.User,
            KeyId = "bot-test",
            ValidAfter = DateTimeOffset.UtcNow.AddMinutes(-1),
            ValidBefore = DateTimeOffset.UtcNow.AddHours(1),
        };
        builder.Principals.Add("root");
        return builder.Sign(ca);
    }

    private static byte[] SignRequest(byte[] blob, byte[] data, uint flags)
    {
        var writer = new SshWireWriter(64);
        try
        {
            writer.WriteByte(SshAgentKeyring.SignRequest);
            writer.WriteString(blob);
            writer.WriteString(data);
            writer.WriteUInt32(flags);
            return writer.ToArray();
        }
        finally
        {
            writer.Dispose();
        }
    }

    private static byte[] Body(byte[] response)
    {
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(response), Is.EqualTo(response.Length - 4));
        return response[4..];
    }

    private static byte[] SignatureFrom(byte[] response)
    {
        var reader = new SshWireReader(Body(response), "test");
        Assert.That(reader.ReadByte(), Is.EqualTo(SshAgentKeyring.SignResponse));
        return reader.ReadString().ToArray();
    }

    private static string AlgorithmOf(byte[] signature) => new SshWireReader(signature, "test").ReadUtf8String();
}
