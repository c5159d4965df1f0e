using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// Teleport CA pins: <c>sha256:&lt;lowercase hex of SHA-256(SubjectPublicKeyInfo DER)&gt;</c>, as
/// printed by <c>tctl status</c> and configured as <c>onboarding.ca_pins</c>. Used to trust the Auth
/// service's CA certificates when joining directly to Auth (teleport-protocol.md §3.4).
/// </summary>
public static class CaPins
{
    /// <summary>The only supported pin algorithm prefix.</summary>
    public const string Prefix = "sha256:";

    private const int DigestLength = 32;

    /// <summary>Computes the pin of a certificate from its SubjectPublicKeyInfo exactly as encoded in the certificate.</summary>
    /// <param name="certificate">The CA certificate.</param>
    /// <returns>The pin, <c>sha256:</c> followed by 64 lowercase hex digits.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="certificate"/> is null.</exception>
    /// <exception cref="TeleportFormatException">The certificate encoding is malformed.</exception>
    public static string Compute(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Span<byte> digest = stackalloc byte[DigestLength];
        Digest(certificate, digest);
        return Format(digest);
    }

    /// <summary>Computes the pin of a DER SubjectPublicKeyInfo.</summary>
    /// <param name="subjectPublicKeyInfo">The DER bytes of the SubjectPublicKeyInfo.</param>
    /// <returns>The pin, <c>sha256:</c> followed by 64 lowercase hex digits.</returns>
    public static string Compute(ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        Span<byte> digest = stackalloc byte[DigestLength];
        SHA256.HashData(subjectPublicKeyInfo, digest);
        return Format(digest);
    }

    /// <summary>Whether <paramref name="pin"/> is a well-formed pin (<c>sha256:</c> and 64 hex digits, either case).</summary>
    /// <param name="pin">The text to check.</param>
    /// <returns><see langword="true"/> when it can be used as a pin.</returns>
    public static bool IsValid(string? pin)
    {
        Span<byte> digest = stackalloc byte[DigestLength];
        return pin is not null && TryDecode(pin, digest);
    }

    /// <summary>Validates a pin and returns its canonical (lowercase) form.</summary>
    /// <param name="pin">The pin as configured.</param>
    /// <returns>The canonical pin.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pin"/> is null.</exception>
    /// <exception cref="TeleportFormatException">The pin is not <c>sha256:</c> followed by 64 hex digits.</exception>
    public static string Normalize(string pin)
    {
        ArgumentNullException.ThrowIfNull(pin);
        Span<byte> digest = stackalloc byte[DigestLength];
        Decode(pin, digest);
        return Format(digest);
    }

