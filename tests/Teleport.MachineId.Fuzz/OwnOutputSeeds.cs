using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;
using Teleport.MachineId.Wire.Proto.Transport.V1;

namespace Teleport.MachineId.Fuzz;

/// <summary>
/// Seeds from this SDK's own writers (<c>seed DIR</c>, run by make-seeds.sh): a bot's TLS identity
/// with every Teleport attribute, SSH certificates with Teleport's extensions, identity files, keys
/// in each encoding, ProxySSH messages from our proto types. Fuzzing starts from what we emit.
/// </summary>
internal static class OwnOutputSeeds
{
    public static void Write(string directory)
    {
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var sshCa = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var userKey = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        using var rsaKey = PrivateKey.Generate(KeyAlgorithm.Rsa);

        var user = new SshCertificateBuilder
        {
            PublicKey = userKey.PublicKey,
            Type = SshCertificateType.User,
            KeyId = "bot-ci",
            Serial = 7,
            ValidAfter = now,
            ValidBefore = now.AddHours(1),
        }.AddDefaultUserExtensions();
        user.Principals.Add("root");
        user.Principals.Add("-teleport-internal-join");
        user.Extensions[TeleportSshCertificateInfo.RolesExtension] = "{\"version\":\"v1\",\"roles\":[\"bot-ci\"]}";
        user.Extensions[TeleportSshCertificateInfo.TraitsExtension] = "{\"logins\":[\"root\"]}";
        user.Extensions[TeleportSshCertificateInfo.RenewableExtension] = string.Empty;
        user.Extensions[TeleportSshCertificateInfo.GenerationExtension] = "3";
        user.Extensions[TeleportSshCertificateInfo.BotNameExtension] = "ci";
        user.Extensions[TeleportSshCertificateInfo.BotInstanceIdExtension] = "0b4d5b58-1c1b-4e0e-9a55-3c7d9f1c6a11";
        user.Extensions[TeleportSshCertificateInfo.RouteToClusterExtension] = "example.teleport.sh";
        var userCertificate = user.Sign(sshCa);
        var host = new SshCertificateBuilder
        {
            PublicKey = rsaKey.PublicKey, Type = SshCertificateType.Host, KeyId = "node", ValidAfter = now, ValidBefore = now.AddDays(1),
        };
        host.Principals.Add("node.example.teleport.sh");
        var hostCertificate = host.Sign(sshCa);

        Save(directory, "ssh-certificate", "own-user-ecdsa", userCertificate.ToWire());
        Save(directory, "ssh-certificate", "own-host-rsa", hostCertificate.ToWire());
        Save(directory, "ssh-public-key", "own-ed25519-ca", sshCa.PublicKey.ToSshWire());
        Save(directory, "openssh-private-key", "own-ecdsa", OpenSshPrivateKeyFormat.Encode(userKey, "bot"));
        Save(directory, "pem", "own-ecdsa.pem", userKey.ExportPem());
        Save(directory, "pem", "own-rsa.pem", rsaKey.ExportPem());
        Save(directory, "pem", "own-ed25519.openssh.pem", sshCa.ExportOpenSshPem("ca"));

        using var tlsCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var tlsCa = TeleportTlsCertificateBuilder.CreateCertificateAuthority("example.teleport.sh", tlsCaKey, now);
        var identity = new TeleportTlsCertificateBuilder
        {
            Username = "bot-ci", RouteToCluster = "example.teleport.sh", TeleportCluster = "example.teleport.sh", IsRenewable = true,
            Generation = 3, BotName = "ci", BotInstanceId = "0b4d5b58-1c1b-4e0e-9a55-3c7d9f1c6a11", Impersonator = "bot-ci",
            DisallowReissue = true, LoginIp = "192.0.2.1", PinnedIp = "192.0.2.2", MfaVerified = "dev", PrivateKeyPolicy = "none",
            UserType = "local", PreviousIdentityExpires = now.AddHours(2), JoinAttributesJson = "{\"token\":{\"name\":\"x\"}}",
        };
        identity.Roles.Add("bot-ci");
        identity.Usage.Add("usage:impersonation");
        identity.Principals.Add("root");
        identity.SystemRoles.Add("Bot");
        identity.ActiveRequests.Add("request-1");
        identity.Traits["logins"] = ["root", "ubuntu"];
        identity.OtherAttributes.Add(new("1.3.9999.1.99", "extra"));
        using var tlsKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var tlsCertificate = identity.Issue(new PublicKey(tlsKey), tlsCa, tlsCaKey, now, now.AddHours(1));
        Save(directory, "tls-identity", "own-bot.der", tlsCertificate.RawData);

        var file = new IdentityFile(
            userKey.ExportPem(), userCertificate.ToAuthorizedKey(), tlsCertificate.ExportCertificatePem(),
            [KnownHostsCertAuthority.ForCluster("example.teleport.sh", sshCa.PublicKey.ToAuthorizedKey())],
            [tlsCa.ExportCertificatePem()]);
        Save(directory, "identity-file", "own-identity", IdentityFileWriter.Write(file));
        Save(directory, "key-lines", "own-lines",
            userCertificate.ToAuthorizedKey("bot") + "\n" + sshCa.PublicKey.ToAuthorizedKey("ca") + "\n"
            + KnownHostsCertAuthority.ForCluster("example.teleport.sh", sshCa.PublicKey.ToAuthorizedKey(), "proxy.example.com") + "\n");
        // A stored bot identity the loader accepts: one key behind both certificates, CAs that signed them.
        using var botTls = identity.Issue(new PublicKey((ECDsa)userKey.GetAsymmetricAlgorithm()), tlsCa, tlsCaKey, now, now.AddHours(1));
        var material = new BotIdentityMaterial(
            botTls.ExportCertificatePem(), userCertificate.ToAuthorizedKey(), [tlsCa.ExportCertificatePem()], [sshCa.PublicKey.ToAuthorizedKey()], "token");
        Save(directory, "bot-storage", "own-bot-identity.json", BotIdentityStoreFormat.EncodeIdentity(
            new StoredBotIdentity(userKey.ExportPem(), material, new string('a', 64), now) { MethodState = JoinMethodState.Empty.With("token", [1, 2, 3]) }));
        Save(directory, "bot-storage", "own-renewal-inflight.json", BotIdentityStoreFormat.EncodeInFlight(
            new InFlightRenewal(3, "0b4d5b58-1c1b-4e0e-9a55-3c7d9f1c6a11", rsaKey.PublicKey.ToAuthorizedKey(), now)));
        Save(directory, "go-duration", "own-format", GoDuration.Format(TimeSpan.FromSeconds(5400.25)));

        Save(directory, "proxyssh-frame", "own-ssh", new ProxySSHResponse
        {
            Details = new ClusterDetails { FipsEnabled = true },
            Ssh = new Frame { Payload = ByteString.CopyFromUtf8("SSH-2.0-OpenSSH_9.2p1\r\n") },
        }.ToByteArray());
        Save(directory, "proxyssh-frame", "own-agent", new ProxySSHResponse { Agent = new Frame { Payload = ByteString.CopyFrom(0, 0, 0, 1, 11) } }.ToByteArray());
        WriteAgentSeeds(directory);
    }

