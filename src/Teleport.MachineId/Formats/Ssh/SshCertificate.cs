using System.Collections.ObjectModel;
using System.Text;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// An OpenSSH certificate (PROTOCOL.certkeys, <c>*-cert-v01@openssh.com</c> for Ed25519, ECDSA
/// P-256/384/521 and RSA keys): every field, its signature check, and the Teleport-specific view
/// (<see cref="GetTeleportInfo"/>). Immutable and safe to share between threads.
/// </summary>
/// <remarks>
/// Parsing validates the whole structure up front (so no accessor throws later) but decodes
/// strings, keys, options and extensions only when first read. Critical options and extensions
/// must be in strictly increasing lexical order, as OpenSSH writes them and as Teleport (Go
/// x/crypto/ssh) requires. <see cref="ToString"/> never prints the certificate bytes.
/// </remarks>
public sealed class SshCertificate : IEquatable<SshCertificate>
{
    /// <summary>Seconds of the last instant <see cref="DateTimeOffset"/> can represent.</summary>
    private const ulong MaxUnixSeconds = 253402300799;

    private const string What = "SSH certificate";

    private readonly byte[] _wire;
    private readonly SshKeyFields _keyFields;
    private readonly SshKeyFields _signatureKeyFields;
    private readonly int _nonceOffset;
    private readonly int _nonceLength;
    private readonly int _keyIdOffset;
    private readonly int _keyIdLength;
    private readonly int _principalsOffset;
    private readonly int _principalsLength;
    private readonly int _principalCount;
    private readonly int _criticalOptionsOffset;
    private readonly int _criticalOptionsLength;
    private readonly int _extensionsOffset;
    private readonly int _extensionsLength;
    private readonly int _reservedOffset;
    private readonly int _reservedLength;
    private readonly int _signatureKeyOffset;
    private readonly int _signatureKeyLength;
    private readonly int _signedLength;
    private readonly int _signatureOffset;
    private readonly int _signatureLength;

    private PublicKeyInfo? _publicKey;
    private PublicKeyInfo? _signatureKey;
    private string? _keyId;
    private ReadOnlyCollection<string>? _principals;
    private IReadOnlyDictionary<string, string>? _criticalOptions;
    private IReadOnlyDictionary<string, string>? _extensions;

    /// <summary>Parses <paramref name="wire"/>, which this instance then owns.</summary>
    private SshCertificate(byte[] wire)
    {
        _wire = wire;
        var reader = new SshWireReader(wire, What);
        var typeName = reader.ReadString();
        if (!KeyAlgorithmInfo.TryFromCertificateType(typeName, out var algorithm))
        {
            if (KeyAlgorithmInfo.TryFromSshKeyType(typeName, out _))
            {
                throw new TeleportFormatException("Expected an SSH certificate but found a plain public key.");
            }

            throw new TeleportFormatException(
                "Unsupported SSH certificate type; expected ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa -cert-v01@openssh.com.");
        }

        CertificateTypeName = KeyAlgorithmInfo.CertificateType(algorithm);
        (_nonceOffset, _nonceLength) = reader.ReadStringRange();
        _keyFields = SshKeyFields.Read(ref reader, wire, algorithm);
        Serial = reader.ReadUInt64();
        var type = reader.ReadUInt32();
        if (type is not (1 or 2))
        {
            SshWireReader.ThrowFormat(What, "a certificate type other than user (1) or host (2)");
        }

        Type = (SshCertificateType)type;
        (_keyIdOffset, _keyIdLength) = reader.ReadStringRange();
        (_principalsOffset, _principalsLength) = reader.ReadStringRange();
        _principalCount = CountStrings(wire.AsSpan(_principalsOffset, _principalsLength));
        ValidAfterSeconds = reader.ReadUInt64();
        ValidBeforeSeconds = reader.ReadUInt64();
        (_criticalOptionsOffset, _criticalOptionsLength) = reader.ReadStringRange();
        ValidateOptions(wire.AsSpan(_criticalOptionsOffset, _criticalOptionsLength), "SSH certificate critical options");
        (_extensionsOffset, _extensionsLength) = reader.ReadStringRange();
        ValidateOptions(wire.AsSpan(_extensionsOffset, _extensionsLength), "SSH certificate extensions");
        (_reservedOffset, _reservedLength) = reader.ReadStringRange();
        (_signatureKeyOffset, _signatureKeyLength) = reader.ReadStringRange();
        _signatureKeyFields = ReadSignatureKey(wire.AsSpan(_signatureKeyOffset, _signatureKeyLength));
        _signedLength = reader.Position;
        (_signatureOffset, _signatureLength) = reader.ReadStringRange();
        reader.EnsureAtEnd();

        var signature = new SshWireReader(wire.AsSpan(_signatureOffset, _signatureLength), "SSH certificate signature");
        SignatureAlgorithm = SshSignature.InternName(signature.ReadString());
        _ = signature.ReadString();
        signature.EnsureAtEnd();
    }

