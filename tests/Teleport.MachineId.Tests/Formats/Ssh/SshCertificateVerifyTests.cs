using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Formats.Crypto;

namespace Teleport.MachineId.Tests.Formats.Ssh;

public sealed class SshCertificateVerifyTests
{
    private static readonly DateTimeOffset During = TestCertificates.ValidAfter.AddHours(1);

    private static IEnumerable<TestCaseData> Signers() =>
        TestCertificates.Signers.Select(s => new TestCaseData(s.Ca, s.Signature).SetArgDisplayNames(s.Ca.ToString(), s.Signature));

    [TestCaseSource(nameof(Signers))]
    public void Accepts_a_valid_certificate(KeyAlgorithm ca, string signature)
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, ca, signature);
        certificate.Verify([TestKeys.Get(KeyAlgorithm.Ed25519, 3).PublicKey, TestCertificates.CaKey(ca)], During, SshCertificateType.User, "root");
        certificate.Verify([TestCertificates.CaKey(ca)], During);
        Assert.That(certificate.VerifySignature(), Is.True);
    }

    [TestCaseSource(nameof(Signers))]
    public void Rejects_a_tampered_signature(KeyAlgorithm ca, string signature)
    {
        var wire = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, ca, signature).ToWire();
        wire[^3] ^= 0x01;
        var tampered = SshCertificate.FromWire(wire);
        Assert.That(tampered.VerifySignature(), Is.False);
        AssertFailure(() => tampered.Verify([TestCertificates.CaKey(ca)], During), CertificateValidationFailure.InvalidSignature);
    }

    [TestCaseSource(nameof(Signers))]
    public void Rejects_a_tampered_body(KeyAlgorithm ca, string signature)
    {
        var wire = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, ca, signature).ToWire();
        var keyId = SshCertificateTests.IndexOf(wire, "bot-robot"u8.ToArray());
        wire[keyId] = (byte)'B';
        var tampered = SshCertificate.FromWire(wire);
        Assert.That(tampered.KeyId, Is.EqualTo("Bot-robot"));
        AssertFailure(() => tampered.Verify([TestCertificates.CaKey(ca)], During), CertificateValidationFailure.InvalidSignature);
    }

    [Test]
    public void Rejects_a_signature_algorithm_that_does_not_fit_the_CA_key()
    {
        var wire = TestCertificates.Sign(KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP384).ToWire();
        // Relabel the ecdsa-sha2-nistp384 signature (the last occurrence of the name) as nistp256.
        var signatureName = wire.AsSpan().LastIndexOf("ecdsa-sha2-nistp384"u8);
        "256"u8.CopyTo(wire.AsSpan(signatureName + 16));
        var relabeled = SshCertificate.FromWire(wire);
        Assert.That(relabeled.SignatureAlgorithm, Is.EqualTo("ecdsa-sha2-nistp256"));
        Assert.That(relabeled.VerifySignature(), Is.False);
    }

    [Test]
    public void Rejects_an_untrusted_CA_even_with_a_valid_signature()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        Assert.That(certificate.VerifySignature(), Is.True);
        AssertFailure(() => certificate.Verify([TestKeys.Get(KeyAlgorithm.Ed25519, 3).PublicKey], During), CertificateValidationFailure.UntrustedAuthority);
        AssertFailure(() => certificate.Verify([], During), CertificateValidationFailure.UntrustedAuthority);
    }

    [Test]
    public void Checks_the_validity_period_in_whole_seconds_with_an_exclusive_end()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        var trusted = new[] { TestCertificates.CaKey(KeyAlgorithm.Ed25519) };
        certificate.Verify(trusted, TestCertificates.ValidAfter);
        certificate.Verify(trusted, TestCertificates.ValidBefore.AddTicks(-TimeSpan.TicksPerSecond));
        AssertFailure(() => certificate.Verify(trusted, TestCertificates.ValidAfter.AddTicks(-1)), CertificateValidationFailure.NotYetValid);
        AssertFailure(() => certificate.Verify(trusted, TestCertificates.ValidBefore), CertificateValidationFailure.Expired);
        AssertFailure(() => certificate.Verify(trusted, TestCertificates.ValidBefore.AddDays(30)), CertificateValidationFailure.Expired);
        AssertFailure(() => certificate.Verify(trusted, DateTimeOffset.UnixEpoch.AddDays(-1)), CertificateValidationFailure.NotYetValid);
    }

    [Test]
    public void Checks_the_certificate_type()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        AssertFailure(
            () => certificate.Verify([TestCertificates.CaKey(KeyAlgorithm.Ed25519)], During, SshCertificateType.Host),
            CertificateValidationFailure.WrongType);
    }

    [Test]
    public void User_certificates_need_an_exact_principal()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        var trusted = new[] { TestCertificates.CaKey(KeyAlgorithm.Ed25519) };
        certificate.Verify(trusted, During, principal: "-teleport-internal-join");
        AssertFailure(() => certificate.Verify(trusted, During, principal: "admin"), CertificateValidationFailure.PrincipalNotAllowed);
        AssertFailure(() => certificate.Verify(trusted, During, principal: "Root"), CertificateValidationFailure.PrincipalNotAllowed);
        AssertFailure(() => certificate.Verify(trusted, During, principal: "roo*"), CertificateValidationFailure.PrincipalNotAllowed);

        var noPrincipals = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey }.Sign(TestKeys.Get(KeyAlgorithm.Ed25519, 7));
        noPrincipals.Verify(trusted, During);
        AssertFailure(() => noPrincipals.Verify(trusted, During, principal: "root"), CertificateValidationFailure.PrincipalNotAllowed);
    }

    [Test]
    public void Host_certificates_allow_wildcard_principals_and_an_empty_list()
    {
        var ca = TestKeys.Get(KeyAlgorithm.Ed25519, 7);
        var trusted = new[] { ca.PublicKey };
        var wildcard = new SshCertificateBuilder
        {
            PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey,
            Type = SshCertificateType.Host,
            Principals = { "*.example.com", "node-?" },
        }.Sign(ca);
        wildcard.Verify(trusted, During, SshCertificateType.Host, "a.b.example.com");
        wildcard.Verify(trusted, During, SshCertificateType.Host, "node-7");
        AssertFailure(() => wildcard.Verify(trusted, During, SshCertificateType.Host, "example.org"), CertificateValidationFailure.PrincipalNotAllowed);
        AssertFailure(() => wildcard.Verify(trusted, During, SshCertificateType.Host, "node-17"), CertificateValidationFailure.PrincipalNotAllowed);

        var empty = new SshCertificateBuilder { PublicKey = TestKeys.Get(KeyAlgorithm.Ed25519).PublicKey, Type = SshCertificateType.Host }.Sign(ca);
        empty.Verify(trusted, During, SshCertificateType.Host, "anything");
    }

    [Test]
    public void Untrusted_authority_is_reported_before_other_problems()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        AssertFailure(
            () => certificate.Verify([TestKeys.Get(KeyAlgorithm.EcdsaP256, 3).PublicKey], DateTimeOffset.MaxValue, SshCertificateType.Host, "nobody"),
            CertificateValidationFailure.UntrustedAuthority);
    }

    [Test]
    public void Messages_name_the_certificate_but_not_its_bytes()
    {
        var certificate = TestCertificates.Sign(KeyAlgorithm.EcdsaP256, KeyAlgorithm.Ed25519);
        var ex = Assert.Throws<CertificateValidationException>(() => certificate.Verify([TestCertificates.CaKey(KeyAlgorithm.Ed25519)], TestCertificates.ValidBefore));
        Assert.That(ex!.Message, Does.Contain("bot-robot").And.Contain("expired"));
        Assert.That(ex.Message, Does.Not.Contain(certificate.ToAuthorizedKey().Split(' ')[1][..16]));
    }

    private static void AssertFailure(Action action, CertificateValidationFailure expected)
    {
        var ex = Assert.Throws<CertificateValidationException>(action);
        Assert.That(ex!.Failure, Is.EqualTo(expected), ex.Message);
    }
}