    /// <summary>Agent requests as ssh and ssh-add send them, for the fixed keys the ssh-agent-request target serves.</summary>
    private static void WriteAgentSeeds(string directory)
    {
        Save(directory, "ssh-agent-request", "request-identities", [SshAgentKeyring.RequestIdentities]);
        Save(directory, "ssh-agent-request", "unknown-type", [99, 0, 0, 0, 0]);
        var list = new SshWireReader(FuzzTargets.CreateAgentKeyring().Handle([SshAgentKeyring.RequestIdentities]).AsSpan(4), "seed");
        _ = list.ReadByte();
        var count = list.ReadUInt32();
        for (var i = 0; i < count; i++)
        {
            var blob = list.ReadString().ToArray();
            _ = list.ReadString();
            foreach (var flags in new uint[] { 0, SshAgentKeyring.RsaSha2_256 })
            {
                var writer = new SshWireWriter(256);
                try
                {
                    writer.WriteByte(SshAgentKeyring.SignRequest);
                    writer.WriteString(blob);
                    writer.WriteString("SSH-2.0 session id and userauth request"u8);
                    writer.WriteUInt32(flags);
                    Save(directory, "ssh-agent-request", $"sign-{i}-flags-{flags}", writer.WrittenSpan.ToArray());
                }
                finally
                {
                    writer.Dispose();
                }
            }
        }

        // ping-tunnel: packets of a 4-byte big-endian length and the bytes; length 0 is a ping.
        Save(directory, "ping-tunnel", "data-ping-data", [0, 0, 0, 5, .. "hello"u8, 0, 0, 0, 0, 0, 0, 0, 3, .. "abc"u8]);
        Save(directory, "ping-tunnel", "cut-inside-a-packet", [0, 0, 0, 9, .. "abc"u8]);

        Save(directory, "multiplexer-request", "host-port", "node.example.com:22");
        Save(directory, "multiplexer-request", "host-port-cluster", "node.example.com:22|leaf.example.com");
        Save(directory, "multiplexer-request", "ipv6", "[::1]:3022");
    }

    private static void Save(string directory, string target, string name, string text) => Save(directory, target, name, Encoding.UTF8.GetBytes(text));

    private static void Save(string directory, string target, string name, byte[] bytes)
    {
        var folder = Path.Combine(directory, target);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, name), bytes);
    }
}
