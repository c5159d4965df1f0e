using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Tests.Formats.Tls;

/// <summary>
/// Certificates issued with <see cref="TeleportTlsCertificateBuilder"/> are judged by openssl and
/// by their DER structure against teleport-protocol.md §8.2, then read back.
/// </summary>
public sealed class TeleportTlsIdentityTests
{
    private const string Cluster = "tele.example.com";
    private const string InstanceId = "4e1f0d2c-8f7a-4b1e-9c3d-2a6b5e4f7c10";

    private static readonly DateTimeOffset Now = new(2025, 7, 1, 12, 0, 0, TimeSpan.Zero);

    // openssl verify checks validity at this time (the certificates are made for 'Now').
    private static readonly string AtTime = Now.AddMinutes(5).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

    private ECDsa _caKey = null!;
    private X509Certificate2 _ca = null!;
    private string _workDir = null!;

    [OneTimeSetUp]
    public void CreateAuthority()
    {
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _ca = TeleportTlsCertificateBuilder.CreateCertificateAuthority(Cluster, _caKey, Now.AddDays(-1));
        _workDir = Directory.CreateTempSubdirectory("tls-identity-").FullName;
        File.WriteAllText(Path.Combine(_workDir, "ca.pem"), _ca.ExportCertificatePem());
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        _caKey.Dispose();
        _ca.Dispose();
        Directory.Delete(_workDir, recursive: true);
    }

    private static TeleportTlsCertificateBuilder BotBuilder()
    {
        var builder = new TeleportTlsCertificateBuilder
        {
            Username = "bot-robot",
            IsRenewable = true,
            Generation = 7,
            BotName = "robot",
            BotInstanceId = InstanceId,
            LoginIp = "10.1.2.3",
            TeleportCluster = Cluster,
            JoinAttributesJson = "{\"meta\":{\"join_token_name\":\"robot-token\",\"join_method\":\"token\"}}",
        };
        builder.Roles.Add("bot-robot");
        builder.Principals.Add("-teleport-nologin-5c5f0b1e-7c5e-4a0e-8d0b-0e4f7b1b9a11");
        builder.Principals.Add("-teleport-internal-join");
        return builder;
    }

    private static TeleportTlsCertificateBuilder ImpersonatedBuilder()
    {
        var builder = new TeleportTlsCertificateBuilder
        {
            Username = "bot-robot",
            Impersonator = "bot-robot",
            DisallowReissue = true,
            BotName = "robot",
            BotInstanceId = InstanceId,
            RouteToCluster = Cluster,
            TeleportCluster = Cluster,
        };
        builder.Roles.Add("editor");
        builder.Roles.Add("access");
        builder.Roles.Add("auditor");
        builder.Principals.Add("root");
        builder.Principals.Add("ubuntu");
        builder.Traits["logins"] = ["root", "ubuntu"];
        return builder;
    }

    private X509Certificate2 Issue(TeleportTlsCertificateBuilder builder, AsymmetricAlgorithm? subjectKey = null)
    {
        using var key = subjectKey is null ? ECDsa.Create(ECCurve.NamedCurves.nistP256) : null;
        var publicKey = subjectKey switch
        {
            RSA rsa => new PublicKey(rsa),
            ECDsa ecdsa => new PublicKey(ecdsa),
            _ => new PublicKey(key!),
        };
        return builder.Issue(publicKey, _ca, _caKey, Now.AddMinutes(-1), Now.AddHours(1));
    }

    private string WritePem(X509Certificate2 certificate, string name)
    {
        var path = Path.Combine(_workDir, name);
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    private static string OpenSsl(params string[] arguments)
    {
        var result = FormatsProcess.Run(FormatsProcess.OpenSsl, arguments);
        Assert.That(result.ExitCode, Is.Zero, $"openssl {string.Join(' ', arguments)}: {result.StandardError}");
        return result.StandardOutput.Trim();
    }

    // Fuzzing regressions (tls-identity): the platform decodes validity times lazily, so a
    // certificate that loads but has an undecodable notBefore/notAfter threw CryptographicException.
    [TestCase("bad-not-after.der")]
    [TestCase("bad-not-before.der")]
    public void A_certificate_with_undecodable_validity_times_is_a_format_error(string name)
    {
        var der = FuzzCrashes.Read("tls-identity", name);

        var error = Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromDer(der));

        Assert.That(error!.InnerException, Is.InstanceOf<CryptographicException>());
    }

