using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Formats.Crypto;

namespace Teleport.MachineId.Tests.Formats.Ssh;

public sealed class TeleportSshCertificateInfoTests
{
    [Test]
    public void Reads_what_Teleport_puts_into_a_bot_certificate()
    {
        var info = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519).GetTeleportInfo();
        Assert.Multiple(() =>
        {
            Assert.That(info.Roles, Is.EqualTo(new[] { "bot-robot", "access" }));
            Assert.That(info.Traits.Keys, Is.EquivalentTo(new[] { "logins", "kubernetes_groups" }));
            Assert.That(info.Traits["logins"], Is.EqualTo(new[] { "root", "ubuntu" }));
            Assert.That(info.Traits["kubernetes_groups"], Is.Empty);
            Assert.That(info.RouteToCluster, Is.EqualTo("example.teleport.sh"));
            Assert.That(info.Renewable, Is.True);
            Assert.That(info.Generation, Is.EqualTo(3UL));
            Assert.That(info.BotName, Is.EqualTo("robot"));
            Assert.That(info.IsBot, Is.True);
            Assert.That(info.BotInstanceId, Is.EqualTo("6f1a4f70-5fd1-4c2e-9f3c-2a9d2f0e4b11"));
            Assert.That(info.Impersonator, Is.EqualTo("bot-robot"));
            Assert.That(info.DisallowReissue, Is.True);
            Assert.That(info.PermitPty, Is.True);
            Assert.That(info.PermitPortForwarding, Is.True);
            Assert.That(info.PermitAgentForwarding, Is.False);
            Assert.That(info.PermitX11Forwarding, Is.False);
            Assert.That(info.PermitUserRc, Is.False);
            Assert.That(info.ActiveRequests, Is.Empty);
            Assert.That(info.SystemRole, Is.Null);
        });
    }

    [Test]
    public void Absent_extensions_read_as_Teleport_defaults()
    {
        var info = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey }
            .Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1)).GetTeleportInfo();
        Assert.Multiple(() =>
        {
            Assert.That(info.Roles, Is.Empty);
            Assert.That(info.Traits, Is.Empty);
            Assert.That(info.RouteToCluster, Is.Null);
            Assert.That(info.Renewable, Is.False);
            Assert.That(info.Generation, Is.Zero);
            Assert.That(info.BotName, Is.Null);
            Assert.That(info.IsBot, Is.False);
            Assert.That(info.PreviousIdentityExpires, Is.Null);
        });
    }

    [Test]
    public void Encoders_write_Teleports_JSON()
    {
        Assert.Multiple(() =>
        {
            Assert.That(TeleportSshCertificateInfo.EncodeRoles(["a", "b\"c"]), Is.EqualTo("{\"roles\":[\"a\",\"b\\u0022c\"]}"));
            Assert.That(TeleportSshCertificateInfo.EncodeActiveRequests(["r1"]), Is.EqualTo("{\"access_requests\":[\"r1\"]}"));
            Assert.That(
                TeleportSshCertificateInfo.EncodeTraits(new Dictionary<string, IReadOnlyList<string>> { ["logins"] = ["root"], ["db_users"] = [] }),
                Is.EqualTo("{\"db_users\":[],\"logins\":[\"root\"]}"));
        });
    }

    [Test]
    public void Accepts_the_older_roles_format_with_a_version_and_null_traits()
    {
        var info = Info(new()
        {
            ["teleport-roles"] = "{\"version\":\"v1\",\"roles\":[\"editor\"]}",
            ["teleport-traits"] = "{\"logins\":null,\"aws_role_arns\":[\"arn:x\"]}",
            ["teleport-active-requests"] = "{\"access_requests\":[\"req-1\",\"req-2\"]}",
            ["prev-identity-expires"] = "2025-01-01T10:00:00Z",
            ["x-teleport-role"] = "Node",
        });
        Assert.Multiple(() =>
        {
            Assert.That(info.Roles, Is.EqualTo(new[] { "editor" }));
            Assert.That(info.Traits["logins"], Is.Empty);
            Assert.That(info.Traits["aws_role_arns"], Is.EqualTo(new[] { "arn:x" }));
            Assert.That(info.ActiveRequests, Is.EqualTo(new[] { "req-1", "req-2" }));
            Assert.That(info.PreviousIdentityExpires, Is.EqualTo(new DateTimeOffset(2025, 1, 1, 10, 0, 0, TimeSpan.Zero)));
            Assert.That(info.SystemRole, Is.EqualTo("Node"));
        });
    }

    [TestCase("teleport-roles", "{not json")]
    [TestCase("teleport-roles", "[\"a\"]")]
    [TestCase("teleport-roles", "{\"roles\":\"a\"}")]
    [TestCase("teleport-roles", "{\"roles\":[1]}")]
    [TestCase("teleport-traits", "{\"logins\":\"root\"}")]
    [TestCase("teleport-traits", "[]")]
    [TestCase("teleport-traits", "")]
    [TestCase("teleport-active-requests", "{\"access_requests\":{}}")]
    [TestCase("generation", "three")]
    [TestCase("generation", "-1")]
    [TestCase("generation", "18446744073709551616")]
    [TestCase("prev-identity-expires", "yesterday")]
    public void Malformed_Teleport_extensions_are_format_errors(string name, string value)
    {
        Assert.That(() => Info(new() { [name] = value }), Throws.TypeOf<TeleportFormatException>().With.Message.Contains(name));
    }

    private static TeleportSshCertificateInfo Info(Dictionary<string, string> extensions)
    {
        var builder = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey };
        foreach (var (name, value) in extensions)
        {
            builder.Extensions[name] = value;
        }

        return builder.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1)).GetTeleportInfo();
    }
}
