using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Tests.Formats.IdentityFiles;

/// <summary>
/// Teleport's own identity-file fixtures (TestData/IdentityFiles, see PROVENANCE.md) must read as
/// tsh reads them; files we write must have tbot's layout and read back.
/// </summary>
public sealed class IdentityFileTests
{
    private const string RsaCertType = "ssh-rsa-cert-v01@openssh.com";

    private static string FixturePath(string name) =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "IdentityFiles", name);

    private static string Fixture(string name) => File.ReadAllText(FixturePath(name));

    private static string FirstLineStartingWith(string text, string prefix) =>
        text.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));

    [Test]
    public void Key_cert_ca_pem_has_key_ssh_certificate_and_one_host_CA_with_proxy()
    {
        var file = IdentityFileReader.Parse(Fixture("key-cert-ca.pem"));
        Assert.Multiple(() =>
        {
            Assert.That(file.PrivateKeyPemLabel, Is.EqualTo("RSA PRIVATE KEY"));
            Assert.That(file.PrivateKeyPem, Does.StartWith("-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAvensowyZI/NJNiSdopl0E12+FX4xFx8TwpV+LsNE4e3Sejcb\n"));
            Assert.That(file.PrivateKeyPem, Does.EndWith("-----END RSA PRIVATE KEY-----\n"));
            Assert.That(file.SshCertificateType, Is.EqualTo(RsaCertType));
            Assert.That(file.SshCertificate, Is.EqualTo(FirstLineStartingWith(Fixture("key-cert-ca.pem"), RsaCertType)));
            Assert.That(file.TlsCertificatePem, Is.Null);
            Assert.That(file.TlsCertificateAuthorityPems, Is.Empty);
            Assert.That(file.SshCertificateAuthorities, Has.Count.EqualTo(1));
            var ca = file.SshCertificateAuthorities[0];
            Assert.That(ca.HostPatterns, Is.EqualTo(new[] { "proxy.example.com", "turing.local", "*.turing.local" }));
            Assert.That(ca.KeyType, Is.EqualTo("ssh-rsa"));
            Assert.That(ca.PublicKey, Does.StartWith("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDEk4cVIiydp9xSPIb8UqXpShY8zPlk"));
            Assert.That(ca.Comment, Is.EqualTo("type=host"));
        });
    }

    [Test]
    public void Key_cert_pem_and_cert_key_pem_hold_the_same_identity_in_either_order()
    {
        var keyFirst = IdentityFileReader.Parse(Fixture("key-cert.pem"));
        var certFirst = IdentityFileReader.Parse(Fixture("cert-key.pem"));
        Assert.Multiple(() =>
        {
            Assert.That(keyFirst.PrivateKeyPemLabel, Is.EqualTo("RSA PRIVATE KEY"));
            Assert.That(keyFirst.SshCertificateType, Is.EqualTo(RsaCertType));
            Assert.That(keyFirst.TlsCertificatePem, Is.Null);
            Assert.That(keyFirst.SshCertificateAuthorities, Is.Empty);
            Assert.That(certFirst.PrivateKeyPem, Is.EqualTo(keyFirst.PrivateKeyPem));
            Assert.That(certFirst.SshCertificate, Is.EqualTo(keyFirst.SshCertificate));
            Assert.That(certFirst.TlsCertificatePem, Is.Null);
            Assert.That(certFirst.SshCertificateAuthorities, Is.Empty);
        });
    }

    [Test]
    public void Tls_pem_has_every_part()
    {
        var file = IdentityFileReader.Parse(Fixture("tls.pem"));
        Assert.Multiple(() =>
        {
            Assert.That(file.PrivateKeyPemLabel, Is.EqualTo("RSA PRIVATE KEY"));
            Assert.That(file.SshCertificateType, Is.EqualTo(RsaCertType));
            Assert.That(file.TlsCertificatePem, Does.StartWith("-----BEGIN CERTIFICATE-----\nMIIDZTCCAk2gAwIBAgIRAIum76V6DLKPIVIPYpyAmpgw"));
            Assert.That(file.SshCertificateAuthorities.Single().HostPatterns, Is.EqualTo(new[] { "one", "*.one" }));
            Assert.That(file.SshCertificateAuthorities.Single().Comment, Is.EqualTo("type=host"));
            Assert.That(file.TlsCertificateAuthorityPems, Has.Count.EqualTo(1));
            Assert.That(file.TlsCertificateAuthorityPems[0], Does.StartWith("-----BEGIN CERTIFICATE-----\nMIIDRzCCAi+gAwIBAgIQILyIgAjdO7VYSDg9"));
        });

        var tls = TeleportTlsIdentity.FromPem(file.TlsCertificatePem!);
        using var ca = X509Certificate2.CreateFromPem(file.TlsCertificateAuthorityPems[0]);
        Assert.That(tls.Username, Is.EqualTo("alice"));
        Assert.That(tls.ClusterName, Is.EqualTo("one"));
        Assert.That(ca.Subject, Does.Contain("CN=one"));
    }

    [Test]
    public async Task Key_with_its_cert_pub_beside_it_reads_like_tsh()
    {
        // "key" alone has no SSH certificate; tsh then reads "key-cert.pub" next to it.
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(Fixture("key")));
        var file = await IdentityFileReader.ReadFileAsync(FixturePath("key"));
        Assert.Multiple(() =>
        {
            Assert.That(file.PrivateKeyPemLabel, Is.EqualTo("RSA PRIVATE KEY"));
            Assert.That(file.PrivateKeyPem, Does.StartWith("-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEA2CJktK9jHIrhDEawPr+ougXb6YqoBH6u/iuYcS4CsenvA0No\n"));
            Assert.That(file.SshCertificate, Is.EqualTo(Fixture("key-cert.pub").Trim()));
            Assert.That(file.SshCertificateType, Is.EqualTo(RsaCertType));
            Assert.That(file.TlsCertificatePem, Is.Null);
        });
    }

    [Test]
    public void Lone_key_is_refused_like_tsh_does()
    {
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(Fixture("lonekey")));
        var ex = Assert.ThrowsAsync<TeleportFormatException>(() => IdentityFileReader.ReadFileAsync(FixturePath("lonekey")));
        Assert.That(ex!.Message, Does.Contain("lonekey-cert.pub").And.Contain("no SSH certificate"));
        Assert.That(ex.Message, Does.Not.Contain("MIIE"), "no key material in messages");
    }

    [Test]
    public void Key_cert_pub_alone_has_no_private_key()
    {
        var ex = Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(Fixture("key-cert.pub")));
        Assert.That(ex!.Message, Does.Contain("no private key"));
    }

    [Test]
    public void Ca_pem_is_a_known_hosts_cert_authority_line()
    {
        var line = Fixture("ca.pem");
        var ca = KnownHostsCertAuthority.Parse(line);
        Assert.Multiple(() =>
        {
            Assert.That(ca.HostPatterns, Is.EqualTo(new[] { "*.turing.local" }));
            Assert.That(ca.KeyType, Is.EqualTo("ssh-rsa"));
            Assert.That(ca.Comment, Is.EqualTo("type=host"));
            Assert.That(ca.ToString(), Is.EqualTo(line.TrimEnd('\n')));
            // The same CA key as in key-cert-ca.pem.
            Assert.That(ca.PublicKey, Is.EqualTo(IdentityFileReader.Parse(Fixture("key-cert-ca.pem")).SshCertificateAuthorities[0].PublicKey));
        });

        // As an identity file it holds neither a key nor a certificate.
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(line));
    }

    [TestCase("key-cert-ca.pem")]
    [TestCase("key-cert.pem")]
    [TestCase("tls.pem")]
    public void Fixtures_in_tbot_layout_are_written_back_byte_for_byte(string name)
    {
        var text = Fixture(name);
        Assert.That(IdentityFileWriter.Write(IdentityFileReader.Parse(text)), Is.EqualTo(text));
    }

    [Test]
    public void Cert_first_fixture_is_rewritten_in_tbot_order_and_reads_back()
    {
        var written = IdentityFileWriter.Write(IdentityFileReader.Parse(Fixture("cert-key.pem")));
        Assert.That(written, Is.EqualTo(Fixture("key-cert.pem")));
    }

    [Test]
    public void Written_identity_has_tbot_layout_and_is_read_by_OpenSSH_and_back()
    {
        var sshKeygen = OpenSshTools.SshKeygen;
        var dir = Directory.CreateTempSubdirectory("identity-file-");
        try
        {
            // Real material: an ECDSA key (PKCS#8, as tbot stores it) with an SSH user certificate
            // signed by ssh-keygen, a TLS certificate for the same key, and host CAs.
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var keyPem = key.ExportPkcs8PrivateKeyPem() + "\n";
            var keyPath = Path.Combine(dir.FullName, "key");
            File.WriteAllText(keyPath, keyPem);
            OwnerOnly(keyPath);
            var publicKey = Run(sshKeygen, "-y", "-f", keyPath).Trim();
            File.WriteAllText(keyPath + ".pub", publicKey + "\n");
            Run(sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "user_ca", "-f", Path.Combine(dir.FullName, "user_ca"));
            Run(sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", "host_ca", "-f", Path.Combine(dir.FullName, "host_ca"));
            Run(sshKeygen, "-q", "-s", Path.Combine(dir.FullName, "user_ca"), "-I", "bot-robot", "-n", "root", "-V", "-5m:+1h", keyPath + ".pub");
            var sshCertificate = File.ReadAllText(keyPath + "-cert.pub").Trim();
            var hostCa = File.ReadAllText(Path.Combine(dir.FullName, "host_ca.pub")).Trim();

            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var now = DateTimeOffset.UtcNow;
            using var tlsCa = TeleportTlsCertificateBuilder.CreateCertificateAuthority("tele.example.com", caKey, now.AddDays(-1));
            var tlsBuilder = new TeleportTlsCertificateBuilder { Username = "bot-robot" };
            using var tls = tlsBuilder.Issue(new PublicKey(key), tlsCa, caKey, now.AddMinutes(-1), now.AddHours(1));

            var model = new IdentityFile(
                keyPem,
                sshCertificate + "\n",
                tls.ExportCertificatePem(),
                [KnownHostsCertAuthority.ForCluster("tele.example.com", hostCa), KnownHostsCertAuthority.ForCluster("leaf.example.com", hostCa)],
                [tlsCa.ExportCertificatePem()]);
            var text = IdentityFileWriter.Write(model);

            var hostCaKey = string.Join(' ', hostCa.Split(' ').Take(2));
            var expected = keyPem
                + sshCertificate + "\n"
                + tls.ExportCertificatePem() + "\n"
                + "@cert-authority tele.example.com,*.tele.example.com " + hostCaKey + " type=host\n"
                + "@cert-authority leaf.example.com,*.leaf.example.com " + hostCaKey + " type=host\n"
                + tlsCa.ExportCertificatePem() + "\n";
            Assert.That(text, Is.EqualTo(expected));

            // OpenSSH itself reads the private key out of the identity file.
            var identityPath = Path.Combine(dir.FullName, "identity");
            File.WriteAllText(identityPath, text);
            OwnerOnly(identityPath);
            Assert.That(Run(sshKeygen, "-y", "-f", identityPath).Trim(), Is.EqualTo(publicKey));
            // and the certificate line is a valid OpenSSH certificate.
            File.WriteAllText(Path.Combine(dir.FullName, "from-identity-cert.pub"), model.SshCertificate + "\n");
            Assert.That(Run(sshKeygen, "-L", "-f", Path.Combine(dir.FullName, "from-identity-cert.pub")), Does.Contain("Key ID: \"bot-robot\""));

            var back = IdentityFileReader.Parse(text);
            Assert.Multiple(() =>
            {
                Assert.That(back.PrivateKeyPem, Is.EqualTo(model.PrivateKeyPem));
                Assert.That(back.PrivateKeyPemLabel, Is.EqualTo("PRIVATE KEY"));
                Assert.That(back.SshCertificate, Is.EqualTo(sshCertificate));
                Assert.That(back.SshCertificateType, Is.EqualTo("ecdsa-sha2-nistp256-cert-v01@openssh.com"));
                Assert.That(back.TlsCertificatePem, Is.EqualTo(model.TlsCertificatePem));
                Assert.That(back.SshCertificateAuthorities.Select(c => c.ToString()), Is.EqualTo(model.SshCertificateAuthorities.Select(c => c.ToString())));
                Assert.That(back.TlsCertificateAuthorityPems, Is.EqualTo(model.TlsCertificateAuthorityPems));
                Assert.That(IdentityFileWriter.Write(back), Is.EqualTo(text));
            });
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void CRLF_and_indented_lines_are_read_like_Teleports_scanner()
    {
        var text = Fixture("tls.pem");
        var messy = "# comment lines and blank lines are ignored\r\n\r\n"
            + string.Join("\r\n", text.Split('\n').Select(l => l.Length > 0 ? "  " + l + " \t" : l));
        var file = IdentityFileReader.Parse(messy);
        Assert.That(IdentityFileWriter.Write(file), Is.EqualTo(text));
    }

    [Test]
    public void Last_SSH_certificate_line_wins_as_in_Teleport()
    {
        var first = IdentityFileReader.Parse(Fixture("key-cert.pem")).SshCertificate;
        var second = Fixture("key-cert.pub").Trim();
        var file = IdentityFileReader.Parse(Fixture("key-cert.pem") + second + "\n");
        Assert.That(file.SshCertificate, Is.EqualTo(second).And.Not.EqualTo(first));
    }

    [Test]
    public void Truncated_files_fail_with_format_errors_that_name_the_part()
    {
        var text = Fixture("tls.pem");
        var insideKey = Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(text[..500]));
        Assert.That(insideKey!.Message, Does.Contain("line 1").And.Contain("truncated"));

        var keyEnd = text.IndexOf("-----END RSA PRIVATE KEY-----\n", StringComparison.Ordinal) + 30;
        var afterKey = Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(text[..keyEnd]));
        Assert.That(afterKey!.Message, Does.Contain("no SSH certificate"));

        var insideCert = Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(text[..(keyEnd + 700)]));
        Assert.That(insideCert!.Message, Does.Contain("SSH certificate on line 28"));

        var caLine = text.IndexOf("@cert-authority", StringComparison.Ordinal);
        var insideCa = Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(text[..(caLine + 200)]));
        Assert.That(insideCa!.Message, Does.Contain("@cert-authority entry"));
    }

    [Test]
    public void Every_truncation_and_mutation_is_a_format_error_or_a_valid_file()
    {
        var text = Fixture("tls.pem");
        for (var length = 0; length <= text.Length; length++)
        {
            ParseOrFormatError(text[..length]);
        }

        var random = new Random(6020);
        for (var i = 0; i < 3000; i++)
        {
            var chars = text.ToCharArray();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
            {
                chars[random.Next(chars.Length)] = (char)random.Next(0, 128);
            }

            ParseOrFormatError(new string(chars));
        }

        var garbage = new byte[4096];
        random.NextBytes(garbage);
        ParseOrFormatError(System.Text.Encoding.Latin1.GetString(garbage));
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(""));
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse("ssh-rsa-cert-v01@openssh.com"));
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse("ssh-rsa-cert-v01@openssh.com AAAA"));
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse("@cert-authority"));
        Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse("-----BEGIN"));
    }

    private static void ParseOrFormatError(string content)
    {
        try
        {
            IdentityFileReader.Parse(content);
        }
        catch (TeleportFormatException)
        {
        }
    }

    [Test]
    public void Parts_of_the_wrong_kind_are_refused()
    {
        var text = Fixture("tls.pem");
        var certificateBlockStart = text.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal);
        // Without the key, the TLS certificate becomes the first PEM block: it is not a private key.
        var ex = Assert.Throws<TeleportFormatException>(() => IdentityFileReader.Parse(text[certificateBlockStart..]));
        Assert.That(ex!.Message, Does.Contain("'CERTIFICATE'").And.Contain("private key"));

        var model = IdentityFileReader.Parse(text);
        Assert.Throws<ArgumentException>(() => new IdentityFile(model.TlsCertificatePem!, model.SshCertificate));
        Assert.Throws<ArgumentException>(() => new IdentityFile(model.PrivateKeyPem, "ssh-rsa AAAA"));
        Assert.Throws<ArgumentException>(() => new IdentityFile(model.PrivateKeyPem, model.SshCertificate, model.PrivateKeyPem));
        Assert.Throws<ArgumentException>(() => new IdentityFile(model.PrivateKeyPem, model.SshCertificate, null, null, ["not pem"]));
    }

    private static void OwnerOnly(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // ssh refuses readable keys
        }
    }

    private static string Run(string program, params string[] arguments)
    {
        var result = FormatsProcess.Run(program, arguments);
        Assert.That(result.ExitCode, Is.Zero, $"{program} {string.Join(' ', arguments)}: {result.StandardError}");
        return result.StandardOutput;
    }
}