    [Test]
    public void Bot_identity_subject_as_openssl_decodes_it()
    {
        using var certificate = Issue(BotBuilder());
        var path = WritePem(certificate, "bot.pem");

        // RFC 2253 lists RDNs last to first; unknown OIDs appear as '#' + the hex DER of the value.
        var subject = OpenSsl("x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253");
        var expected = "subject=" + string.Join(",",
            "1.3.9999.2.21=#0C" + Hex("{\"meta\":{\"join_token_name\":\"robot-token\",\"join_method\":\"token\"}}", withLength: true),
            "1.3.9999.2.20=#13" + Hex(InstanceId, withLength: true),
            "1.3.9999.2.18=#13" + Hex("robot", withLength: true),
            "1.3.9999.1.14=#13" + Hex("7", withLength: true),
            "1.3.9999.1.9=#13" + Hex("10.1.2.3", withLength: true),
            "1.3.9999.1.7=#13" + Hex(Cluster, withLength: true),
            "1.3.9999.1.13=#13" + Hex("true", withLength: true),
            "CN=bot-robot",
            "O=bot-robot",
            "postalCode={}",
            "street=",
            // One multi-valued RDN; openssl's RFC 2253 form prints its values in reverse too.
            "L=-teleport-nologin-5c5f0b1e-7c5e-4a0e-8d0b-0e4f7b1b9a11+L=-teleport-internal-join");
        Assert.That(subject, Is.EqualTo(expected));
        Assert.That(OpenSsl("x509", "-in", path, "-noout", "-issuer", "-nameopt", "RFC2253"),
            Does.Match($"^issuer=serialNumber=[0-9]+,CN={Cluster},O={Cluster}$"));
        Assert.That(OpenSsl("verify", "-attime", AtTime, "-CAfile", Path.Combine(_workDir, "ca.pem"), path), Is.EqualTo(path + ": OK"));
    }

    [Test]
    public void Bot_identity_reads_back()
    {
        using var certificate = Issue(BotBuilder());
        var identity = TeleportTlsIdentity.FromCertificate(certificate);

        Assert.Multiple(() =>
        {
            Assert.That(identity.Certificate, Is.SameAs(certificate));
            Assert.That(identity.Username, Is.EqualTo("bot-robot"));
            Assert.That(identity.Roles, Is.EqualTo(new[] { "bot-robot" }));
            Assert.That(identity.Principals, Is.EquivalentTo(new[] { "-teleport-nologin-5c5f0b1e-7c5e-4a0e-8d0b-0e4f7b1b9a11", "-teleport-internal-join" }));
            Assert.That(identity.IsRenewable, Is.True);
            Assert.That(identity.Generation, Is.EqualTo(7));
            Assert.That(identity.BotName, Is.EqualTo("robot"));
            Assert.That(identity.BotInstanceId, Is.EqualTo(InstanceId));
            Assert.That(identity.LoginIp, Is.EqualTo("10.1.2.3"));
            Assert.That(identity.TeleportCluster, Is.EqualTo(Cluster));
            Assert.That(identity.ClusterName, Is.EqualTo(Cluster));
            Assert.That(identity.Impersonator, Is.Null);
            Assert.That(identity.DisallowReissue, Is.False);
            Assert.That(identity.RouteToCluster, Is.Null);
            Assert.That(identity.Traits, Is.Empty);
            Assert.That(identity.JoinAttributesJson, Is.EqualTo("{\"meta\":{\"join_token_name\":\"robot-token\",\"join_method\":\"token\"}}"));
            Assert.That(identity.OtherAttributes, Is.Empty);
            Assert.That(identity.NotBefore, Is.EqualTo(Now.AddMinutes(-1)));
            Assert.That(identity.NotAfter, Is.EqualTo(Now.AddHours(1)));
            Assert.That(identity.SerialNumber, Is.EqualTo(certificate.SerialNumber));
        });
    }

