using System.Security.Cryptography;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Tests.Formats.Crypto;

public sealed class PublicKeyInfoTests
{
    private static readonly KeyAlgorithm[] Algorithms = TestKeys.All;

    [TestCase(KeyAlgorithm.Rsa, "ssh-rsa")]
    [TestCase(KeyAlgorithm.EcdsaP256, "ecdsa-sha2-nistp256")]
    [TestCase(KeyAlgorithm.EcdsaP384, "ecdsa-sha2-nistp384")]
    [TestCase(KeyAlgorithm.EcdsaP521, "ecdsa-sha2-nistp521")]
    [TestCase(KeyAlgorithm.Ed25519, "ssh-ed25519")]
    public void Knows_its_SSH_key_type(KeyAlgorithm algorithm, string type)
    {
        var key = TestKeys.Get(algorithm).PublicKey;
        Assert.That(key.SshKeyType, Is.EqualTo(type));
        Assert.That(key.ToAuthorizedKey(), Does.StartWith(type + " AAAA"));
    }

    [TestCaseSource(nameof(Algorithms))]
    public void Round_trips_through_every_encoding(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm).PublicKey;
        Assert.Multiple(() =>
        {
            Assert.That(PublicKeyInfo.FromSshWire(key.ToSshWire()), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ParseAuthorizedKey(key.ToAuthorizedKey()), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ParseAuthorizedKey(key.ToAuthorizedKey("bot@example") + "\n"), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ImportPem(key.ExportPem()), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ImportSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo()), Is.EqualTo(key));
        });
    }

    [TestCase(KeyAlgorithm.Rsa)]
    [TestCase(KeyAlgorithm.EcdsaP256)]
    [TestCase(KeyAlgorithm.EcdsaP384)]
    [TestCase(KeyAlgorithm.EcdsaP521)]
    public void SubjectPublicKeyInfo_matches_the_BCL_encoding(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm);
        var bcl = key.GetAsymmetricAlgorithm().ExportSubjectPublicKeyInfo();
        Assert.That(key.PublicKey.ExportSubjectPublicKeyInfo(), Is.EqualTo(bcl));
    }

    [Test]
    public void RSA_PEM_is_PKCS1_and_others_are_PKIX()
    {
        var rsa = TestKeys.Get(KeyAlgorithm.Rsa);
        Assert.That(rsa.PublicKey.ExportPem(), Does.StartWith("-----BEGIN RSA PUBLIC KEY-----\n").And.EndWith("-----END RSA PUBLIC KEY-----\n"));
        Assert.That(rsa.PublicKey.ExportPem(), Is.EqualTo(((RSA)rsa.GetAsymmetricAlgorithm()).ExportRSAPublicKeyPem() + "\n"));
        Assert.That(TestKeys.Get(KeyAlgorithm.EcdsaP256).PublicKey.ExportPem(), Does.StartWith("-----BEGIN PUBLIC KEY-----\n"));
        Assert.That(TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey.ExportPem(), Does.StartWith("-----BEGIN PUBLIC KEY-----\n"));
    }

    [Test]
    public void ImportPem_accepts_PKCS1_or_PKIX_in_either_block_type()
    {
        var rsa = (RSA)TestKeys.Get(KeyAlgorithm.Rsa).GetAsymmetricAlgorithm();
        var expected = TestKeys.Get(KeyAlgorithm.Rsa).PublicKey;
        var pkcs1 = rsa.ExportRSAPublicKey();
        var spki = rsa.ExportSubjectPublicKeyInfo();
        Assert.Multiple(() =>
        {
            Assert.That(PublicKeyInfo.ImportPem(PemEncoding.WriteString("RSA PUBLIC KEY", pkcs1)), Is.EqualTo(expected));
            Assert.That(PublicKeyInfo.ImportPem(PemEncoding.WriteString("PUBLIC KEY", pkcs1)), Is.EqualTo(expected));
            Assert.That(PublicKeyInfo.ImportPem(PemEncoding.WriteString("RSA PUBLIC KEY", spki)), Is.EqualTo(expected));
            Assert.That(PublicKeyInfo.ImportPem(PemEncoding.WriteString("PUBLIC KEY", spki)), Is.EqualTo(expected));
        });
    }

    [TestCaseSource(nameof(Algorithms))]
    public void Fingerprint_is_unpadded_base64_SHA256_of_the_wire_blob(KeyAlgorithm algorithm)
    {
        var key = TestKeys.Get(algorithm).PublicKey;
        var expected = "SHA256:" + Convert.ToBase64String(SHA256.HashData(key.ToSshWire())).TrimEnd('=');
        Assert.That(key.Sha256Fingerprint, Is.EqualTo(expected));
        Assert.That(key.Sha256Fingerprint, Has.Length.EqualTo(50));
        Assert.That(key.ToString(), Is.EqualTo($"{key.SshKeyType} {expected}"));
    }

    [Test]
    public void ParseAuthorizedKey_skips_options_comments_and_known_hosts_markers()
    {
        var key = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey;
        var line = key.ToAuthorizedKey();
        Assert.Multiple(() =>
        {
            Assert.That(PublicKeyInfo.ParseAuthorizedKey($"command=\"echo a b\",no-pty,from=\"10.0.0.1\" {line} bot comment with spaces"), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ParseAuthorizedKey($"cert-authority,principals=\"root\" {line}"), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ParseAuthorizedKey($"command=\"echo \\\"ssh-rsa x\\\" done\",no-pty {line}"), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ParseAuthorizedKey($"# comment line\n\n{line}\n"), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ParseAuthorizedKey($"@cert-authority 127.0.0.1,[127.0.0.1]:2222 {line} type=host"), Is.EqualTo(key));
            Assert.That(PublicKeyInfo.ParseAuthorizedKey($"\t{line}\r\n"), Is.EqualTo(key));
        });
    }

    [Test]
    public void Parses_the_cert_authority_line_Teleport_writes()
    {
        var key = PublicKeyInfo.ParseAuthorizedKey(File.ReadAllText(TestKeys.DataPath("Ssh", "teleport-ca.pem")));
        Assert.That(key.Algorithm, Is.EqualTo(KeyAlgorithm.Rsa));
        Assert.That(key.KeySizeInBits, Is.EqualTo(2048));
    }

    [Test]
    public void Equality_and_hashing_follow_the_key()
    {
        var a = TestKeys.Get(KeyAlgorithm.EcdsaP256, 0).PublicKey;
        var a2 = PublicKeyInfo.FromSshWire(a.ToSshWire());
        var b = TestKeys.Get(KeyAlgorithm.EcdsaP256, 1).PublicKey;
        Assert.Multiple(() =>
        {
            Assert.That(a == a2, Is.True);
            Assert.That(a != b, Is.True);
            Assert.That(a.GetHashCode(), Is.EqualTo(a2.GetHashCode()));
            Assert.That(new HashSet<PublicKeyInfo> { a, a2, b }, Has.Count.EqualTo(2));
            Assert.That(a.Equals((object?)null), Is.False);
        });
    }

    [Test]
    public void Non_minimal_mpints_are_canonicalised()
    {
        var key = TestKeys.Get(KeyAlgorithm.Rsa).PublicKey;
        var wire = key.ToSshWire();
        // ssh-rsa | mpint e (3 bytes) → add two leading zero bytes to e.
        var reencoded = new List<byte>(wire[..11]);
        reencoded.AddRange([0, 0, 0, 5, 0, 0]);
        reencoded.AddRange(wire[15..18]);
        reencoded.AddRange(wire[18..]);
        var parsed = PublicKeyInfo.FromSshWire(reencoded.ToArray());
        Assert.That(parsed, Is.EqualTo(key));
        Assert.That(parsed.ToSshWire(), Is.EqualTo(wire));
    }

    [Test]
    public void Rejects_a_certificate_where_a_key_is_expected()
    {
        var certificate = new MachineId.Ssh.SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey }
            .Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 1));
        Assert.That(() => PublicKeyInfo.ParseAuthorizedKey(certificate.ToAuthorizedKey()), Throws.TypeOf<TeleportFormatException>().With.Message.Contains("certificate"));
        Assert.That(() => PublicKeyInfo.FromSshWire(certificate.ToWire()), Throws.TypeOf<TeleportFormatException>().With.Message.Contains("certificate"));
    }

    [Test]
    public void Rejects_a_type_name_that_disagrees_with_the_data()
    {
        var ed = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey.ToAuthorizedKey();
        var mislabeled = "ecdsa-sha2-nistp256 " + ed.Split(' ')[1];
        Assert.That(() => PublicKeyInfo.ParseAuthorizedKey(mislabeled), Throws.TypeOf<TeleportFormatException>().With.Message.Contains("does not match"));
    }

    [TestCase("")]
    [TestCase("   ")]
    [TestCase("# only a comment")]
    [TestCase("ssh-ed25519")]
    [TestCase("ssh-ed25519 not*base64")]
    [TestCase("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA")]
    [TestCase("ssh-dss AAAAB3NzaC1kc3MAAACBAP")]
    [TestCase("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDsmZ2Oeb3n7bI8uB0Gm")]
    public void Rejects_bad_lines_with_a_format_error(string line)
    {
        Assert.That(() => PublicKeyInfo.ParseAuthorizedKey(line), Throws.TypeOf<TeleportFormatException>());
    }

    [TestCaseSource(nameof(Algorithms))]
    public void Truncated_or_extended_wire_blobs_give_format_errors(KeyAlgorithm algorithm)
    {
        var wire = TestKeys.Get(algorithm).PublicKey.ToSshWire();
        for (var length = 0; length < wire.Length; length++)
        {
            Assert.That(() => PublicKeyInfo.FromSshWire(wire.AsSpan(0, length)), Throws.TypeOf<TeleportFormatException>(), $"length {length}");
        }

        Assert.That(() => PublicKeyInfo.FromSshWire([.. wire, 0]), Throws.TypeOf<TeleportFormatException>());
    }

    [Test]
    public void Rejects_invalid_key_fields()
    {
        var ecdsa = TestKeys.Get(KeyAlgorithm.EcdsaP256).PublicKey.ToSshWire();
        var wrongCurve = (byte[])ecdsa.Clone();
        wrongCurve[4 + 19 + 4 + 7] = (byte)'4'; // nistp256 → nistp254
        var compressed = (byte[])ecdsa.Clone();
        compressed[4 + 19 + 4 + 8 + 4] = 0x02;
        var ed = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey.ToSshWire();
        var shortEd = ed[..^1];
        shortEd[4 + 11 + 3] = 31;
        Assert.Multiple(() =>
        {
            Assert.That(() => PublicKeyInfo.FromSshWire(wrongCurve), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => PublicKeyInfo.FromSshWire(compressed), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => PublicKeyInfo.FromSshWire(shortEd), Throws.TypeOf<TeleportFormatException>());
        });
    }

    [Test]
    public void Rejects_bad_PEM_and_DER()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => PublicKeyInfo.ImportPem(""), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => PublicKeyInfo.ImportPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => PublicKeyInfo.ImportSubjectPublicKeyInfo([0x30, 0x03, 0x02, 0x01]), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => PublicKeyInfo.ImportSubjectPublicKeyInfo([]), Throws.TypeOf<TeleportFormatException>());
            // A DSA SubjectPublicKeyInfo is well-formed but unsupported.
            using var dsa = DSA.Create(1024);
            Assert.That(() => PublicKeyInfo.ImportSubjectPublicKeyInfo(dsa.ExportSubjectPublicKeyInfo()), Throws.TypeOf<TeleportFormatException>());
        });
    }

    [Test]
    public void Compressed_EC_points_in_PKIX_are_rejected_clearly()
    {
        var spki = TestKeys.Get(KeyAlgorithm.EcdsaP256).PublicKey.ExportSubjectPublicKeyInfo();
        // Replace the uncompressed point (last 65 bytes, in a BIT STRING of length 66) with a compressed one.
        var prefix = spki[..^68];
        var x = spki[^64..^32];
        var compressed = prefix.Concat(new byte[] { 0x03, 34, 0x00, 0x02 }).Concat(x).ToArray();
        compressed[1] = (byte)(compressed.Length - 2);
        Assert.That(() => PublicKeyInfo.ImportSubjectPublicKeyInfo(compressed), Throws.TypeOf<TeleportFormatException>());
    }
}
