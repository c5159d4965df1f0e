using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Benchmarks;

/// <summary>A Teleport-like bot user certificate builder (roles, traits, bot extensions, two principals).</summary>
internal static class BenchmarkCertificates
{
    public static SshCertificateBuilder TeleportUser(PublicKeyInfo subject)
    {
        var now = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
        return new SshCertificateBuilder
        {
            PublicKey = subject,
            KeyId = "bot-robot",
            Principals = { "root", "-teleport-internal-join" },
            ValidAfter = now.AddMinutes(-1),
            ValidBefore = now.AddHours(1),
            Extensions =
            {
                ["permit-pty"] = "",
                ["permit-port-forwarding"] = "",
                ["teleport-roles"] = TeleportSshCertificateInfo.EncodeRoles(["bot-robot", "access"]),
                ["teleport-traits"] = TeleportSshCertificateInfo.EncodeTraits(new Dictionary<string, IReadOnlyList<string>>
                {
                    ["logins"] = ["root", "ubuntu"],
                }),
                ["teleport-route-to-cluster"] = "example.teleport.sh",
                ["bot-name@goteleport.com"] = "robot",
                ["bot-instance-id@goteleport.com"] = "6f1a4f70-5fd1-4c2e-9f3c-2a9d2f0e4b11",
                ["disallow-reissue"] = "",
            },
        };
    }
}
