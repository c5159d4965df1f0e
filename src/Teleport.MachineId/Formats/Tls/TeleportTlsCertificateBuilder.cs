using System.Formats.Asn1;
using System.Globalization;
using System.Net;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Teleport.MachineId.Tls;

/// <summary>
/// Issues X.509 certificates that carry a Teleport identity, encoded the way Teleport's Auth
/// service encodes them, so that Teleport (and <see cref="TeleportTlsIdentity"/>) read them back.
/// Used by the cluster emulator; set the identity properties, then call <see cref="Issue(PublicKey, X509Certificate2, AsymmetricAlgorithm, DateTimeOffset, DateTimeOffset)"/>.
/// </summary>
/// <remarks>
/// <para>Subject encoding follows Go's <c>pkix.Name</c>: RDNs in the order L, STREET, POSTALCODE,
/// O, OU, CN (C and ST are never set by Teleport), then the Teleport attributes, each in its own
/// RDN, in Teleport's order. An attribute with several values (roles, principals, usage) is one
/// multi-valued RDN, whose values DER sorts by encoding. Strings are PrintableString when Go
/// would choose it, otherwise UTF8String. STREET (route-to-cluster, possibly empty) and POSTALCODE
/// (traits JSON) are always present, as in Teleport.</para>
/// <para>Certificates get a random 128-bit serial, ExtKeyUsage ServerAuth + ClientAuth, KeyUsage
/// DigitalSignature (+ KeyEncipherment for RSA subject keys), critical non-CA basic constraints,
/// the issuer's key identifier, and subject alternative names only when <see cref="DnsNames"/>
/// is not empty (user certificates have none). A builder is not thread-safe; issued certificates are.</para>
/// </remarks>
public sealed class TeleportTlsCertificateBuilder
{
    /// <summary>The SAN Teleport puts into every Auth and Proxy certificate, with its wildcard form.</summary>
    public const string ApiDomain = "teleport.cluster.local";

    private static readonly TimeSpan DefaultAuthorityValidity = TimeSpan.FromDays(3650);

    /// <summary>The Teleport user name (CN); required.</summary>
    public string Username { get; set; } = string.Empty;

    /// <summary>Role names (O).</summary>
    public IList<string> Roles { get; } = new List<string>();

    /// <summary>Usage restrictions (OU).</summary>
    public IList<string> Usage { get; } = new List<string>();

    /// <summary>SSH logins (L).</summary>
    public IList<string> Principals { get; } = new List<string>();

    /// <summary>The cluster to route to (STREET); <see langword="null"/> writes the empty value Teleport uses for the issuing cluster.</summary>
    public string? RouteToCluster { get; set; }

