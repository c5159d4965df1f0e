using System.Buffers.Binary;
using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Formats.Crypto;

namespace Teleport.MachineId.Tests.Formats.Ssh;

public sealed class SshCertificateTests
{
    private static IEnumerable<TestCaseData> SubjectAndSigner()
    {
        foreach (var subject in TestKeys.All)
        {
            foreach (var (ca, signature) in TestCertificates.Signers)
            {
                yield return new TestCaseData(subject, ca, signature).SetArgDisplayNames(subject.ToString(), ca.ToString(), signature);
            }
        }
    }

    [TestCaseSource(nameof(SubjectAndSigner))]
    public void Builds_signs_and_parses_back_every_field(KeyAlgorithm subject, KeyAlgorithm ca, string signatureAlgorithm)
    {
        var built = TestCertificates.Sign(subject, ca, signatureAlgorithm);
        var parsed = SshCertificate.ParseAuthorizedKey(built.ToAuthorizedKey("a comment"));

        Assert.Multiple(() =>
        {
            Assert.That(parsed, Is.EqualTo(built));
            Assert.That(parsed.CertificateTypeName, Is.EqualTo(KeyAlgorithmInfo.CertificateType(subject)));
            Assert.That(parsed.Nonce.ToArray(), Is.EqualTo(TestCertificates.Nonce));
            Assert.That(parsed.PublicKey, Is.EqualTo(TestKeys.Get(subject).PublicKey));
            Assert.That(parsed.Serial, Is.EqualTo(42UL));
            Assert.That(parsed.Type, Is.EqualTo(SshCertificateType.User));
            Assert.That(parsed.KeyId, Is.EqualTo("bot-robot"));
            Assert.That(parsed.Principals, Is.EqualTo(new[] { "root", "-teleport-internal-join" }));
            Assert.That(parsed.ValidAfter, Is.EqualTo(TestCertificates.ValidAfter));
            Assert.That(parsed.ValidBefore, Is.EqualTo(TestCertificates.ValidBefore));
            Assert.That(parsed.CriticalOptions, Is.EqualTo(new Dictionary<string, string>
            {
                ["force-command"] = "/bin/true",
                ["source-address"] = "127.0.0.1/32",
            }));
            Assert.That(parsed.Extensions, Has.Count.EqualTo(11));
            Assert.That(parsed.Extensions["permit-pty"], Is.Empty);
            Assert.That(parsed.Extensions["generation"], Is.EqualTo("3"));
            Assert.That(parsed.Reserved.Length, Is.Zero);
            Assert.That(parsed.SignatureKey, Is.EqualTo(TestCertificates.CaKey(ca)));
            Assert.That(parsed.SignatureAlgorithm, Is.EqualTo(signatureAlgorithm));
            Assert.That(parsed.VerifySignature(), Is.True);
            Assert.That(SshCertificate.FromWire(built.ToWire()), Is.EqualTo(built));
        });
    }

    [Test]
    public void Options_and_extensions_are_written_in_lexical_order_whatever_the_insertion_order()
    {
        var builder = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey };
        foreach (var name in new[] { "z-last", "permit-pty", "a-first", "permit-X11-forwarding", "bot-name@goteleport.com" })
        {
            builder.Extensions[name] = "";
        }

