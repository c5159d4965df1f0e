using System.Security.Cryptography;
using System.Text;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// Builds and signs OpenSSH user and host certificates (PROTOCOL.certkeys) with a CA
/// <see cref="PrivateKey"/> of any supported type.
/// </summary>
/// <remarks>
/// <para>
/// Set the properties (object and collection initialisers work), then call <see cref="Sign"/>;
/// a builder can sign many certificates. Critical options and extensions are written in lexical
/// order by name, as OpenSSH requires; an empty value encodes a flag (empty data), any other
/// value is encoded as a string inside the data string. Not safe for concurrent modification;
/// concurrent <see cref="Sign"/> calls on an unchanging builder are fine.
/// </para>
/// <example>
/// <code>
/// var certificate = new SshCertificateBuilder
/// {
///     PublicKey = userKey.PublicKey,
///     Type = SshCertificateType.User,
///     KeyId = "bot-example",
///     Principals = { "root" },
///     ValidAfter = now.AddMinutes(-1),
///     ValidBefore = now.AddHours(1),
///     Extensions = { ["permit-pty"] = "" },
/// }.Sign(userCa);
/// </code>
/// </example>
/// </remarks>
public sealed class SshCertificateBuilder
{
    private static readonly CodePointComparer NameOrder = new();

    /// <summary>The key to certify (required).</summary>
    public PublicKeyInfo? PublicKey { get; set; }

    /// <summary>User (default) or host certificate.</summary>
    public SshCertificateType Type { get; set; } = SshCertificateType.User;

    /// <summary>The key ID (Teleport: the user name). Default empty.</summary>
    public string KeyId { get; set; } = string.Empty;

    /// <summary>The serial number. Default 0 (what Teleport uses).</summary>
    public ulong Serial { get; set; }

    /// <summary>The principals (logins for user certificates, host names for host certificates), in order.</summary>
    public IList<string> Principals { get; } = new List<string>();

    /// <summary>
    /// Start of validity, truncated to whole seconds. Default <see cref="DateTimeOffset.UnixEpoch"/>;
    /// that or anything earlier encodes 0 ("always").
    /// </summary>
    public DateTimeOffset ValidAfter { get; set; } = DateTimeOffset.UnixEpoch;

    /// <summary>
    /// End of validity (exclusive), truncated to whole seconds. Default
    /// <see cref="DateTimeOffset.MaxValue"/>, which encodes OpenSSH's "forever".
    /// </summary>
    public DateTimeOffset ValidBefore { get; set; } = DateTimeOffset.MaxValue;

    /// <summary>Critical options by name (e.g. <c>source-address</c>, <c>force-command</c>); empty value = flag.</summary>
    public IDictionary<string, string> CriticalOptions { get; } = new SortedDictionary<string, string>(NameOrder);

    /// <summary>Extensions by name (e.g. <c>permit-pty</c>, <c>teleport-roles</c>); empty value = flag.</summary>
    public IDictionary<string, string> Extensions { get; } = new SortedDictionary<string, string>(NameOrder);

    /// <summary>The nonce; <see langword="null"/> (default) draws 32 random bytes per signature. Set it only for reproducible tests.</summary>
    public byte[]? Nonce { get; set; }

    /// <summary>
    /// The signature algorithm, or <see langword="null"/> (default) for the CA key's natural one:
    /// <c>rsa-sha2-512</c> for RSA (as Teleport signs), the key type otherwise. RSA CAs also
    /// accept <c>rsa-sha2-256</c> and legacy <c>ssh-rsa</c> (SHA-1; only for interoperability tests).
    /// </summary>
    public string? SignatureAlgorithm { get; set; }

    /// <summary>Adds the extensions <c>ssh-keygen</c> gives a user certificate by default (all <c>permit-*</c> flags).</summary>
    /// <returns>This builder.</returns>
    public SshCertificateBuilder AddDefaultUserExtensions()
    {
        Extensions[TeleportSshCertificateInfo.PermitX11ForwardingExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitAgentForwardingExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitPortForwardingExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitPtyExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitUserRcExtension] = string.Empty;
        return this;
    }