    /// <summary>User traits (POSTALCODE), encoded as Go's JSON of <c>map[string][]string</c> (keys sorted).</summary>
    public IDictionary<string, IReadOnlyList<string>> Traits { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>System roles (1.3.9999.2.11), one RDN each.</summary>
    public IList<string> SystemRoles { get; } = new List<string>();

    /// <summary>Whether the certificate may renew itself (1.3.9999.1.13).</summary>
    public bool IsRenewable { get; set; }

    /// <summary>The Teleport cluster attribute (1.3.9999.1.7); omitted when null or empty.</summary>
    public string? TeleportCluster { get; set; }

    /// <summary>The MFA device id (1.3.9999.1.8); omitted when null or empty.</summary>
    public string? MfaVerified { get; set; }

    /// <summary>When the previous identity expired (1.3.9999.2.12, RFC 3339); omitted when null.</summary>
    public DateTimeOffset? PreviousIdentityExpires { get; set; }

    /// <summary>The client IP of the request (1.3.9999.1.9); omitted when null or empty.</summary>
    public string? LoginIp { get; set; }

    /// <summary>The pinned IP (1.3.9999.2.15); omitted when null or empty.</summary>
    public string? PinnedIp { get; set; }

    /// <summary>The impersonating user (1.3.9999.2.7); omitted when null or empty.</summary>
    public string? Impersonator { get; set; }

    /// <summary>Active access request ids (1.3.9999.2.8), one RDN each.</summary>
    public IList<string> ActiveRequests { get; } = new List<string>();

    /// <summary>Whether reissuing from this certificate is refused (1.3.9999.2.9).</summary>
    public bool DisallowReissue { get; set; }

    /// <summary>The bot renewal generation (1.3.9999.1.14); omitted when 0.</summary>
    public int Generation { get; set; }

    /// <summary>The bot name (1.3.9999.2.18); omitted when null or empty.</summary>
    public string? BotName { get; set; }

    /// <summary>The bot instance id (1.3.9999.2.20); omitted when null or empty.</summary>
    public string? BotInstanceId { get; set; }

    /// <summary>The user type, <c>local</c> or <c>sso</c> (1.3.9999.1.20); omitted when null or empty.</summary>
    public string? UserType { get; set; }

    /// <summary>The private key policy (1.3.9999.1.15); omitted when null or empty.</summary>
    public string? PrivateKeyPolicy { get; set; }

    /// <summary>Join attributes as protojson (1.3.9999.2.21); omitted when null or empty.</summary>
    public string? JoinAttributesJson { get; set; }

    /// <summary>Further string attributes (dotted OID, value), each written in its own RDN after Teleport's.</summary>
    public IList<KeyValuePair<string, string>> OtherAttributes { get; } = new List<KeyValuePair<string, string>>();

    /// <summary>
    /// Subject alternative names: DNS names, or IP addresses written as text (they become IP SANs,
    /// as in Teleport). Duplicates are dropped. Leave empty for user certificates.
    /// </summary>
    public IList<string> DnsNames { get; } = new List<string>();

    /// <summary>A builder preloaded with every field of an existing identity (for renewal: change what differs, e.g. <see cref="Generation"/>).</summary>
    /// <param name="identity">The identity to copy.</param>
    /// <returns>A new builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="identity"/> is null.</exception>
    public static TeleportTlsCertificateBuilder From(TeleportTlsIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var builder = new TeleportTlsCertificateBuilder
        {
            Username = identity.Username,
            RouteToCluster = identity.RouteToCluster,
            IsRenewable = identity.IsRenewable,
            TeleportCluster = identity.TeleportCluster,
            MfaVerified = identity.MfaVerified,
            PreviousIdentityExpires = identity.PreviousIdentityExpires,
            LoginIp = identity.LoginIp,
            PinnedIp = identity.PinnedIp,
            Impersonator = identity.Impersonator,
            DisallowReissue = identity.DisallowReissue,
            Generation = identity.Generation,
            BotName = identity.BotName,
            BotInstanceId = identity.BotInstanceId,
            UserType = identity.UserType,
            PrivateKeyPolicy = identity.PrivateKeyPolicy,
            JoinAttributesJson = identity.JoinAttributesJson,
        };
        AddAll(builder.Roles, identity.Roles);
        AddAll(builder.Usage, identity.Usage);
        AddAll(builder.Principals, identity.Principals);
        AddAll(builder.SystemRoles, identity.SystemRoles);
        AddAll(builder.ActiveRequests, identity.ActiveRequests);
        foreach (var trait in identity.Traits)
        {
            builder.Traits[trait.Key] = trait.Value;
        }

        foreach (var attribute in identity.OtherAttributes)
        {
            builder.OtherAttributes.Add(attribute);
        }

        return builder;
    }

    /// <summary>
    /// A builder for an Auth or Proxy server certificate: CN <c>&lt;hostId&gt;.&lt;cluster&gt;</c>,
    /// O = the system role, the cluster attribute, and SANs <c>*.teleport.cluster.local</c>,
    /// <c>teleport.cluster.local</c> plus <paramref name="additionalNames"/> (e.g. <c>localhost</c>, <c>127.0.0.1</c>).
    /// </summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <param name="hostId">The server's host id (a UUID in Teleport).</param>
    /// <param name="systemRole">The system role, e.g. <c>Auth</c> or <c>Proxy</c>.</param>
    /// <param name="additionalNames">Further DNS names or IP addresses the server is reached by.</param>
    /// <returns>A new builder; call <see cref="Issue(PublicKey, X509Certificate2, AsymmetricAlgorithm, DateTimeOffset, DateTimeOffset)"/>.</returns>
    /// <exception cref="ArgumentException">A name argument is null or empty.</exception>
    public static TeleportTlsCertificateBuilder ForServer(string clusterName, string hostId, string systemRole, IEnumerable<string>? additionalNames = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName);
        ArgumentException.ThrowIfNullOrEmpty(hostId);
        ArgumentException.ThrowIfNullOrEmpty(systemRole);
        var builder = new TeleportTlsCertificateBuilder
        {
            Username = hostId + "." + clusterName,
            TeleportCluster = clusterName,
        };
        builder.Roles.Add(systemRole);
        builder.DnsNames.Add("*." + ApiDomain);
        builder.DnsNames.Add(ApiDomain);
        if (additionalNames is not null)
        {
            AddAll(builder.DnsNames, additionalNames);
        }

        return builder;
    }