        builder.CriticalOptions["verify-required"] = "";
        builder.CriticalOptions["force-command"] = "ls";
        var certificate = builder.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));
        Assert.That(certificate.Extensions.Keys, Is.EqualTo(new[] { "a-first", "bot-name@goteleport.com", "permit-X11-forwarding", "permit-pty", "z-last" }));
        Assert.That(certificate.CriticalOptions.Keys, Is.EqualTo(new[] { "force-command", "verify-required" }));
    }

    [Test]
    public void A_reused_builder_reflects_every_change_between_signatures()
    {
        var ca = TestKeys.Get(KeyAlgorithm.Ed25519, 1);
        var builder = new SshCertificateBuilder
        {
            PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey,
            Principals = { "a" },
            CriticalOptions = { ["force-command"] = "x" },
            Extensions = { ["permit-pty"] = "" },
        };
        var first = builder.Sign(ca);
        builder.Principals.Add("b");
        builder.Principals[0] = "c";
        builder.Extensions["renewable"] = "";
        builder.Extensions.Remove("permit-pty");
        builder.CriticalOptions["force-command"] = "y";
        var second = builder.Sign(ca);
        builder.Principals.Clear();
        builder.Extensions.Clear();
        builder.CriticalOptions.Remove(new KeyValuePair<string, string>("force-command", "y"));
        var third = builder.Sign(ca);

        Assert.Multiple(() =>
        {
            Assert.That(first.Principals, Is.EqualTo(new[] { "a" }));
            Assert.That(first.Extensions.Keys, Is.EqualTo(new[] { "permit-pty" }));
            Assert.That(second.Principals, Is.EqualTo(new[] { "c", "b" }));
            Assert.That(second.Extensions.Keys, Is.EqualTo(new[] { "renewable" }));
            Assert.That(second.CriticalOptions["force-command"], Is.EqualTo("y"));
            Assert.That(third.Principals, Is.Empty);
            Assert.That(third.Extensions, Is.Empty);
            Assert.That(third.CriticalOptions, Is.Empty);
            Assert.That(builder.Extensions.IsReadOnly, Is.False);
        });
    }

    [Test]
    public void Flags_are_empty_data_and_values_are_strings_inside_the_data()
    {
        var certificate = new SshCertificateBuilder
        {
            PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey,
            Extensions = { ["permit-pty"] = "", ["generation"] = "7" },
        }.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));

        var wire = certificate.ToWire();
        // generation: string "generation", string(string "7"); permit-pty: string "permit-pty", string "".
        var expected = Concat(Str("generation"), Str(Str("7")), Str("permit-pty"), Str([]));
        Assert.That(IndexOf(wire, Str(expected)), Is.GreaterThan(0));
    }

    [Test]
    public void Default_validity_is_forever_encoded_as_zero_and_max()
    {
        var certificate = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey }
            .Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));
        Assert.That(certificate.ValidAfter, Is.EqualTo(DateTimeOffset.UnixEpoch));
        Assert.That(certificate.ValidBefore, Is.EqualTo(DateTimeOffset.MaxValue));
        var wire = certificate.ToWire();
        var validity = Concat(new byte[8], Enumerable.Repeat((byte)0xff, 8).ToArray());
        Assert.That(IndexOf(wire, validity), Is.GreaterThan(0));
        certificate.Verify([TestKeys.Get(KeyAlgorithm.Ed25519, 1).PublicKey], new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero));
    }

    [Test]
    public void Times_before_the_epoch_encode_as_zero()
    {
        var certificate = new SshCertificateBuilder
        {
            PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey,
            ValidAfter = new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero),
            ValidBefore = new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero),
        }.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));
        Assert.That(certificate.ValidAfter, Is.EqualTo(DateTimeOffset.UnixEpoch));
        Assert.That(certificate.ValidBefore, Is.EqualTo(new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero)));
    }

    [Test]
    public void Validity_values_past_year_9999_read_as_max_value()
    {
        var wire = TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.Ed25519).ToWire();
        var before = BinaryPrimitives.ReverseEndianness((ulong)TestCertificates.ValidBefore.ToUnixTimeSeconds());
        var offset = IndexOf(wire, BitConverter.GetBytes(before));
        BinaryPrimitives.WriteUInt64BigEndian(wire.AsSpan(offset), 300_000_000_000UL);
        var certificate = SshCertificate.FromWire(wire);
        Assert.That(certificate.ValidBefore, Is.EqualTo(DateTimeOffset.MaxValue));
        Assert.That(certificate.VerifySignature(), Is.False, "the signature covers the validity");
    }

    [Test]
    public void Nonce_is_random_by_default()
    {
        var builder = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey };
        var a = builder.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));
        var b = builder.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));
        Assert.That(a.Nonce.Length, Is.EqualTo(32));
        Assert.That(a.Nonce.ToArray(), Is.Not.EqualTo(b.Nonce.ToArray()));
        Assert.That(a, Is.Not.EqualTo(b));

        // Nonces come from a buffer of 128; crossing several refills never repeats one.
        var nonces = Enumerable.Range(0, 400).Select(_ => Convert.ToHexString(builder.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1)).Nonce.Span));
        Assert.That(nonces.Distinct().Count(), Is.EqualTo(400));
    }

    [Test]
    public void Fixed_nonce_and_Ed25519_give_reproducible_certificates()
    {
        var a = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        var b = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        Assert.That(a.ToWire(), Is.EqualTo(b.ToWire()));
        Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
        Assert.That(a == b, Is.True);
    }

    [Test]
    public void RSA_CAs_sign_with_rsa_sha2_512_by_default()
    {
        var certificate = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey }
            .Sign(TestKeys.Get(KeyAlgorithm.Rsa));
        Assert.That(certificate.SignatureAlgorithm, Is.EqualTo("rsa-sha2-512"));
        Assert.That(certificate.VerifySignature(), Is.True);
    }

    [Test]
    public void Host_certificates_round_trip()
    {
        var certificate = new SshCertificateBuilder
        {
            PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey,
            Type = SshCertificateType.Host,
            KeyId = "node-1",
            Principals = { "node-1.example.com", "127.0.0.1" },
            Extensions = { ["x-teleport-role"] = "Node", ["x-teleport-authority"] = "example.com" },
        }.Sign(TestKeys.Get(KeyAlgorithm.EcdsaP256, 1));
        var parsed = SshCertificate.FromWire(certificate.ToWire());
        Assert.That(parsed.Type, Is.EqualTo(SshCertificateType.Host));
        Assert.That(parsed.GetTeleportInfo().SystemRole, Is.EqualTo("Node"));
        Assert.That(parsed.GetTeleportInfo().Authority, Is.EqualTo("example.com"));
    }

    [Test]
    public void Builder_refuses_invalid_settings()
    {
        var ca = TestKeys.Get(KeyAlgorithm.Ed25519, 1);
        var subject = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey;
        Assert.Multiple(() =>
        {
            Assert.That(() => new SshCertificateBuilder().Sign(ca), Throws.InvalidOperationException);
            Assert.That(() => new SshCertificateBuilder { PublicKey = subject, SignatureAlgorithm = "rsa-sha2-512" }.Sign(ca), Throws.InvalidOperationException);
            Assert.That(() => new SshCertificateBuilder { PublicKey = subject, SignatureAlgorithm = "ssh-ed25519" }.Sign(TestKeys.Get(KeyAlgorithm.Rsa)), Throws.InvalidOperationException);
            Assert.That(() => new SshCertificateBuilder { PublicKey = subject, ValidAfter = TestCertificates.ValidBefore, ValidBefore = TestCertificates.ValidAfter }.Sign(ca), Throws.InvalidOperationException);
            Assert.That(() => new SshCertificateBuilder { PublicKey = subject, Type = (SshCertificateType)3 }.Sign(ca), Throws.InvalidOperationException);
            Assert.That(() => new SshCertificateBuilder { PublicKey = subject, Extensions = { [""] = "x" } }.Sign(ca), Throws.InvalidOperationException);
            Assert.That(() => new SshCertificateBuilder { PublicKey = subject }.Sign(null!), Throws.ArgumentNullException);
        });
        var disposed = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        disposed.Dispose();
        Assert.That(() => new SshCertificateBuilder { PublicKey = subject }.Sign(disposed), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void AddDefaultUserExtensions_adds_the_permit_flags_ssh_keygen_adds()
    {
        var certificate = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey }
            .AddDefaultUserExtensions()
            .Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));
        Assert.That(certificate.Extensions.Keys, Is.EqualTo(new[]
        {
            "permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding", "permit-pty", "permit-user-rc",
        }));
    }

    [Test]
    public void Parses_the_certificate_Teleport_wrote()
    {
        var line = File.ReadAllText(TestKeys.DataPath("Ssh", "teleport-key-cert.pub"));
        var certificate = SshCertificate.ParseAuthorizedKey(line);
        Assert.Multiple(() =>
        {
            Assert.That(certificate.CertificateTypeName, Is.EqualTo("ssh-rsa-cert-v01@openssh.com"));
            Assert.That(certificate.Type, Is.EqualTo(SshCertificateType.User));
            Assert.That(certificate.KeyId, Is.EqualTo("ekontsevoy"));
            Assert.That(certificate.Serial, Is.Zero);
            Assert.That(certificate.Principals, Is.EqualTo(new[] { "ekontsevoy" }));
            Assert.That(certificate.ValidAfter, Is.EqualTo(DateTimeOffset.UnixEpoch));
            Assert.That(certificate.ValidBefore, Is.EqualTo(new DateTimeOffset(2017, 6, 12, 7, 52, 21, TimeSpan.Zero)));
            Assert.That(certificate.Extensions.Keys, Is.EqualTo(new[] { "permit-port-forwarding", "permit-pty", "teleport-roles" }));
            Assert.That(certificate.GetTeleportInfo().Roles, Is.EqualTo(new[] { "user:ekontsevoy" }));
            Assert.That(certificate.SignatureAlgorithm, Is.EqualTo("ssh-rsa"));
            Assert.That(certificate.SignatureKey.Sha256Fingerprint, Is.EqualTo("SHA256:IIDf51v7wK+11+CKF8x24yN0L0r052ODIn5U1iznKUw"));
            Assert.That(certificate.PublicKey.Sha256Fingerprint, Is.EqualTo("SHA256:JhPxtfVUuo0NFBQ2FfYVERAn0pQf6qJ6C/tLeDb5ayI"));
            Assert.That(certificate.VerifySignature(), Is.True, "legacy ssh-rsa (SHA-1) signature");
            Assert.That(certificate.ToAuthorizedKey(), Is.EqualTo(line.Trim()));
        });
        certificate.Verify([certificate.SignatureKey], new DateTimeOffset(2017, 6, 1, 0, 0, 0, TimeSpan.Zero), SshCertificateType.User, "ekontsevoy");
        Assert.That(
            () => certificate.Verify([certificate.SignatureKey], DateTimeOffset.UtcNow),
            Throws.TypeOf<CertificateValidationException>().With.Property("Failure").EqualTo(CertificateValidationFailure.Expired));
    }

    [Test]
    public void ToString_describes_without_the_bytes()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.Ed25519);
        var text = certificate.ToString();
        Assert.That(text, Does.Contain("bot-robot").And.Contain("serial 42").And.Contain("User"));
        Assert.That(text, Does.Not.Contain(certificate.ToAuthorizedKey().Split(' ')[1][..20]));
    }

    [Test]
    public void ToWire_returns_a_copy()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.Ed25519);
        var wire = certificate.ToWire();
        wire[^1] ^= 0xff;
        Assert.That(certificate.VerifySignature(), Is.True);
        Assert.That(certificate.ToWire(), Is.Not.EqualTo(wire));
    }

    [Test]
    public void Lazily_decoded_fields_are_consistent_under_concurrency()
    {
        var wire = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519).ToWire();
        for (var round = 0; round < 20; round++)
        {
            var certificate = SshCertificate.FromWire(wire);
            var results = new string[8];
            Parallel.For(0, results.Length, i =>
                results[i] = $"{certificate.KeyId}|{string.Join(',', certificate.Principals)}|{string.Join(',', certificate.Extensions.Keys)}|{certificate.PublicKey}|{certificate.SignatureKey}");
            Assert.That(results.Distinct().Count(), Is.EqualTo(1));
        }
    }

    internal static byte[] Str(string text) => Str(Encoding.UTF8.GetBytes(text));

    internal static byte[] Str(byte[] content)
    {
        var result = new byte[4 + content.Length];
        BinaryPrimitives.WriteUInt32BigEndian(result, (uint)content.Length);
        content.CopyTo(result, 4);
        return result;
    }

    internal static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    internal static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);
}