    [Test]
    public void Impersonated_identity_has_impersonator_and_no_renewal_attributes()
    {
        using var certificate = Issue(ImpersonatedBuilder());
        var path = WritePem(certificate, "impersonated.pem");
        var text = OpenSsl("x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253");
        Assert.That(text, Does.Contain("1.3.9999.2.7=#13" + Hex("bot-robot", withLength: true)));
        Assert.That(text, Does.Contain("1.3.9999.2.9=#13" + Hex("true", withLength: true)));
        Assert.That(text, Does.Not.Contain("1.3.9999.1.13="));
        Assert.That(text, Does.Not.Contain("1.3.9999.1.14="));
        Assert.That(text, Does.Contain("street=" + Cluster));

        var identity = TeleportTlsIdentity.FromPem(File.ReadAllText(path));
        Assert.Multiple(() =>
        {
            Assert.That(identity.Impersonator, Is.EqualTo("bot-robot"));
            Assert.That(identity.DisallowReissue, Is.True);
            Assert.That(identity.IsRenewable, Is.False);
            Assert.That(identity.Generation, Is.Zero);
            Assert.That(identity.BotName, Is.EqualTo("robot"));
            Assert.That(identity.RouteToCluster, Is.EqualTo(Cluster));
            Assert.That(identity.Traits["logins"], Is.EqualTo(new[] { "root", "ubuntu" }));
        });
    }

    [Test]
    public void Several_roles_are_one_multi_valued_RDN_sorted_as_DER_requires()
    {
        using var certificate = Issue(ImpersonatedBuilder());
        var path = WritePem(certificate, "roles.pem");

        // openssl's multiline form shows each RDN and its '+'-joined values in stored order.
        var oneline = OpenSsl("x509", "-in", path, "-noout", "-subject", "-nameopt", "oneline");
        Assert.That(oneline, Does.Contain("O = access + O = editor + O = auditor"));
        Assert.That(oneline, Does.Contain("L = root + L = ubuntu"));

        var rdns = ReadRdns(certificate.SubjectName.RawData);
        var organization = rdns.Single(r => r[0].Oid == "2.5.4.10");
        Assert.That(organization.Select(a => a.Value), Is.EqualTo(new[] { "access", "editor", "auditor" }),
            "SET OF is sorted by encoding: shorter values first, then bytewise (as Go 1.15+ does)");

        var identity = TeleportTlsIdentity.FromCertificate(certificate);
        Assert.That(identity.Roles, Is.EqualTo(new[] { "access", "editor", "auditor" }));
    }