    /// <summary>Issues the certificate for a subject public key.</summary>
    /// <param name="subjectPublicKey">The public key the certificate is for.</param>
    /// <param name="issuerCertificate">The issuing CA certificate (its subject becomes the issuer name).</param>
    /// <param name="issuerKey">The CA's private key, <see cref="RSA"/> or <see cref="ECDsa"/>.</param>
    /// <param name="notBefore">Start of validity (Teleport uses now − 1 minute).</param>
    /// <param name="notAfter">End of validity.</param>
    /// <returns>The certificate, without a private key.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The key is neither RSA nor ECDSA, it does not belong to the issuer certificate, or the validity is reversed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Username"/> is empty, <see cref="Generation"/> is negative, or a value cannot be encoded.</exception>
    public X509Certificate2 Issue(PublicKey subjectPublicKey, X509Certificate2 issuerCertificate, AsymmetricAlgorithm issuerKey, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(subjectPublicKey);
        ArgumentNullException.ThrowIfNull(issuerCertificate);
        ArgumentNullException.ThrowIfNull(issuerKey);
        if (string.IsNullOrEmpty(Username))
        {
            throw new InvalidOperationException("A Teleport certificate needs a user name (CN): set Username first.");
        }

        EnsureKeyMatches(issuerCertificate, issuerKey);
        var subject = new X500DistinguishedName(EncodeSubject());
        var request = new CertificateRequest(subject, subjectPublicKey, HashFor(issuerKey));
        var keyUsage = X509KeyUsageFlags.DigitalSignature;
        if (subjectPublicKey.Oid.Value == RsaOid)
        {
            keyUsage |= X509KeyUsageFlags.KeyEncipherment;
        }

        request.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            new OidCollection { new Oid(TeleportOids.ServerAuth), new Oid(TeleportOids.ClientAuth) }, critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        var issuerKeyId = issuerCertificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault();
        if (issuerKeyId is not null)
        {
            request.CertificateExtensions.Add(
                X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(issuerKeyId.SubjectKeyIdentifierBytes.Span));
        }

        var sans = BuildSubjectAlternativeNames(DnsNames);
        if (sans is not null)
        {
            request.CertificateExtensions.Add(sans);
        }

        return Sign(request, issuerCertificate.SubjectName, issuerKey, notBefore, notAfter, RandomSerial());
    }

    /// <summary>Issues the certificate for a subject public key given as DER SubjectPublicKeyInfo.</summary>
    /// <param name="subjectPublicKeyInfo">The public key, PKIX SubjectPublicKeyInfo DER (as the join service sends it).</param>
    /// <param name="issuerCertificate">The issuing CA certificate.</param>
    /// <param name="issuerKey">The CA's private key, <see cref="RSA"/> or <see cref="ECDsa"/>.</param>
    /// <param name="notBefore">Start of validity.</param>
    /// <param name="notAfter">End of validity.</param>
    /// <returns>The certificate, without a private key.</returns>
    /// <exception cref="TeleportFormatException"><paramref name="subjectPublicKeyInfo"/> is not a single SubjectPublicKeyInfo.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">See <see cref="Issue(PublicKey, X509Certificate2, AsymmetricAlgorithm, DateTimeOffset, DateTimeOffset)"/>.</exception>
    /// <exception cref="InvalidOperationException">See <see cref="Issue(PublicKey, X509Certificate2, AsymmetricAlgorithm, DateTimeOffset, DateTimeOffset)"/>.</exception>
    public X509Certificate2 Issue(ReadOnlySpan<byte> subjectPublicKeyInfo, X509Certificate2 issuerCertificate, AsymmetricAlgorithm issuerKey, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        PublicKey publicKey;
        try
        {
            publicKey = PublicKey.CreateFromSubjectPublicKeyInfo(subjectPublicKeyInfo, out var read);
            if (read != subjectPublicKeyInfo.Length)
            {
                throw new TeleportFormatException("The subject public key has trailing data after its SubjectPublicKeyInfo.");
            }
        }
        catch (CryptographicException ex)
        {
            throw new TeleportFormatException("The subject public key is not a DER SubjectPublicKeyInfo.", ex);
        }

        return Issue(publicKey, issuerCertificate, issuerKey, notBefore, notAfter);
    }