    /// <summary>The certificate type name, e.g. <c>ssh-ed25519-cert-v01@openssh.com</c>.</summary>
    public string CertificateTypeName { get; }

    /// <summary>The random nonce the CA chose.</summary>
    public ReadOnlyMemory<byte> Nonce => _wire.AsMemory(_nonceOffset, _nonceLength);

    /// <summary>The certified (subject) public key.</summary>
    public PublicKeyInfo PublicKey => _publicKey ??= PublicKeyInfo.FromFields(_wire, _keyFields);

    /// <summary>The serial number the CA chose (Teleport uses 0).</summary>
    public ulong Serial { get; }

    /// <summary>User or host certificate.</summary>
    public SshCertificateType Type { get; }

    /// <summary>The key ID (Teleport: the user name, <c>bot-&lt;name&gt;</c> for bots). UTF-8; invalid bytes become U+FFFD.</summary>
    public string KeyId => _keyId ??= Encoding.UTF8.GetString(_wire, _keyIdOffset, _keyIdLength);

    /// <summary>The valid principals (user logins or host names); empty means any principal in OpenSSH's rules.</summary>
    public IReadOnlyList<string> Principals => _principals ??= DecodePrincipals();

    /// <summary>Start of validity. Encoded 0 ("always") reads as <see cref="DateTimeOffset.UnixEpoch"/>.</summary>
    public DateTimeOffset ValidAfter => FromUnixSeconds(ValidAfterSeconds);

    /// <summary>
    /// End of validity (exclusive, as OpenSSH checks it). Values past year 9999, including the
    /// "forever" value <see cref="ulong.MaxValue"/>, read as <see cref="DateTimeOffset.MaxValue"/>.
    /// </summary>
    public DateTimeOffset ValidBefore => FromUnixSeconds(ValidBeforeSeconds);

    /// <summary>Critical options by name (e.g. <c>force-command</c>, <c>source-address</c>); flags have an empty value. In wire (lexical) order.</summary>
    public IReadOnlyDictionary<string, string> CriticalOptions =>
        _criticalOptions ??= DecodeOptions(_criticalOptionsOffset, _criticalOptionsLength);

    /// <summary>Extensions by name (e.g. <c>permit-pty</c>, <c>teleport-roles</c>); flags have an empty value. In wire (lexical) order.</summary>
    public IReadOnlyDictionary<string, string> Extensions =>
        _extensions ??= DecodeOptions(_extensionsOffset, _extensionsLength);

    /// <summary>The reserved field (empty in every certificate OpenSSH and Teleport make).</summary>
    public ReadOnlyMemory<byte> Reserved => _wire.AsMemory(_reservedOffset, _reservedLength);

    /// <summary>The CA key that signed the certificate (as the certificate claims; see <see cref="Verify"/>).</summary>
    public PublicKeyInfo SignatureKey =>
        _signatureKey ??= PublicKeyInfo.FromFields(_wire.AsSpan(_signatureKeyOffset, _signatureKeyLength), _signatureKeyFields);

