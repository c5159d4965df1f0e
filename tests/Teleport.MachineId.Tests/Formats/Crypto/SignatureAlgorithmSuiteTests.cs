using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Tests.Formats.Crypto;

public sealed class SignatureAlgorithmSuiteTests
{
    [TestCase("legacy", "legacy")]
    [TestCase("balanced-v1", "balanced-v1")]
    [TestCase("fips-v1", "fips-v1")]
    [TestCase("hsm-v1", "hsm-v1")]
    [TestCase("BALANCED-V1", "balanced-v1")]
    [TestCase("  fips-v1 ", "fips-v1")]
    [TestCase("SIGNATURE_ALGORITHM_SUITE_HSM_V1", "hsm-v1")]
    [TestCase("unspecified", "legacy")]
    [TestCase("SIGNATURE_ALGORITHM_SUITE_UNSPECIFIED", "legacy")]
    [TestCase("", "legacy")]
    [TestCase(null, "legacy")]
    public void Parses_text_forms(string? text, string expected)
    {
        var suite = SignatureAlgorithmSuite.Parse(text);
        Assert.That(suite.Name, Is.EqualTo(expected));
        Assert.That(suite.ToString(), Is.EqualTo(expected));
        Assert.That(suite.IsKnown, Is.True);
    }

    [Test]
    public void Default_value_is_legacy()
    {
        Assert.That(default(SignatureAlgorithmSuite), Is.EqualTo(SignatureAlgorithmSuite.Legacy));
        Assert.That(default(SignatureAlgorithmSuite).Name, Is.EqualTo("legacy"));
    }

    [TestCase("balanced v1")]
    [TestCase("fips_v1!")]
    [TestCase("é")]
    public void Rejects_text_that_is_not_a_suite_name(string text)
    {
        Assert.That(() => SignatureAlgorithmSuite.Parse(text), Throws.TypeOf<TeleportFormatException>());
        Assert.That(SignatureAlgorithmSuite.TryParse(text, out _), Is.False);
        Assert.That(() => new SignatureAlgorithmSuite(text), Throws.ArgumentException);
    }

    [Test]
    public void A_suite_from_a_newer_cluster_parses_but_has_no_key_table()
    {
        var suite = SignatureAlgorithmSuite.Parse("balanced-v2");
        Assert.Multiple(() =>
        {
            Assert.That(suite.IsKnown, Is.False);
            Assert.That(suite.Name, Is.EqualTo("balanced-v2"));
            Assert.That(suite.TryGetKeyAlgorithm(KeyPurpose.BotIdentity, out _), Is.False);
            Assert.That(() => suite.GetKeyAlgorithm(KeyPurpose.BotIdentity), Throws.TypeOf<NotSupportedException>());
            Assert.That(() => PrivateKey.Generate(suite, KeyPurpose.BotIdentity), Throws.TypeOf<NotSupportedException>());
        });
    }

    // teleport-protocol.md §3.1 and Teleport's lib/cryptosuites table.
    [TestCase("legacy", KeyPurpose.BotIdentity, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.BotImpersonatedIdentity, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.DatabaseClient, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.UserCaSsh, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.HostCaSsh, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.UserCaTls, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.HostCaTls, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.DatabaseCaTls, KeyAlgorithm.Rsa2048)]
    [TestCase("legacy", KeyPurpose.HostSsh, KeyAlgorithm.Rsa2048)]
    [TestCase("balanced-v1", KeyPurpose.BotIdentity, KeyAlgorithm.EcdsaP256)]
    [TestCase("balanced-v1", KeyPurpose.BotImpersonatedIdentity, KeyAlgorithm.EcdsaP256)]
    [TestCase("balanced-v1", KeyPurpose.DatabaseClient, KeyAlgorithm.Rsa2048)]
    [TestCase("balanced-v1", KeyPurpose.UserCaSsh, KeyAlgorithm.Ed25519)]
    [TestCase("balanced-v1", KeyPurpose.HostCaSsh, KeyAlgorithm.Ed25519)]
    [TestCase("balanced-v1", KeyPurpose.UserCaTls, KeyAlgorithm.EcdsaP256)]
    [TestCase("balanced-v1", KeyPurpose.HostCaTls, KeyAlgorithm.EcdsaP256)]
    [TestCase("balanced-v1", KeyPurpose.DatabaseCaTls, KeyAlgorithm.Rsa2048)]
    [TestCase("balanced-v1", KeyPurpose.HostSsh, KeyAlgorithm.Ed25519)]
    [TestCase("fips-v1", KeyPurpose.BotIdentity, KeyAlgorithm.EcdsaP256)]
    [TestCase("fips-v1", KeyPurpose.BotImpersonatedIdentity, KeyAlgorithm.EcdsaP256)]
    [TestCase("fips-v1", KeyPurpose.DatabaseClient, KeyAlgorithm.Rsa2048)]
    [TestCase("fips-v1", KeyPurpose.UserCaSsh, KeyAlgorithm.EcdsaP256)]
    [TestCase("fips-v1", KeyPurpose.HostCaSsh, KeyAlgorithm.EcdsaP256)]
    [TestCase("fips-v1", KeyPurpose.UserCaTls, KeyAlgorithm.EcdsaP256)]
    [TestCase("fips-v1", KeyPurpose.HostCaTls, KeyAlgorithm.EcdsaP256)]
    [TestCase("fips-v1", KeyPurpose.DatabaseCaTls, KeyAlgorithm.Rsa2048)]
    [TestCase("fips-v1", KeyPurpose.HostSsh, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.BotIdentity, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.BotImpersonatedIdentity, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.DatabaseClient, KeyAlgorithm.Rsa2048)]
    [TestCase("hsm-v1", KeyPurpose.UserCaSsh, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.HostCaSsh, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.UserCaTls, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.HostCaTls, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.DatabaseCaTls, KeyAlgorithm.Rsa2048)]
    [TestCase("hsm-v1", KeyPurpose.HostSsh, KeyAlgorithm.Ed25519)]
    [TestCase("legacy", KeyPurpose.BoundKeypairJoining, KeyAlgorithm.Rsa2048)]
    [TestCase("balanced-v1", KeyPurpose.BoundKeypairJoining, KeyAlgorithm.Ed25519)]
    [TestCase("fips-v1", KeyPurpose.BoundKeypairJoining, KeyAlgorithm.EcdsaP256)]
    [TestCase("hsm-v1", KeyPurpose.BoundKeypairJoining, KeyAlgorithm.Ed25519)]
    public void Suite_table_gives_the_key_algorithm_per_purpose(string suite, KeyPurpose purpose, KeyAlgorithm expected)
    {
        Assert.That(SignatureAlgorithmSuite.Parse(suite).GetKeyAlgorithm(purpose), Is.EqualTo(expected));
    }