    /// <summary>
    /// Creates a self-signed Teleport CA certificate: subject <c>O=&lt;cluster&gt;, CN=&lt;cluster&gt;,
    /// SERIALNUMBER=&lt;serial&gt;</c> (Teleport adds the serial so CAs with the same name and key differ),
    /// CA basic constraints, KeyUsage DigitalSignature + CertSign + CRLSign (+ KeyEncipherment for RSA),
    /// a subject key identifier, and a 10-year validity unless given.
    /// </summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <param name="key">The CA key pair, <see cref="RSA"/> or <see cref="ECDsa"/>.</param>
    /// <param name="notBefore">Start of validity.</param>
    /// <param name="validity">Length of validity; 10 years (3650 days) when null.</param>
    /// <returns>The CA certificate, without a private key.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="clusterName"/> is empty, the key is neither RSA nor ECDSA, or the validity is not positive.</exception>
    public static X509Certificate2 CreateCertificateAuthority(string clusterName, AsymmetricAlgorithm key, DateTimeOffset notBefore, TimeSpan? validity = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName);
        ArgumentNullException.ThrowIfNull(key);
        var length = validity ?? DefaultAuthorityValidity;
        if (length <= TimeSpan.Zero)
        {
            throw new ArgumentException("The validity must be positive.", nameof(validity));
        }