    /// <summary>
    /// Checks CA certificates against pins the way Teleport's <c>CheckSPKI</c> does: every
    /// certificate must match at least one pin (constant-time comparison), and every certificate
    /// must be within its validity period at <paramref name="now"/>.
    /// </summary>
    /// <param name="pins">The configured pins (at least one).</param>
    /// <param name="certificates">The CA certificates the server presented (at least one).</param>
    /// <param name="now">The current time (from a <see cref="TimeProvider"/>).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pins"/> is empty.</exception>
    /// <exception cref="TeleportFormatException">A pin is malformed, or a certificate encoding is.</exception>
    /// <exception cref="CertificateValidationException">
    /// No certificate was given or one matches no pin (<see cref="CertificateValidationFailure.UntrustedAuthority"/>),
    /// or one is outside its validity (<see cref="CertificateValidationFailure.Expired"/>, <see cref="CertificateValidationFailure.NotYetValid"/>).
    /// </exception>
    public static void Verify(IEnumerable<string> pins, IEnumerable<X509Certificate2> certificates, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(pins);
        ArgumentNullException.ThrowIfNull(certificates);
        var pinList = pins.ToList();
        if (pinList.Count == 0)
        {
            throw new ArgumentException("At least one CA pin is needed.", nameof(pins));
        }

        var expected = new byte[pinList.Count * DigestLength];
        for (var i = 0; i < pinList.Count; i++)
        {
            Decode(pinList[i] ?? throw new ArgumentException("A CA pin is null.", nameof(pins)),
                expected.AsSpan(i * DigestLength, DigestLength));
        }

        var certificateList = certificates.ToList();
        if (certificateList.Count == 0)
        {
            throw new CertificateValidationException(CertificateValidationFailure.UntrustedAuthority,
                "The server presented no CA certificates, so none can match the configured CA pins.");
        }

        Span<byte> actual = stackalloc byte[DigestLength];
        foreach (var certificate in certificateList)
        {
            ArgumentNullException.ThrowIfNull(certificate, nameof(certificates));
            Digest(certificate, actual);

            // Timing depends only on the number of pins, not on which one matches.
            var matched = false;
            for (var i = 0; i < pinList.Count; i++)
            {
                matched |= CryptographicOperations.FixedTimeEquals(actual, expected.AsSpan(i * DigestLength, DigestLength));
            }

            if (!matched)
            {
                throw new CertificateValidationException(CertificateValidationFailure.UntrustedAuthority,
                    $"The cluster CA certificate '{certificate.Subject}' has pin {Format(actual)}, which matches none of the " +
                    $"{pinList.Count} configured CA pin(s). If the cluster's CA was rotated or an HSM key was added, the old pin " +
                    "is no longer valid: run 'tctl status' on the cluster and compare its CA pin(s) with the configured ones.");
            }

            var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
            if (now < notBefore)
            {
                throw new CertificateValidationException(CertificateValidationFailure.NotYetValid,
                    $"The cluster CA certificate '{certificate.Subject}' (pin {Format(actual)}) is not valid before " +
                    $"{notBefore:O}, but the time here is {now.ToUniversalTime():O}; check this machine's clock.");
            }

            if (now > notAfter)
            {
                throw new CertificateValidationException(CertificateValidationFailure.Expired,
                    $"The cluster CA certificate '{certificate.Subject}' (pin {Format(actual)}) expired at {notAfter:O} " +
                    $"(time here: {now.ToUniversalTime():O}); the cluster's CA must be rotated, or this machine's clock is wrong.");
            }
        }
    }

    private static void Digest(X509Certificate2 certificate, Span<byte> digest)
    {
        SHA256.HashData(ReadSubjectPublicKeyInfo(certificate.RawDataMemory), digest);
    }

    /// <summary>The SubjectPublicKeyInfo exactly as encoded in the certificate (Go's RawSubjectPublicKeyInfo).</summary>
    private static ReadOnlySpan<byte> ReadSubjectPublicKeyInfo(ReadOnlyMemory<byte> certificate)
    {
        try
        {
            var reader = new AsnReader(certificate, AsnEncodingRules.DER);
            var tbs = reader.ReadSequence().ReadSequence();
            var version = new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true);
            if (tbs.PeekTag().HasSameClassAndValue(version))
            {
                tbs.ReadEncodedValue();
            }

            tbs.ReadEncodedValue(); // serialNumber
            tbs.ReadEncodedValue(); // signature
            tbs.ReadEncodedValue(); // issuer
            tbs.ReadEncodedValue(); // validity
            tbs.ReadEncodedValue(); // subject
            return tbs.ReadEncodedValue().Span;
        }
        catch (AsnContentException ex)
        {
            throw new TeleportFormatException("The CA certificate is not a well-formed DER X.509 certificate.", ex);
        }
    }

    private static void Decode(string pin, Span<byte> digest)
    {
        if (!TryDecode(pin, digest))
        {
            // Pins are public (tctl status prints them), so echoing the value is safe and helps.
            throw new TeleportFormatException(
                $"The CA pin '{pin}' is malformed: expected '{Prefix}' followed by 64 hexadecimal digits, as printed by 'tctl status'.");
        }
    }

    private static bool TryDecode(string pin, Span<byte> digest)
    {
        var text = pin.AsSpan().Trim();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var hex = text[Prefix.Length..];
        return hex.Length == DigestLength * 2
            && Convert.FromHexString(hex, digest, out var consumed, out var written) == System.Buffers.OperationStatus.Done
            && consumed == hex.Length
            && written == DigestLength;
    }

    private static string Format(ReadOnlySpan<byte> digest) => Prefix + Convert.ToHexStringLower(digest);
}