    /// <summary>
    /// The signature algorithm: <c>ssh-ed25519</c>, <c>ecdsa-sha2-nistp256/384/521</c>,
    /// <c>rsa-sha2-512</c>, <c>rsa-sha2-256</c> or legacy <c>ssh-rsa</c> (SHA-1).
    /// </summary>
    public string SignatureAlgorithm { get; }

    /// <summary>The raw validity start in seconds since the Unix epoch.</summary>
    internal ulong ValidAfterSeconds { get; }

    /// <summary>The raw validity end in seconds since the Unix epoch.</summary>
    internal ulong ValidBeforeSeconds { get; }

    /// <summary>The encoded certificate, for code in this assembly that must not copy it.</summary>
    internal ReadOnlySpan<byte> WireSpan => _wire;

    /// <summary>The bytes the CA signature covers (everything before the signature field).</summary>
    internal ReadOnlySpan<byte> SignedData => _wire.AsSpan(0, _signedLength);

    /// <summary>Compares two certificates byte for byte.</summary>
    public static bool operator ==(SshCertificate? left, SshCertificate? right) =>
        left is null ? right is null : left.Equals(right);

    /// <summary>Compares two certificates byte for byte.</summary>
    public static bool operator !=(SshCertificate? left, SshCertificate? right) => !(left == right);

    /// <summary>Parses the encoded certificate (the base64-decoded second field of a <c>-cert.pub</c> line).</summary>
    /// <param name="wire">The certificate bytes; copied.</param>
    /// <returns>The certificate.</returns>
    /// <exception cref="TeleportFormatException">The bytes are truncated, have trailing data, a bad field, or an unsupported type.</exception>
    public static SshCertificate FromWire(ReadOnlySpan<byte> wire) => new(wire.ToArray());

    /// <summary>
    /// Parses a certificate line <c>&lt;type&gt;-cert-v01@openssh.com &lt;base64&gt; [comment]</c>
    /// (a <c>-cert.pub</c> file); leading authorized_keys options are skipped.
    /// </summary>
    /// <param name="line">The line.</param>
    /// <returns>The certificate.</returns>
    /// <exception cref="TeleportFormatException">No certificate is found, the base64 is invalid, the type name disagrees with the data, or the data is malformed.</exception>
    public static SshCertificate ParseAuthorizedKey(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        const string what = "SSH certificate line";
        AuthorizedKeyLine.Find(line, what, out var algorithm, out var isCertificate, out var base64, out _);
        if (!isCertificate)
        {
            throw new TeleportFormatException("Expected an SSH certificate but found a plain public key.");
        }

        var certificate = new SshCertificate(AuthorizedKeyLine.DecodeBase64(base64, what));
        if (certificate._keyFields.Algorithm != algorithm)
        {
            throw new TeleportFormatException($"Malformed {what}: the type name does not match the type inside the certificate data.");
        }

        return certificate;
    }

    /// <summary>The encoded certificate.</summary>
    /// <returns>A new array.</returns>
    public byte[] ToWire() => (byte[])_wire.Clone();

    /// <summary>The OpenSSH text form (<c>-cert.pub</c> content without the newline).</summary>
    /// <param name="comment">Optional comment.</param>
    /// <returns>The line.</returns>
    public string ToAuthorizedKey(string? comment = null)
    {
        var base64 = Convert.ToBase64String(_wire);
        return string.IsNullOrEmpty(comment)
            ? string.Concat(CertificateTypeName, " ", base64)
            : string.Concat(CertificateTypeName, " ", base64, " ", comment);
    }

    /// <summary>
    /// Checks the signature with the key the certificate names (<see cref="SignatureKey"/>). This
    /// says nothing about whether that key is trusted; use <see cref="Verify"/> for that.
    /// </summary>
    /// <returns><see langword="true"/> when the signature is valid.</returns>
    public bool VerifySignature() =>
        SshSignature.Verify(SignatureKey, _wire.AsSpan(0, _signedLength), _wire.AsSpan(_signatureOffset, _signatureLength));