        var publicKey = PublicKeyOf(key);
        var serial = RandomSerial();
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            X500NameCodec.WriteRdn(writer, TeleportOids.Organization, clusterName);
            X500NameCodec.WriteRdn(writer, TeleportOids.CommonName, clusterName);
            X500NameCodec.WriteRdn(writer, TeleportOids.SerialNumber,
                new BigInteger(serial, isUnsigned: true, isBigEndian: true).ToString(CultureInfo.InvariantCulture));
        }

        var subject = new X500DistinguishedName(writer.Encode());
        var request = new CertificateRequest(subject, publicKey, HashFor(key));
        var keyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign;
        if (key is RSA)
        {
            keyUsage |= X509KeyUsageFlags.KeyEncipherment;
        }

        request.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, critical: true));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(publicKey, X509SubjectKeyIdentifierHashAlgorithm.Sha1, critical: false));
        return Sign(request, subject, key, notBefore, notBefore + length, serial);
    }

    /// <summary>The DER subject name this builder writes.</summary>
    internal byte[] EncodeSubject()
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        try
        {
            using (writer.PushSequence())
            {
                X500NameCodec.WriteRdn(writer, TeleportOids.Locality, ToList(Principals));
                X500NameCodec.WriteRdn(writer, TeleportOids.StreetAddress, RouteToCluster ?? string.Empty);
                X500NameCodec.WriteRdn(writer, TeleportOids.PostalCode, TeleportTraitsCodec.ToGoJson(Traits));
                X500NameCodec.WriteRdn(writer, TeleportOids.Organization, ToList(Roles));
                X500NameCodec.WriteRdn(writer, TeleportOids.OrganizationalUnit, ToList(Usage));
                X500NameCodec.WriteRdn(writer, TeleportOids.CommonName, Username);

                // Teleport's order of ExtraNames (lib/tlsca Identity.Subject).
                foreach (var role in SystemRoles)
                {
                    X500NameCodec.WriteRdn(writer, TeleportOids.SystemRoles, role);
                }

                if (IsRenewable)
                {
                    X500NameCodec.WriteRdn(writer, TeleportOids.Renewable, TeleportOids.True);
                }

                WriteOptional(writer, TeleportOids.TeleportCluster, TeleportCluster);
                WriteOptional(writer, TeleportOids.MfaVerified, MfaVerified);
                if (PreviousIdentityExpires is { } previous)
                {
                    X500NameCodec.WriteRdn(writer, TeleportOids.PreviousIdentityExpires,
                        previous.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                }

                WriteOptional(writer, TeleportOids.LoginIp, LoginIp);
                WriteOptional(writer, TeleportOids.PinnedIp, PinnedIp);
                WriteOptional(writer, TeleportOids.Impersonator, Impersonator);
                foreach (var request in ActiveRequests)
                {
                    X500NameCodec.WriteRdn(writer, TeleportOids.ActiveRequests, request);
                }

                if (DisallowReissue)
                {
                    X500NameCodec.WriteRdn(writer, TeleportOids.DisallowReissue, TeleportOids.True);
                }

                if (Generation < 0)
                {
                    throw new InvalidOperationException("The generation cannot be negative.");
                }

                if (Generation > 0)
                {
                    X500NameCodec.WriteRdn(writer, TeleportOids.Generation, Generation.ToString(CultureInfo.InvariantCulture));
                }

                WriteOptional(writer, TeleportOids.BotName, BotName);
                WriteOptional(writer, TeleportOids.BotInstanceId, BotInstanceId);
                WriteOptional(writer, TeleportOids.UserType, UserType);
                WriteOptional(writer, TeleportOids.PrivateKeyPolicy, PrivateKeyPolicy);
                WriteOptional(writer, TeleportOids.JoinAttributes, JoinAttributesJson);
                foreach (var (oid, value) in OtherAttributes)
                {
                    X500NameCodec.WriteRdn(writer, oid, value);
                }
            }
        }
        catch (Exception ex) when (ex is CryptographicException or EncoderFallbackException)
        {
            throw new InvalidOperationException($"A subject attribute cannot be encoded: {ex.Message}", ex);
        }

        return writer.Encode();
    }

    private static void WriteOptional(AsnWriter writer, string oid, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            X500NameCodec.WriteRdn(writer, oid, value);
        }
    }

    private const string RsaOid = "1.2.840.113549.1.1.1";

    private static X509Certificate2 Sign(CertificateRequest request, X500DistinguishedName issuerName, AsymmetricAlgorithm issuerKey,
        DateTimeOffset notBefore, DateTimeOffset notAfter, byte[] serial)
    {
        if (notAfter <= notBefore)
        {
            throw new ArgumentException("The certificate would expire before it becomes valid.", nameof(notAfter));
        }

        var generator = issuerKey switch
        {
            RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
            ECDsa ecdsa => X509SignatureGenerator.CreateForECDsa(ecdsa),
            _ => throw new ArgumentException("The issuer key must be RSA or ECDSA.", nameof(issuerKey)),
        };
        return request.Create(issuerName, generator, notBefore, notAfter, serial);
    }

    // Go's x509 picks SHA-256 for RSA and the curve-sized hash for ECDSA.
    private static HashAlgorithmName HashFor(AsymmetricAlgorithm key) => key switch
    {
        RSA => HashAlgorithmName.SHA256,
        ECDsa { KeySize: <= 256 } => HashAlgorithmName.SHA256,
        ECDsa { KeySize: <= 384 } => HashAlgorithmName.SHA384,
        ECDsa => HashAlgorithmName.SHA512,
        _ => throw new ArgumentException("The key must be RSA or ECDSA.", nameof(key)),
    };

    private static PublicKey PublicKeyOf(AsymmetricAlgorithm key) => key switch
    {
        RSA rsa => new PublicKey(rsa),
        ECDsa ecdsa => new PublicKey(ecdsa),
        _ => throw new ArgumentException("The key must be RSA or ECDSA.", nameof(key)),
    };

    private static void EnsureKeyMatches(X509Certificate2 issuerCertificate, AsymmetricAlgorithm issuerKey)
    {
        var expected = issuerCertificate.PublicKey.ExportSubjectPublicKeyInfo();
        var actual = PublicKeyOf(issuerKey).ExportSubjectPublicKeyInfo();
        if (!expected.AsSpan().SequenceEqual(actual))
        {
            throw new ArgumentException("The issuer key does not belong to the issuer certificate.", nameof(issuerKey));
        }
    }

    /// <summary>A random positive serial of at most 128 bits, minimally encoded (Go: rand.Int(2^128)).</summary>
    private static byte[] RandomSerial()
    {
        Span<byte> random = stackalloc byte[16];
        int start;
        do
        {
            RandomNumberGenerator.Fill(random);
            start = random.IndexOfAnyExcept((byte)0);
        }
        while (start < 0);

        return random[start..].ToArray();
    }

    private static X509Extension? BuildSubjectAlternativeNames(IEnumerable<string> names)
    {
        var distinct = names.Where(static n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count == 0)
        {
            return null;
        }

        // As Teleport: names that parse as IP addresses become IP SANs; DNS names are written first.
        var builder = new SubjectAlternativeNameBuilder();
        var addresses = new List<IPAddress>();
        foreach (var name in distinct)
        {
            if (IPAddress.TryParse(name, out var address))
            {
                addresses.Add(address);
            }
            else
            {
                builder.AddDnsName(name);
            }
        }

        foreach (var address in addresses)
        {
            builder.AddIpAddress(address);
        }

        return builder.Build();
    }

    private static List<string> ToList(IEnumerable<string> values) => values.ToList();

    private static void AddAll(ICollection<string> target, IEnumerable<string> values)
    {
        foreach (var value in values)
        {
            target.Add(value);
        }
    }
}
