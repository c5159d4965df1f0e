using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Teleport.MachineId.Tls;

/// <summary>
/// Immutable typed view of an X.509 certificate issued by a Teleport certificate authority: who it
/// belongs to (<see cref="Username"/>, <see cref="Roles"/>, <see cref="Traits"/>), what kind of
/// identity it is (a renewable bot identity with a <see cref="Generation"/>, or an impersonated
/// output identity with an <see cref="Impersonator"/>), and which cluster issued it.
/// </summary>
/// <remarks>
/// Teleport encodes the identity in the certificate subject (teleport-protocol.md §8.2): X.520
/// attributes for the core fields and its own 1.3.9999 arc for the rest. Every attribute of every
/// RDN is read, so multi-valued RDNs and any string type are understood. Attributes this type does
/// not name are kept in <see cref="OtherAttributes"/>. Instances are immutable and thread-safe.
/// </remarks>
public sealed class TeleportTlsIdentity
{
    private TeleportTlsIdentity(X509Certificate2 certificate)
    {
        Certificate = certificate;
    }

    /// <summary>The certificate this view was read from (the instance that was passed in, or the one that was loaded).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The Teleport user name (subject CN), e.g. <c>bot-robot</c> for a bot.</summary>
    public string Username { get; private init; } = string.Empty;

    /// <summary>Teleport roles (subject O values), in encoding order.</summary>
    /// <remarks>Teleport writes several roles as one multi-valued RDN, which DER sorts by encoding.</remarks>
    public IReadOnlyList<string> Roles { get; private init; } = [];

    /// <summary>Usage restrictions (subject OU values); empty when the certificate is not restricted.</summary>
    public IReadOnlyList<string> Usage { get; private init; } = [];

    /// <summary>The SSH logins (principals) allowed to the user (subject L values).</summary>
    public IReadOnlyList<string> Principals { get; private init; } = [];

    /// <summary>
    /// The cluster requests made with this certificate are routed to (subject STREET), or
    /// <see langword="null"/> when it is the issuing cluster (Teleport writes an empty value).
    /// </summary>
    public string? RouteToCluster { get; private init; }

    /// <summary>The user's traits (subject POSTALCODE, JSON <c>map[string][]string</c>); empty when there are none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Traits { get; private init; } = TeleportTraitsCodec.Empty;

    /// <summary>The name of the cluster that issued the certificate (issuer O, first value).</summary>
    public string ClusterName { get; private init; } = string.Empty;

    /// <summary>The Teleport cluster attribute (1.3.9999.1.7), or <see langword="null"/> when absent.</summary>
    public string? TeleportCluster { get; private init; }

    /// <summary>Whether the certificate may renew itself (1.3.9999.1.13): true for token-joined bot identities.</summary>
    public bool IsRenewable { get; private init; }

    /// <summary>The renewal generation counter of a bot identity (1.3.9999.1.14); 0 when absent.</summary>
    public int Generation { get; private init; }

    /// <summary>The bot's name (1.3.9999.2.18), or <see langword="null"/> when the certificate is not a bot's.</summary>
    public string? BotName { get; private init; }

    /// <summary>The bot instance id, a UUID (1.3.9999.2.20), or <see langword="null"/> when absent.</summary>
    public string? BotInstanceId { get; private init; }

    /// <summary>The user that impersonated <see cref="Username"/> to get this certificate (1.3.9999.2.7), or <see langword="null"/>.</summary>
    public string? Impersonator { get; private init; }

    /// <summary>Whether certificates may not be reissued from this one (1.3.9999.2.9).</summary>
    public bool DisallowReissue { get; private init; }

    /// <summary>System roles of a multi-role certificate (1.3.9999.2.11).</summary>
    public IReadOnlyList<string> SystemRoles { get; private init; } = [];

    /// <summary>Ids of the access requests active in this certificate (1.3.9999.2.8).</summary>
    public IReadOnlyList<string> ActiveRequests { get; private init; } = [];

    /// <summary>The client IP the certificate was requested from (1.3.9999.1.9), or <see langword="null"/>.</summary>
    public string? LoginIp { get; private init; }

    /// <summary>The IP the certificate is pinned to (1.3.9999.2.15), or <see langword="null"/>.</summary>
    public string? PinnedIp { get; private init; }

    /// <summary>The MFA device id that verified this certificate's issuance (1.3.9999.1.8), or <see langword="null"/>.</summary>
    public string? MfaVerified { get; private init; }

    /// <summary>The private key policy the certificate satisfies (1.3.9999.1.15), or <see langword="null"/>.</summary>
    public string? PrivateKeyPolicy { get; private init; }