    /// <summary>Encodes the certificate and signs it with <paramref name="certificateAuthority"/>.</summary>
    /// <param name="certificateAuthority">The CA key.</param>
    /// <returns>The signed certificate.</returns>
    /// <exception cref="InvalidOperationException">
    /// <see cref="PublicKey"/> is not set, the validity period is empty, an option name is empty,
    /// <see cref="Type"/> is undefined, or <see cref="SignatureAlgorithm"/> does not fit the CA key.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The CA key was disposed.</exception>
    public SshCertificate Sign(PrivateKey certificateAuthority)
    {
        ArgumentNullException.ThrowIfNull(certificateAuthority);
        var subject = PublicKey ?? throw new InvalidOperationException("Set PublicKey before signing a certificate.");
        if (Type is not (SshCertificateType.User or SshCertificateType.Host))
        {
            throw new InvalidOperationException("Type must be User or Host.");
        }

        var algorithm = SignatureAlgorithm ?? SshSignature.DefaultAlgorithm(certificateAuthority.Algorithm);
        if (!SshSignature.IsCompatible(certificateAuthority.Algorithm, algorithm))
        {
            throw new InvalidOperationException(
                $"Signature algorithm '{algorithm}' cannot be used with a {certificateAuthority.Algorithm} CA key.");
        }

        var validAfter = SshCertificate.ToUnixSeconds(ValidAfter);
        var validBefore = SshCertificate.ToUnixSeconds(ValidBefore);
        if (validAfter >= validBefore)
        {
            throw new InvalidOperationException("ValidBefore must be later than ValidAfter (in whole seconds).");
        }

        var writer = new SshWireWriter(1024 + (certificateAuthority.PublicKey.KeySizeInBits / 4));
        try
        {
            writer.WriteString(KeyAlgorithmInfo.CertificateType(subject.Algorithm));
            if (Nonce is { } nonce)
            {
                writer.WriteString(nonce);
            }
            else
            {
                writer.WriteUInt32(32);
                RandomNumberGenerator.Fill(writer.GetSpan(32)[..32]);
                writer.Advance(32);
            }

            writer.WriteRaw(subject.KeyFieldsSpan);
            writer.WriteUInt64(Serial);
            writer.WriteUInt32((uint)Type);
            writer.WriteString(KeyId ?? string.Empty);
            var principals = writer.BeginNested();
            foreach (var principal in Principals)
            {
                writer.WriteString(principal ?? string.Empty);
            }

            writer.EndNested(principals);
            writer.WriteUInt64(validAfter);
            writer.WriteUInt64(validBefore);
            WriteOptions(ref writer, CriticalOptions);
            WriteOptions(ref writer, Extensions);
            writer.WriteString(ReadOnlySpan<byte>.Empty); // reserved
            writer.WriteString(certificateAuthority.PublicKey.WireSpan);

            var signedLength = writer.Length;
            var signature = writer.BeginNested();
            SshSignature.Write(certificateAuthority, algorithm, writer.WrittenSpan[..signedLength], ref writer);
            writer.EndNested(signature);
            return SshCertificate.FromOwnedWire(writer.ToArray());
        }
        finally
        {
            writer.Dispose();
        }
    }

    private static void WriteOptions(ref SshWireWriter writer, IDictionary<string, string> options)
    {
        var list = writer.BeginNested();
        foreach (var (name, value) in options)
        {
            if (string.IsNullOrEmpty(name))
            {
                throw new InvalidOperationException("Certificate option and extension names must not be empty.");
            }

            writer.WriteString(name);
            if (string.IsNullOrEmpty(value))
            {
                writer.WriteUInt32(0);
            }
            else
            {
                var data = writer.BeginNested();
                writer.WriteString(value);
                writer.EndNested(data);
            }
        }

        writer.EndNested(list);
    }

    /// <summary>Orders names by Unicode code point, which is the byte order of their UTF-8 encoding.</summary>
    private sealed class CodePointComparer : IComparer<string>
    {
        public int Compare(string? x, string? y)
        {
            if (x is null || y is null)
            {
                return x is null ? (y is null ? 0 : -1) : 1;
            }

            var left = x.EnumerateRunes();
            var right = y.EnumerateRunes();
            while (true)
            {
                var hasLeft = left.MoveNext();
                var hasRight = right.MoveNext();
                if (!hasLeft || !hasRight)
                {
                    return hasLeft ? 1 : hasRight ? -1 : 0;
                }

                var order = left.Current.Value.CompareTo(right.Current.Value);
                if (order != 0)
                {
                    return order;
                }
            }
        }
    }
}