    /// <summary>
    /// Checks the certificate the way OpenSSH does before accepting it: signed by one of
    /// <paramref name="trustedAuthorities"/> with a valid signature, of the expected type, valid
    /// at <paramref name="now"/> (<c>ValidAfter ≤ now &lt; ValidBefore</c>, in whole seconds), and
    /// listing <paramref name="principal"/>.
    /// </summary>
    /// <remarks>
    /// Principals match exactly, except that host certificates may list <c>*</c>/<c>?</c>
    /// wildcard patterns and may have no principals at all (both as the OpenSSH client allows);
    /// a user certificate without principals matches no required principal (as sshd with
    /// <c>TrustedUserCAKeys</c> requires). Critical options are not interpreted.
    /// </remarks>
    /// <param name="trustedAuthorities">The CA public keys to trust.</param>
    /// <param name="now">The current time (from a <see cref="TimeProvider"/>).</param>
    /// <param name="expectedType">The required type, or <see langword="null"/> for either.</param>
    /// <param name="principal">A principal the certificate must list, or <see langword="null"/> to skip that check.</param>
    /// <exception cref="CertificateValidationException">A check failed; <see cref="CertificateValidationException.Failure"/> says which.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="trustedAuthorities"/> is <see langword="null"/>.</exception>
    public void Verify(
        IEnumerable<PublicKeyInfo> trustedAuthorities,
        DateTimeOffset now,
        SshCertificateType? expectedType = null,
        string? principal = null)
    {
        ArgumentNullException.ThrowIfNull(trustedAuthorities);
        var signatureKey = SignatureKey;
        if (!trustedAuthorities.Contains(signatureKey))
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.UntrustedAuthority,
                $"SSH certificate '{KeyId}' (serial {Serial}) is signed by {signatureKey}, which is not a trusted certificate authority.");
        }

        if (!VerifySignature())
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.InvalidSignature,
                $"SSH certificate '{KeyId}' (serial {Serial}) has an invalid {SignatureAlgorithm} signature.");
        }

        if (expectedType is { } type && type != Type)
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.WrongType,
                $"SSH certificate '{KeyId}' (serial {Serial}) is a {Type} certificate where a {type} certificate is required.");
        }

        var seconds = now.ToUnixTimeSeconds();
        var nowSeconds = seconds < 0 ? 0UL : (ulong)seconds;
        if (nowSeconds < ValidAfterSeconds)
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.NotYetValid,
                $"SSH certificate '{KeyId}' (serial {Serial}) is not valid before {ValidAfter:O}; check the clock.");
        }

        if (nowSeconds >= ValidBeforeSeconds)
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.Expired,
                $"SSH certificate '{KeyId}' (serial {Serial}) expired at {ValidBefore:O}.");
        }

        if (principal is not null && !AllowsPrincipal(principal))
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.PrincipalNotAllowed,
                $"SSH certificate '{KeyId}' (serial {Serial}) does not list principal '{principal}'.");
        }
    }

    /// <summary>
    /// The Teleport-specific view of the extensions: roles, traits, route to cluster, bot name,
    /// renewable, generation, permit-* flags.
    /// </summary>
    /// <returns>A new view.</returns>
    /// <exception cref="TeleportFormatException">A Teleport extension is malformed (bad JSON, bad number).</exception>
    public TeleportSshCertificateInfo GetTeleportInfo() => new(Extensions);

    /// <inheritdoc />
    public bool Equals(SshCertificate? other) =>
        other is not null && (ReferenceEquals(this, other) || _wire.AsSpan().SequenceEqual(other._wire));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as SshCertificate);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.AddBytes(_wire);
        return hash.ToHashCode();
    }

    /// <summary>Type, key ID, serial and validity; never the certificate bytes.</summary>
    /// <returns>A short description.</returns>
    public override string ToString() =>
        $"{CertificateTypeName} {Type} certificate '{KeyId}' serial {Serial}, valid {ValidAfter:O} to {ValidBefore:O}";

    /// <summary>Takes ownership of an encoded certificate this assembly just built (no copy).</summary>
    /// <exception cref="TeleportFormatException">The bytes are malformed.</exception>
    internal static SshCertificate FromOwnedWire(byte[] wire) => new(wire);

    internal static DateTimeOffset FromUnixSeconds(ulong seconds) =>
        seconds > MaxUnixSeconds ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeSeconds((long)seconds);

    internal static ulong ToUnixSeconds(DateTimeOffset time)
    {
        if (time == DateTimeOffset.MaxValue)
        {
            return ulong.MaxValue;
        }

        var seconds = time.ToUnixTimeSeconds();
        return seconds < 0 ? 0UL : (ulong)seconds;
    }

    private static int CountStrings(ReadOnlySpan<byte> list)
    {
        var reader = new SshWireReader(list, "SSH certificate principals");
        var count = 0;
        while (!reader.IsAtEnd)
        {
            _ = reader.ReadStringRange();
            count++;
        }

        return count;
    }

    /// <summary>Checks the name/data list structure, the string-in-string data, and strict lexical order.</summary>
    private static void ValidateOptions(ReadOnlySpan<byte> list, string what)
    {
        var reader = new SshWireReader(list, what);
        ReadOnlySpan<byte> previous = default;
        var first = true;
        while (!reader.IsAtEnd)
        {
            var name = reader.ReadString();
            var data = reader.ReadString();
            if (!first && name.SequenceCompareTo(previous) <= 0)
            {
                SshWireReader.ThrowFormat(reader.What, "names that are not in strictly increasing lexical order (or repeated)");
            }

            if (!data.IsEmpty)
            {
                var inner = new SshWireReader(data, reader.What);
                _ = inner.ReadString();
                inner.EnsureAtEnd();
            }

            previous = name;
            first = false;
        }
    }

    private static SshKeyFields ReadSignatureKey(ReadOnlySpan<byte> blob)
    {
        var reader = new SshWireReader(blob, "SSH certificate signature key");
        var typeName = reader.ReadString();
        if (!KeyAlgorithmInfo.TryFromSshKeyType(typeName, out var algorithm))
        {
            SshWireReader.ThrowFormat(reader.What, "a CA key type that is not supported (a CA key must be a plain ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa key)");
        }

        var fields = SshKeyFields.Read(ref reader, blob, algorithm);
        reader.EnsureAtEnd();
        return fields;
    }

    private ReadOnlyCollection<string> DecodePrincipals()
    {
        var principals = new string[_principalCount];
        var reader = new SshWireReader(_wire.AsSpan(_principalsOffset, _principalsLength), What);
        for (var i = 0; i < principals.Length; i++)
        {
            principals[i] = Encoding.UTF8.GetString(reader.ReadString());
        }

        return Array.AsReadOnly(principals);
    }

    private ReadOnlyDictionary<string, string> DecodeOptions(int offset, int length)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new SshWireReader(_wire.AsSpan(offset, length), What);
        while (!reader.IsAtEnd)
        {
            var name = Encoding.UTF8.GetString(reader.ReadString());
            var data = reader.ReadString();
            var value = string.Empty;
            if (!data.IsEmpty)
            {
                var inner = new SshWireReader(data, What);
                value = Encoding.UTF8.GetString(inner.ReadString());
            }

            // Distinct byte strings can decode to the same text when they are not valid UTF-8;
            // keep the first, like a reader walking the list would.
            options.TryAdd(name, value);
        }

        return new ReadOnlyDictionary<string, string>(options);
    }

    private bool AllowsPrincipal(string principal)
    {
        var principals = Principals;
        if (principals.Count == 0)
        {
            return Type == SshCertificateType.Host;
        }

        foreach (var candidate in principals)
        {
            if (Type == SshCertificateType.Host ? WildcardMatch(principal, candidate) : candidate == principal)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>OpenSSH's <c>match_pattern</c>: <c>*</c> matches any run, <c>?</c> one character.</summary>
    private static bool WildcardMatch(ReadOnlySpan<char> text, ReadOnlySpan<char> pattern)
    {
        int t = 0, p = 0, starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                t++;
                p++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starT = t;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                t = ++starT;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