    /// <summary>The user type, <c>local</c> or <c>sso</c> (1.3.9999.1.20), or <see langword="null"/>.</summary>
    public string? UserType { get; private init; }

    /// <summary>When the identity this certificate was renewed from expired (1.3.9999.2.12), or <see langword="null"/>.</summary>
    public DateTimeOffset? PreviousIdentityExpires { get; private init; }

    /// <summary>The join attributes as Teleport wrote them (protojson with proto field names, 1.3.9999.2.21), or <see langword="null"/>.</summary>
    public string? JoinAttributesJson { get; private init; }

    /// <summary>String-valued subject attributes this type does not name (dotted OID, value), in encoding order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> OtherAttributes { get; private init; } = [];

    /// <summary>Start of the validity period (UTC).</summary>
    public DateTimeOffset NotBefore { get; private init; }

    /// <summary>End of the validity period (UTC).</summary>
    public DateTimeOffset NotAfter { get; private init; }

    /// <summary>The certificate serial number, big-endian hexadecimal (as <see cref="X509Certificate2"/> reports it).</summary>
    public string SerialNumber { get; private init; } = string.Empty;

    /// <summary>Reads the Teleport identity of a certificate.</summary>
    /// <param name="certificate">A certificate issued by a Teleport CA. The view keeps a reference to it: do not dispose it while the view is used.</param>
    /// <returns>The typed view.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="certificate"/> is null.</exception>
    /// <exception cref="TeleportFormatException">The subject or issuer is malformed, the subject has no CN, the issuer has no O, or an attribute value is invalid.</exception>
    public static TeleportTlsIdentity FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Read(certificate);
    }

    /// <summary>Reads the Teleport identity of the first <c>CERTIFICATE</c> block of a PEM document.</summary>
    /// <param name="pem">PEM text, e.g. a <c>tlscert</c> file.</param>
    /// <returns>The typed view.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pem"/> is null.</exception>
    /// <exception cref="TeleportFormatException">There is no certificate block, it is not a certificate, or it is not a Teleport identity.</exception>
    public static TeleportTlsIdentity FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        ReadOnlySpan<char> rest = pem;
        while (PemEncoding.TryFind(rest, out var fields))
        {
            if (rest[fields.Label].SequenceEqual("CERTIFICATE"))
            {
                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out var written))
                {
                    throw new TeleportFormatException("The CERTIFICATE PEM block has invalid base64 content.");
                }

                return FromDer(der.AsSpan(0, written));
            }

            rest = rest[fields.Location.End..];
        }

        throw new TeleportFormatException("The text contains no PEM 'CERTIFICATE' block.");
    }

    /// <summary>Reads the Teleport identity of a DER-encoded certificate.</summary>
    /// <param name="der">The certificate bytes.</param>
    /// <returns>The typed view.</returns>
    /// <exception cref="TeleportFormatException">The bytes are not an X.509 certificate, or it is not a Teleport identity.</exception>
    public static TeleportTlsIdentity FromDer(ReadOnlySpan<byte> der)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException ex)
        {
            throw new TeleportFormatException("The bytes are not a DER-encoded X.509 certificate.", ex);
        }

        return Read(certificate);
    }

    private static TeleportTlsIdentity Read(X509Certificate2 certificate)
    {
        try
        {
            return ReadFields(certificate);
        }
        catch (CryptographicException ex)
        {
            // The platform decodes parts of a loaded certificate lazily (validity times, for one):
            // a field it cannot decode is the certificate's problem, not a crypto failure.
            throw new TeleportFormatException("The certificate has a field that cannot be decoded (for example its validity times).", ex);
        }
    }

    private static TeleportTlsIdentity ReadFields(X509Certificate2 certificate)
    {
        var subject = X500NameCodec.ReadAttributes(certificate.SubjectName.RawData, "certificate subject");
        var issuer = X500NameCodec.ReadAttributes(certificate.IssuerName.RawData, "certificate issuer");

        string? username = null, routeToCluster = null, traits = null, teleportCluster = null, botName = null;
        string? botInstanceId = null, impersonator = null, loginIp = null, pinnedIp = null, mfaVerified = null;
        string? privateKeyPolicy = null, userType = null, joinAttributes = null, generation = null, previousExpires = null;
        bool renewable = false, disallowReissue = false;
        List<string> roles = [], usage = [], principals = [], systemRoles = [], activeRequests = [];
        List<KeyValuePair<string, string>> others = [];

        foreach (var (oid, value) in subject)
        {
            if (value is null)
            {
                continue; // Teleport (Go pkix) ignores attributes that are not strings.
            }

            switch (oid)
            {
                case TeleportOids.CommonName: username = value; break; // Go keeps the last CN.
                case TeleportOids.Organization: roles.Add(value); break;
                case TeleportOids.OrganizationalUnit: usage.Add(value); break;
                case TeleportOids.Locality: principals.Add(value); break;
                case TeleportOids.StreetAddress: routeToCluster ??= value; break;
                case TeleportOids.PostalCode: traits ??= value; break;
                case TeleportOids.TeleportCluster: teleportCluster = value; break;
                case TeleportOids.Renewable: renewable = value == TeleportOids.True; break;
                case TeleportOids.Generation: generation = value; break;
                case TeleportOids.BotName: botName = value; break;
                case TeleportOids.BotInstanceId: botInstanceId = value; break;
                case TeleportOids.Impersonator: impersonator = value; break;
                case TeleportOids.DisallowReissue: disallowReissue = value == TeleportOids.True; break;
                case TeleportOids.SystemRoles: systemRoles.Add(value); break;
                case TeleportOids.ActiveRequests: activeRequests.Add(value); break;
                case TeleportOids.LoginIp: loginIp = value; break;
                case TeleportOids.PinnedIp: pinnedIp = value; break;
                case TeleportOids.MfaVerified: mfaVerified = value; break;
                case TeleportOids.PrivateKeyPolicy: privateKeyPolicy = value; break;
                case TeleportOids.UserType: userType = value; break;
                case TeleportOids.PreviousIdentityExpires: previousExpires = value; break;
                case TeleportOids.JoinAttributes: joinAttributes = value; break;
                default: others.Add(new KeyValuePair<string, string>(oid, value)); break;
            }
        }

        if (string.IsNullOrEmpty(username))
        {
            throw new TeleportFormatException("The certificate subject has no common name (CN), so it carries no Teleport user name.");
        }

        var clusterName = issuer.FirstOrDefault(static a => a.Oid == TeleportOids.Organization && a.Value is not null).Value;
        if (string.IsNullOrEmpty(clusterName))
        {
            throw new TeleportFormatException(
                "The certificate issuer has no organization (O), so the issuing Teleport cluster is unknown; was it issued by a Teleport CA?");
        }

        if (joinAttributes is not null)
        {
            EnsureJsonObject(joinAttributes);
        }

        return new TeleportTlsIdentity(certificate)
        {
            Username = username,
            Roles = roles,
            Usage = usage,
            Principals = principals,
            RouteToCluster = string.IsNullOrEmpty(routeToCluster) ? null : routeToCluster,
            Traits = traits is null ? TeleportTraitsCodec.Empty : TeleportTraitsCodec.Parse(traits),
            ClusterName = clusterName,
            TeleportCluster = teleportCluster,
            IsRenewable = renewable,
            Generation = generation is null ? 0 : ParseGeneration(generation),
            BotName = botName,
            BotInstanceId = botInstanceId,
            Impersonator = impersonator,
            DisallowReissue = disallowReissue,
            SystemRoles = systemRoles,
            ActiveRequests = activeRequests,
            LoginIp = loginIp,
            PinnedIp = pinnedIp,
            MfaVerified = mfaVerified,
            PrivateKeyPolicy = privateKeyPolicy,
            UserType = userType,
            PreviousIdentityExpires = previousExpires is null ? null : ParseRfc3339(previousExpires),
            JoinAttributesJson = joinAttributes,
            OtherAttributes = others,
            NotBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime()),
            NotAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime()),
            SerialNumber = certificate.SerialNumber,
        };
    }

    private static int ParseGeneration(string value)
    {
        if (value.Length == 0 || !value.All(char.IsAsciiDigit)
            || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var generation))
        {
            throw new TeleportFormatException(
                $"The certificate's generation attribute (1.3.9999.1.14) is '{value}', not a non-negative decimal number.");
        }

        return generation;
    }

    private static readonly string[] Rfc3339Formats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    internal static DateTimeOffset ParseRfc3339(string value)
    {
        if (!DateTimeOffset.TryParseExact(value, Rfc3339Formats, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var parsed))
        {
            throw new TeleportFormatException(
                $"The certificate's previous-identity-expires attribute (1.3.9999.2.12) is '{value}', not an RFC 3339 time.");
        }

        return parsed;
    }

    private static void EnsureJsonObject(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new TeleportFormatException("The certificate's join attributes (1.3.9999.2.21) are not a JSON object.");
            }
        }
        catch (JsonException ex)
        {
            throw new TeleportFormatException("The certificate's join attributes (1.3.9999.2.21) are not valid JSON.", ex);
        }
    }
}
