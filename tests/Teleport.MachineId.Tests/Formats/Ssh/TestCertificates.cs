using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Formats.Crypto;

namespace Teleport.MachineId.Tests.Formats.Ssh;

/// <summary>Certificates with every field set, as Teleport issues them for a bot.</summary>
internal static class TestCertificates
{
    public static readonly DateTimeOffset ValidAfter = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset ValidBefore = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);
    public static readonly byte[] Nonce = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    /// <summary>(CA algorithm, signature algorithm) pairs covering every signature we make.</summary>
    public static readonly (KeyAlgorithm Ca, string Signature)[] Signers =
    [
        (KeyAlgorithm.Ed25519, "ssh-ed25519"),
        (KeyAlgorithm.EcdsaP256, "ecdsa-sha2-nistp256"),
        (KeyAlgorithm.EcdsaP384, "ecdsa-sha2-nistp384"),
        (KeyAlgorithm.EcdsaP521, "ecdsa-sha2-nistp521"),
        (KeyAlgorithm.Rsa, "rsa-sha2-512"),
        (KeyAlgorithm.Rsa, "rsa-sha2-256"),
        (KeyAlgorithm.Rsa, "ssh-rsa"),
    ];

    public static SshCertificateBuilder TeleportBotUser(PublicKeyInfo subject) => new()
    {
        PublicKey = subject,
        Type = SshCertificateType.User,
        KeyId = "bot-robot",
        Serial = 42,
        Principals = { "root", "-teleport-internal-join" },
        ValidAfter = ValidAfter,
        ValidBefore = ValidBefore,
        Nonce = Nonce,
        CriticalOptions =
        {
            ["source-address"] = "127.0.0.1/32",
            ["force-command"] = "/bin/true",
        },
        Extensions =
        {
            ["teleport-roles"] = TeleportSshCertificateInfo.EncodeRoles(["bot-robot", "access"]),
            ["teleport-traits"] = TeleportSshCertificateInfo.EncodeTraits(new Dictionary<string, IReadOnlyList<string>>
            {
                ["logins"] = ["root", "ubuntu"],
                ["kubernetes_groups"] = [],
            }),
            ["teleport-route-to-cluster"] = "example.teleport.sh",
            ["permit-pty"] = "",
            ["permit-port-forwarding"] = "",
            ["renewable"] = "",
            ["generation"] = "3",
            ["bot-name@goteleport.com"] = "robot",
            ["bot-instance-id@goteleport.com"] = "6f1a4f70-5fd1-4c2e-9f3c-2a9d2f0e4b11",
            ["disallow-reissue"] = "",
            ["impersonator"] = "bot-robot",
        },
    };

    /// <summary>A small realistic user certificate, signed.</summary>
    public static SshCertificate Sign(KeyAlgorithm subject, KeyAlgorithm ca, string? signatureAlgorithm = null)
    {
        var builder = TeleportBotUser(TestKeys.Get(subject).PublicKey);
        builder.SignatureAlgorithm = signatureAlgorithm;
        return builder.Sign(TestKeys.Get(ca, 7));
    }

    public static PublicKeyInfo CaKey(KeyAlgorithm ca) => TestKeys.Get(ca, 7).PublicKey;
}