    [Test]
    public void Every_known_suite_covers_every_purpose()
    {
        foreach (var suite in new[] { SignatureAlgorithmSuite.Legacy, SignatureAlgorithmSuite.BalancedV1, SignatureAlgorithmSuite.FipsV1, SignatureAlgorithmSuite.HsmV1 })
        {
            foreach (var purpose in Enum.GetValues<KeyPurpose>())
            {
                Assert.That(suite.TryGetKeyAlgorithm(purpose, out _), Is.True, $"{suite} {purpose}");
            }
        }
    }

    [Test]
    public void Undefined_purpose_is_an_argument_error()
    {
        Assert.That(() => SignatureAlgorithmSuite.BalancedV1.GetKeyAlgorithm((KeyPurpose)99), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [TestCase(0, "legacy")]
    [TestCase(1, "legacy")]
    [TestCase(2, "balanced-v1")]
    [TestCase(3, "fips-v1")]
    [TestCase(4, "hsm-v1")]
    public void Maps_proto_enum_values(int value, string expected)
    {
        var suite = SignatureAlgorithmSuite.FromProtoValue(value);
        Assert.That(suite.Name, Is.EqualTo(expected));
        Assert.That(SignatureAlgorithmSuite.FromProtoValue(suite.ToProtoValue()), Is.EqualTo(suite));
    }

    [Test]
    public void Unknown_proto_value_is_a_protocol_error()
    {
        Assert.That(() => SignatureAlgorithmSuite.FromProtoValue(5), Throws.TypeOf<TeleportProtocolException>());
        Assert.That(() => new SignatureAlgorithmSuite("future-v9").ToProtoValue(), Throws.TypeOf<NotSupportedException>());
    }

    [Test]
    public void Equality_is_by_name()
    {
        Assert.Multiple(() =>
        {
            Assert.That(SignatureAlgorithmSuite.Parse("Balanced-V1") == SignatureAlgorithmSuite.BalancedV1, Is.True);
            Assert.That(SignatureAlgorithmSuite.FipsV1 != SignatureAlgorithmSuite.HsmV1, Is.True);
            Assert.That(SignatureAlgorithmSuite.BalancedV1.GetHashCode(), Is.EqualTo(new SignatureAlgorithmSuite("balanced-v1").GetHashCode()));
            Assert.That(SignatureAlgorithmSuite.Legacy.Equals((object)SignatureAlgorithmSuite.Legacy), Is.True);
        });
    }

    [TestCase("legacy", KeyAlgorithm.Rsa2048)]
    [TestCase("balanced-v1", KeyAlgorithm.EcdsaP256)]
    public void Generates_the_key_the_suite_prescribes(string suite, KeyAlgorithm expected)
    {
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.Parse(suite), KeyPurpose.BotIdentity);
        Assert.That(key.Algorithm, Is.EqualTo(expected));
        Assert.That(key.PublicKey.Algorithm, Is.EqualTo(expected));
    }
}