    [Test]
    public void Subject_DER_follows_Go_pkix_order_and_string_types()
    {
        var builder = ImpersonatedBuilder();
        builder.Usage.Add("usage:apps");
        builder.SystemRoles.Add("Node");
        builder.SystemRoles.Add("Proxy");
        builder.ActiveRequests.Add("req-1");
        builder.Traits["kubernetes_groups"] = [];
        builder.Traits["a<b&c"] = ["\"quoted\"", "ünïcode"];
        using var certificate = Issue(builder);

        var rdns = ReadRdns(certificate.SubjectName.RawData);
        var layout = rdns.Select(r => string.Join("+", r.Select(a => a.Oid))).ToList();
        Assert.That(layout, Is.EqualTo(new[]
        {
            "2.5.4.7+2.5.4.7",              // L: principals, one RDN
            "2.5.4.9",                      // STREET: route-to-cluster
            "2.5.4.17",                     // POSTALCODE: traits
            "2.5.4.10+2.5.4.10+2.5.4.10",   // O: roles
            "2.5.4.11",                     // OU: usage
            "2.5.4.3",                      // CN
            "1.3.9999.2.11",                // system roles, one RDN each
            "1.3.9999.2.11",
            "1.3.9999.1.7",                 // teleport cluster
            "1.3.9999.2.7",                 // impersonator
            "1.3.9999.2.8",                 // active requests
            "1.3.9999.2.9",                 // disallow reissue
            "1.3.9999.2.18",                // bot name
            "1.3.9999.2.20",                // bot instance id
        }));

        var all = rdns.SelectMany(r => r).ToDictionary(a => a.Oid + "=" + a.Value, a => a.Tag);
        Assert.Multiple(() =>
        {
            Assert.That(all["2.5.4.3=bot-robot"], Is.EqualTo(UniversalTagNumber.PrintableString));
            Assert.That(all["2.5.4.11=usage:apps"], Is.EqualTo(UniversalTagNumber.PrintableString));
            Assert.That(all["2.5.4.9=" + Cluster], Is.EqualTo(UniversalTagNumber.PrintableString));
            // Go's json.Marshal: keys sorted, <, > and & escaped, non-ASCII kept; JSON needs UTF8String.
            Assert.That(all[@"2.5.4.17={""a\u003cb\u0026c"":[""\""quoted\"""",""ünïcode""],""kubernetes_groups"":[],""logins"":[""root"",""ubuntu""]}"],
                Is.EqualTo(UniversalTagNumber.UTF8String));
            Assert.That(all["1.3.9999.2.20=" + InstanceId], Is.EqualTo(UniversalTagNumber.PrintableString));
        });

        var identity = TeleportTlsIdentity.FromCertificate(certificate);
        Assert.Multiple(() =>
        {
            Assert.That(identity.Usage, Is.EqualTo(new[] { "usage:apps" }));
            Assert.That(identity.SystemRoles, Is.EqualTo(new[] { "Node", "Proxy" }));
            Assert.That(identity.ActiveRequests, Is.EqualTo(new[] { "req-1" }));
            Assert.That(identity.Traits.Keys, Is.EquivalentTo(new[] { "a<b&c", "kubernetes_groups", "logins" }));
            Assert.That(identity.Traits["a<b&c"], Is.EqualTo(new[] { "\"quoted\"", "ünïcode" }));
            Assert.That(identity.Traits["kubernetes_groups"], Is.Empty);
        });
    }

    [Test]
    public void Remaining_attributes_round_trip_and_unknown_ones_are_kept()
    {
        var builder = BotBuilder();
        builder.PinnedIp = "192.0.2.10";
        builder.MfaVerified = "device-1";
        builder.PrivateKeyPolicy = "hardware_key";
        builder.UserType = "local";
        builder.PreviousIdentityExpires = new DateTimeOffset(2025, 6, 30, 23, 59, 58, TimeSpan.Zero);
        builder.OtherAttributes.Add(new("1.3.9999.1.1", "kube-user"));
        builder.OtherAttributes.Add(new("1.3.9999.3.1", "device-id"));
        using var certificate = Issue(builder);

        var attributes = ReadRdns(certificate.SubjectName.RawData).SelectMany(r => r).ToList();
        Assert.That(attributes.Single(a => a.Oid == "1.3.9999.2.12").Value, Is.EqualTo("2025-06-30T23:59:58Z"));

        var identity = TeleportTlsIdentity.FromCertificate(certificate);
        Assert.Multiple(() =>
        {
            Assert.That(identity.PinnedIp, Is.EqualTo("192.0.2.10"));
            Assert.That(identity.MfaVerified, Is.EqualTo("device-1"));
            Assert.That(identity.PrivateKeyPolicy, Is.EqualTo("hardware_key"));
            Assert.That(identity.UserType, Is.EqualTo("local"));
            Assert.That(identity.PreviousIdentityExpires, Is.EqualTo(builder.PreviousIdentityExpires));
            Assert.That(identity.OtherAttributes, Is.EqualTo(new KeyValuePair<string, string>[]
            {
                new("1.3.9999.1.1", "kube-user"),
                new("1.3.9999.3.1", "device-id"),
            }));
        });

        // A builder loaded from the identity writes the same subject again.
        Assert.That(TeleportTlsCertificateBuilder.From(identity).EncodeSubject(), Is.EqualTo(certificate.SubjectName.RawData));
    }

    [Test]
    public void Real_Teleport_certificate_from_upstream_fixture()
    {
        // tls.pem (Teleport fixtures/certs/identities) holds a TLS certificate issued by Teleport
        // itself: L=alice, O=admin+O=default-implicit-role, CN=alice, issuer O=one, CN=one.
        var text = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "IdentityFiles", "tls.pem"));
        var firstCertificate = text[text.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)..];
        var identity = TeleportTlsIdentity.FromPem(firstCertificate);

        Assert.Multiple(() =>
        {
            Assert.That(identity.Username, Is.EqualTo("alice"));
            Assert.That(identity.Roles, Is.EqualTo(new[] { "admin", "default-implicit-role" }));
            Assert.That(identity.Principals, Is.EqualTo(new[] { "alice" }));
            Assert.That(identity.ClusterName, Is.EqualTo("one"));
            Assert.That(identity.Traits, Is.Empty);
            Assert.That(identity.RouteToCluster, Is.Null);
            Assert.That(identity.IsRenewable, Is.False);
            Assert.That(identity.NotAfter, Is.EqualTo(new DateTimeOffset(2019, 8, 13, 11, 55, 26, TimeSpan.Zero)));
            Assert.That(identity.SerialNumber, Is.EqualTo("008BA6EFA57A0CB28F21520F629C809A98"));
        });
    }

    [Test]
    public void User_certificates_have_Teleport_extensions_and_no_SANs()
    {
        using var rsaKey = RSA.Create(2048);
        using var rsaCertificate = Issue(BotBuilder(), rsaKey);
        using var ecCertificate = Issue(BotBuilder());
        var rsaText = OpenSsl("x509", "-in", WritePem(rsaCertificate, "rsa.pem"), "-noout", "-ext",
            "keyUsage,extendedKeyUsage,basicConstraints,subjectAltName,authorityKeyIdentifier");
        var ecText = OpenSsl("x509", "-in", WritePem(ecCertificate, "ec.pem"), "-noout", "-ext", "keyUsage,subjectAltName");
        var caKeyId = _ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier!;

        Assert.Multiple(() =>
        {
            Assert.That(rsaText, Does.Contain("X509v3 Key Usage: critical\n    Digital Signature, Key Encipherment"));
            Assert.That(rsaText, Does.Contain("TLS Web Server Authentication, TLS Web Client Authentication"));
            Assert.That(rsaText, Does.Contain("X509v3 Basic Constraints: critical\n    CA:FALSE"));
            Assert.That(rsaText.Replace(":", "", StringComparison.Ordinal), Does.Contain(caKeyId));
            Assert.That(rsaText, Does.Not.Contain("Subject Alternative Name"));
            Assert.That(ecText, Does.Contain("Digital Signature").And.Not.Contain("Key Encipherment"));
            Assert.That(ecText, Does.Not.Contain("Subject Alternative Name"));
        });

        var serial = ReadSerial(rsaCertificate);
        Assert.That(serial.Length, Is.InRange(1, 17), "at most 128 bits (plus a sign byte)");
        Assert.That(serial[0] != 0 || serial[1] > 0x7F, Is.True, "minimal positive INTEGER (a zero byte only as sign byte)");
        Assert.That(serial[0], Is.LessThan(0x80), "positive");
        Assert.That(rsaCertificate.SerialNumber, Is.Not.EqualTo(ecCertificate.SerialNumber));
    }

    [Test]
    public void Certificate_authority_is_self_signed_with_Teleport_subject()
    {
        using var rsaKey = RSA.Create(2048);
        using var authority = TeleportTlsCertificateBuilder.CreateCertificateAuthority("leaf.example", rsaKey, Now);
        var path = WritePem(authority, "rsa-ca.pem");

        var subject = OpenSsl("x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253");
        var serialDecimal = System.Numerics.BigInteger.Parse("0" + authority.SerialNumber, System.Globalization.NumberStyles.HexNumber);
        Assert.That(subject, Is.EqualTo($"subject=serialNumber={serialDecimal},CN=leaf.example,O=leaf.example"));
        var extensions = OpenSsl("x509", "-in", path, "-noout", "-ext", "keyUsage,basicConstraints,subjectKeyIdentifier");
        Assert.That(extensions, Does.Contain("critical\n    Digital Signature, Key Encipherment, Certificate Sign, CRL Sign"));
        Assert.That(extensions, Does.Contain("X509v3 Basic Constraints: critical\n    CA:TRUE"));
        Assert.That(extensions, Does.Contain("Subject Key Identifier"));
        Assert.That(OpenSsl("verify", "-attime", AtTime, "-CAfile", path, path), Is.EqualTo(path + ": OK"));
        Assert.That(authority.NotAfter.ToUniversalTime() - authority.NotBefore.ToUniversalTime(), Is.EqualTo(TimeSpan.FromDays(3650)));

        var identity = TeleportTlsIdentity.FromCertificate(authority);
        Assert.That(identity.ClusterName, Is.EqualTo("leaf.example"));
        Assert.That(identity.Username, Is.EqualTo("leaf.example"));

        // An RSA CA signs with SHA-256, as Go does.
        using var leaf = new TeleportTlsCertificateBuilder { Username = "alice" }
            .Issue(new PublicKey(_caKey), authority, rsaKey, Now, Now.AddHours(1));
        Assert.That(leaf.SignatureAlgorithm.Value, Is.EqualTo("1.2.840.113549.1.1.11"));
        Assert.That(OpenSsl("verify", "-attime", AtTime, "-CAfile", path, WritePem(leaf, "rsa-leaf.pem")), Does.EndWith(": OK"));
    }

    [Test]
    public void Server_certificate_has_Teleport_API_names_and_verifies_for_the_cluster_SNI()
    {
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var builder = TeleportTlsCertificateBuilder.ForServer(Cluster, "2f6a3e44-0c4c-4c36-9a5c-1f1f3c0b9f7e", "Auth", ["localhost", "127.0.0.1", "localhost"]);
        using var certificate = builder.Issue(new PublicKey(serverKey), _ca, _caKey, Now.AddMinutes(-1), Now.AddHours(1));
        var path = WritePem(certificate, "server.pem");

        var san = OpenSsl("x509", "-in", path, "-noout", "-ext", "subjectAltName");
        Assert.That(san, Does.EndWith("DNS:*.teleport.cluster.local, DNS:teleport.cluster.local, DNS:localhost, IP Address:127.0.0.1"));

        // The SNI Teleport clients send: hex(cluster name) + ".teleport.cluster.local".
        var sni = Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(Cluster)) + ".teleport.cluster.local";
        Assert.That(OpenSsl("verify", "-attime", AtTime, "-CAfile", Path.Combine(_workDir, "ca.pem"),
            "-verify_hostname", sni, path), Is.EqualTo(path + ": OK"));

        var identity = TeleportTlsIdentity.FromCertificate(certificate);
        Assert.That(identity.Username, Is.EqualTo("2f6a3e44-0c4c-4c36-9a5c-1f1f3c0b9f7e." + Cluster));
        Assert.That(identity.Roles, Is.EqualTo(new[] { "Auth" }));
        Assert.That(identity.TeleportCluster, Is.EqualTo(Cluster));
    }

    [Test]
    public void Issuer_key_must_match_the_issuer_certificate()
    {
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var builder = BotBuilder();
        Assert.Throws<ArgumentException>(() => builder.Issue(new PublicKey(otherKey), _ca, otherKey, Now, Now.AddHours(1)));
        Assert.Throws<InvalidOperationException>(() => new TeleportTlsCertificateBuilder().Issue(new PublicKey(otherKey), _ca, _caKey, Now, Now.AddHours(1)));
    }

    [Test]
    public void Issue_from_SubjectPublicKeyInfo_DER()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = BotBuilder().Issue(key.ExportSubjectPublicKeyInfo(), _ca, _caKey, Now, Now.AddHours(1));
        Assert.That(certificate.PublicKey.ExportSubjectPublicKeyInfo(), Is.EqualTo(key.ExportSubjectPublicKeyInfo()));
        Assert.Throws<TeleportFormatException>(() => BotBuilder().Issue([0x30, 0x03, 0x02, 0x01], _ca, _caKey, Now, Now.AddHours(1)));
        Assert.Throws<TeleportFormatException>(() => BotBuilder().Issue([.. key.ExportSubjectPublicKeyInfo(), 0x00], _ca, _caKey, Now, Now.AddHours(1)));
    }

    [Test]
    public void Garbage_and_truncated_input_is_a_format_error()
    {
        using var certificate = Issue(BotBuilder());
        var der = certificate.RawData;
        Assert.Multiple(() =>
        {
            Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromDer(der.AsSpan(0, der.Length / 2)));
            Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromDer([]));
            Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromDer("not a certificate"u8));
            Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromPem("hello"));
            Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
            Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromPem(new string('-', 5000)));
        });
    }

    [Test]
    public void Invalid_attribute_values_are_format_errors()
    {
        var badGeneration = BotBuilder();
        badGeneration.Generation = 0;
        badGeneration.OtherAttributes.Add(new("1.3.9999.1.14", "seven"));
        using var generationCertificate = Issue(badGeneration);
        var ex = Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromCertificate(generationCertificate));
        Assert.That(ex!.Message, Does.Contain("1.3.9999.1.14"));

        var badExpiry = BotBuilder();
        badExpiry.OtherAttributes.Add(new("1.3.9999.2.12", "yesterday"));
        using var expiryCertificate = Issue(badExpiry);
        Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromCertificate(expiryCertificate));

        var badJoin = BotBuilder();
        badJoin.JoinAttributesJson = "{not json";
        using var joinCertificate = Issue(badJoin);
        Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromCertificate(joinCertificate));

        var badTraits = BotBuilder();
        badTraits.OtherAttributes.Add(new("2.5.4.17", "x"));
        using var traitsCertificate = Issue(badTraits);
        // The first POSTALCODE wins (Go reads PostalCode[0]); this one is the builder's "{}".
        Assert.That(TeleportTlsIdentity.FromCertificate(traitsCertificate).Traits, Is.Empty);
    }

    [Test]
    public void Mutated_subjects_fail_only_with_format_errors()
    {
        using var certificate = Issue(ImpersonatedBuilder());
        var subject = certificate.SubjectName.RawData;
        var random = new Random(20250701);
        for (var i = 0; i < 5000; i++)
        {
            var mutated = (byte[])subject.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }

            var cut = random.Next(4) == 0 ? random.Next(mutated.Length) : mutated.Length;
            try
            {
                X500NameCodec.ReadAttributes(mutated.AsMemory(0, cut), "mutated subject");
            }
            catch (TeleportFormatException)
            {
                // expected for most mutations
            }
        }
    }

    [Test]
    public void Subject_without_CN_or_issuer_without_O_is_not_a_Teleport_identity()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var noCommonName = new CertificateRequest("O=admin", key, HashAlgorithmName.SHA256).CreateSelfSigned(Now, Now.AddHours(1));
        Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromCertificate(noCommonName));
        using var noOrganization = new CertificateRequest("CN=alice", key, HashAlgorithmName.SHA256).CreateSelfSigned(Now, Now.AddHours(1));
        Assert.Throws<TeleportFormatException>(() => TeleportTlsIdentity.FromCertificate(noOrganization));
    }

    [Test]
    public void Non_string_values_are_ignored_and_other_string_types_are_read()
    {
        // A subject as other encoders may write it: IA5String, BMPString, a SEQUENCE value (the
        // only non-string value OpenSSL loads), and a T61String, in multi-valued RDNs.
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSetOf())
            {
                using (writer.PushSequence())
                {
                    writer.WriteObjectIdentifier("2.5.4.10");
                    writer.WriteCharacterString(UniversalTagNumber.IA5String, "ia5-role");
                }

                using (writer.PushSequence())
                {
                    writer.WriteObjectIdentifier("2.5.4.10");
                    writer.WriteCharacterString(UniversalTagNumber.BMPString, "bmp-role");
                }

                using (writer.PushSequence())
                {
                    writer.WriteObjectIdentifier("2.5.4.10");
                    using (writer.PushSequence())
                    {
                        writer.WriteInteger(42);
                    }
                }
            }

            using (writer.PushSetOf())
            {
                using (writer.PushSequence())
                {
                    writer.WriteObjectIdentifier("2.5.4.3");
                    writer.WriteEncodedValue([0x14, 0x08, .. "t61-user"u8]); // T61String
                }
            }
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName(writer.Encode()), key, HashAlgorithmName.SHA256);
        using var certificate = request.Create(_ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey), Now, Now.AddHours(1), [1]);
        var identity = TeleportTlsIdentity.FromCertificate(certificate);
        Assert.That(identity.Username, Is.EqualTo("t61-user"));
        Assert.That(identity.Roles, Is.EquivalentTo(new[] { "ia5-role", "bmp-role" }));

        // Any other non-string value is skipped the same way.
        var integerValued = new AsnWriter(AsnEncodingRules.DER);
        using (integerValued.PushSequence())
        using (integerValued.PushSetOf())
        using (integerValued.PushSequence())
        {
            integerValued.WriteObjectIdentifier("2.5.4.3");
            integerValued.WriteInteger(42);
        }

        var attributes = X500NameCodec.ReadAttributes(integerValued.Encode(), "test name");
        Assert.That(attributes, Is.EqualTo(new[] { new X500Attribute("2.5.4.3", null) }));
        Assert.Throws<TeleportFormatException>(() => X500NameCodec.ReadAttributes(new byte[] { 0x30, 0x02, 0x31, 0x00 }, "test name"));
        Assert.Throws<TeleportFormatException>(() => X500NameCodec.ReadAttributes(new byte[] { 0x30, 0x05, 0x31 }, "test name"));
    }

    [Test]
    public void Traits_in_legacy_protobuf_form_are_read()
    {
        // wrappers.LabelValues { map<string, StringValues> Values = 1 }, StringValues { repeated string Values = 1 }
        var list = new MemoryStream();
        var listOut = new CodedOutputStream(list);
        listOut.WriteTag(1, WireFormat.WireType.LengthDelimited);
        listOut.WriteString("root");
        listOut.WriteTag(1, WireFormat.WireType.LengthDelimited);
        listOut.WriteString("admin");
        listOut.Flush();
        var entry = new MemoryStream();
        var entryOut = new CodedOutputStream(entry);
        entryOut.WriteTag(1, WireFormat.WireType.LengthDelimited);
        entryOut.WriteString("logins");
        entryOut.WriteTag(2, WireFormat.WireType.LengthDelimited);
        entryOut.WriteBytes(ByteString.CopyFrom(list.ToArray()));
        entryOut.Flush();
        var message = new MemoryStream();
        var messageOut = new CodedOutputStream(message);
        messageOut.WriteTag(1, WireFormat.WireType.LengthDelimited);
        messageOut.WriteBytes(ByteString.CopyFrom(entry.ToArray()));
        messageOut.Flush();

        var traits = TeleportTraitsCodec.Parse(System.Text.Encoding.UTF8.GetString(message.ToArray()));
        Assert.That(traits["logins"], Is.EqualTo(new[] { "root", "admin" }));
        Assert.That(TeleportTraitsCodec.Parse("null"), Is.Empty);
        Assert.That(TeleportTraitsCodec.Parse(""), Is.Empty);
        Assert.That(TeleportTraitsCodec.Parse("{\"a\":null,\"b\":[\"x\",null]}")["b"], Is.EqualTo(new[] { "x", "" }));
        Assert.Throws<TeleportFormatException>(() => TeleportTraitsCodec.Parse("{\"a\":1}"));
        Assert.Throws<TeleportFormatException>(() => TeleportTraitsCodec.Parse("{\"a\":[\"x\"]} trailing"));
    }

    private static string Hex(string value, bool withLength)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        var length = bytes.Length < 128 ? [(byte)bytes.Length] : new[] { (byte)0x81, (byte)bytes.Length };
        return Convert.ToHexString(withLength ? [.. length, .. bytes] : bytes);
    }

    private sealed record Attribute(string Oid, string Value, UniversalTagNumber Tag);

    private static List<List<Attribute>> ReadRdns(byte[] name)
    {
        var result = new List<List<Attribute>>();
        var sequence = new AsnReader(name, AsnEncodingRules.DER).ReadSequence();
        while (sequence.HasData)
        {
            var set = sequence.ReadSetOf();
            var rdn = new List<Attribute>();
            while (set.HasData)
            {
                var atv = set.ReadSequence();
                var oid = atv.ReadObjectIdentifier();
                var tag = (UniversalTagNumber)atv.PeekTag().TagValue;
                rdn.Add(new Attribute(oid, atv.ReadCharacterString(tag), tag));
            }

            result.Add(rdn);
        }

        return result;
    }

    private static byte[] ReadSerial(X509Certificate2 certificate)
    {
        var tbs = new AsnReader(certificate.RawData, AsnEncodingRules.DER).ReadSequence().ReadSequence();
        tbs.ReadEncodedValue(); // [0] version
        return tbs.ReadIntegerBytes().ToArray();
    }
}
