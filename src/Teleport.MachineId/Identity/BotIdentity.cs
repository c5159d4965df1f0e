using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId;

/// <summary>
/// One immutable snapshot of the bot's own identity: its private key, the TLS and SSH
/// certificates issued for it, and the cluster's certificate authorities that came with them.
/// </summary>
/// <remarks>
/// <para>
/// A provider replaces the whole snapshot on every join or renewal and never changes one in
/// place, so a snapshot read once stays consistent (key and certificates always match). Old
/// snapshots are not disposed by the provider, because readers may still hold them; their key
/// handles are released by the garbage collector.
/// </para>
/// <para>Thread safety: every member is safe to read from any thread.</para>
/// </remarks>
public sealed class BotIdentity
{
    private BotIdentity(
        PrivateKey privateKey,
        X509Certificate2 tlsCertificate,
        TeleportTlsIdentity tlsIdentity,
        SshCertificate sshCertificate,
        IReadOnlyList<X509Certificate2> tlsCaCertificates,
        IReadOnlyList<PublicKeyInfo> sshCaKeys,
        string joinMethod,
        BotIdentityMaterial material)
    {
        PrivateKey = privateKey;
        TlsCertificate = tlsCertificate;
        TlsIdentity = tlsIdentity;
        SshCertificate = sshCertificate;
        TlsCaCertificates = tlsCaCertificates;
        SshCaKeys = sshCaKeys;
        JoinMethod = joinMethod;
        Material = material;
        NotBefore = tlsIdentity.NotBefore > sshCertificate.ValidAfter ? tlsIdentity.NotBefore : sshCertificate.ValidAfter;
        NotAfter = tlsIdentity.NotAfter < sshCertificate.ValidBefore ? tlsIdentity.NotAfter : sshCertificate.ValidBefore;
    }

    /// <summary>The private key both certificates are issued for.</summary>
    public PrivateKey PrivateKey { get; }

    /// <summary>
    /// The bot's X.509 certificate with <see cref="PrivateKey"/> attached, ready to present as a
    /// TLS client certificate.
    /// </summary>
    public X509Certificate2 TlsCertificate { get; }

    /// <summary>The Teleport view of <see cref="TlsCertificate"/> (user, roles, generation, bot name, …).</summary>
    public TeleportTlsIdentity TlsIdentity { get; }

    /// <summary>The bot's SSH user certificate.</summary>
    public SshCertificate SshCertificate { get; }

    /// <summary>The cluster's TLS CA certificates that came with the identity (user and host CAs).</summary>
    public IReadOnlyList<X509Certificate2> TlsCaCertificates { get; }

    /// <summary>The cluster's SSH CA public keys that came with the identity (user and host CAs).</summary>
    public IReadOnlyList<PublicKeyInfo> SshCaKeys { get; }

    /// <summary>The cluster the identity belongs to (the TLS issuer's organization).</summary>
    public string ClusterName => TlsIdentity.ClusterName;

    /// <summary>The Teleport user of the bot, <c>bot-&lt;name&gt;</c>.</summary>
    public string Username => TlsIdentity.Username;

    /// <summary>The bot's name, or the user name without its <c>bot-</c> prefix when the certificate does not say.</summary>
    public string BotName => TlsIdentity.BotName
        ?? (Username.StartsWith("bot-", StringComparison.Ordinal) ? Username[4..] : Username);

    /// <summary>The bot instance id the cluster assigned at join, or <see langword="null"/> when the certificate has none.</summary>
    public string? InstanceId => TlsIdentity.BotInstanceId;

    /// <summary>
    /// The renewal generation (1 after a join, +1 per renewal). The cluster locks the bot if a
    /// renewal ever presents a generation other than the latest one.
    /// </summary>
    public int Generation => TlsIdentity.Generation;

    /// <summary>Whether the identity can be renewed directly (token joins) rather than by joining again.</summary>
    public bool IsRenewable => TlsIdentity.IsRenewable;

    /// <summary>The join method that produced the identity (for example <c>token</c>).</summary>
    public string JoinMethod { get; }

    /// <summary>When both certificates are valid from (the later of the two starts).</summary>
    public DateTimeOffset NotBefore { get; }

    /// <summary>When the first of the two certificates expires.</summary>
    public DateTimeOffset NotAfter { get; }

    /// <summary>The encodings the identity was built from, for storage.</summary>
    internal BotIdentityMaterial Material { get; }

    /// <summary>The validity period.</summary>
    public TimeSpan Lifetime => NotAfter - NotBefore;

    /// <summary>Whether the identity is expired at <paramref name="now"/>.</summary>
    /// <param name="now">The current time (from the provider's <see cref="TimeProvider"/>).</param>
    /// <returns><see langword="true"/> when <paramref name="now"/> is at or past <see cref="NotAfter"/>.</returns>
    public bool IsExpiredAt(DateTimeOffset now) => now >= NotAfter;

    /// <summary>Names the identity without any secret.</summary>
    /// <returns>User, cluster, generation and validity.</returns>
    public override string ToString() =>
        $"{Username}@{ClusterName} generation {Generation} valid {NotBefore:u} to {NotAfter:u}";

    /// <summary>
    /// Builds and checks an identity: the key matches both certificates, both certificates are
    /// issued by one of the CAs that came with them, the TLS certificate is a Teleport identity.
    /// </summary>
    /// <exception cref="TeleportFormatException">A part cannot be parsed.</exception>
    /// <exception cref="CertificateValidationException">The parts do not belong together or are not signed by the given CAs.</exception>
    internal static BotIdentity Create(PrivateKey privateKey, BotIdentityMaterial material)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        ArgumentNullException.ThrowIfNull(material);
        var tlsIdentity = TeleportTlsIdentity.FromPem(material.TlsCertificatePem);
        var ssh = SshCertificate.ParseAuthorizedKey(material.SshCertificate);
        var tlsCas = new List<X509Certificate2>(material.TlsCaCertificatesPem.Count);
        foreach (var pem in material.TlsCaCertificatesPem)
        {
            tlsCas.Add(LoadCertificatePem(pem, "TLS CA certificate"));
        }

        var sshCas = new List<PublicKeyInfo>(material.SshCaKeys.Count);
        foreach (var line in material.SshCaKeys)
        {
            sshCas.Add(ParseCaLine(line));
        }

        if (ssh.PublicKey != privateKey.PublicKey)
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.WrongType,
                "The bot's SSH certificate is for a different key than the bot's private key.");
        }

        if (ssh.Type != SshCertificateType.User)
        {
            throw new CertificateValidationException(CertificateValidationFailure.WrongType, "The bot's SSH certificate is not a user certificate.");
        }

        if (!sshCas.Contains(ssh.SignatureKey) || !ssh.VerifySignature())
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.UntrustedAuthority,
                $"The bot's SSH certificate is not signed by one of the cluster's SSH CAs that came with it ({ssh.SignatureKey}).");
        }

        X509Certificate2 tlsWithKey;
        try
        {
            tlsWithKey = privateKey.CopyWithPrivateKey(tlsIdentity.Certificate);
        }
        catch (ArgumentException ex)
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.WrongType, "The bot's TLS certificate is for a different key than the bot's private key.", ex);
        }

        if (!tlsCas.Any(ca => IsIssuedBy(tlsIdentity.Certificate, ca)))
        {
            throw new CertificateValidationException(
                CertificateValidationFailure.UntrustedAuthority,
                $"The bot's TLS certificate (issuer '{tlsIdentity.Certificate.Issuer}') is not signed by one of the cluster's TLS CAs that came with it.");
        }

        return new BotIdentity(privateKey, tlsWithKey, tlsIdentity, ssh, tlsCas, sshCas, material.JoinMethod, material);
    }

    private static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 issuer)
    {
        if (!certificate.IssuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
        {
            return false;
        }

        // Signature only: validity is judged against the injected clock by the caller, never the wall clock.
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(issuer);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid | X509VerificationFlags.IgnoreCtlNotTimeValid;
        chain.ChainPolicy.VerificationTimeIgnored = true;
        return chain.Build(certificate) && chain.ChainElements.Count == 2;
    }

    private static X509Certificate2 LoadCertificatePem(string pem, string what)
    {
        try
        {
            return X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            throw new TeleportFormatException($"The {what} is not a PEM X.509 certificate.", ex);
        }
        catch (ArgumentException ex)
        {
            throw new TeleportFormatException($"The {what} is not a PEM X.509 certificate.", ex);
        }
    }

    private static PublicKeyInfo ParseCaLine(string line)
    {
        // Teleport sends CA keys as authorized_keys lines, sometimes with "@cert-authority" style
        // options in front; the key is the first "<type> <base64>" pair.
        return PublicKeyInfo.ParseAuthorizedKey(line.Trim());
    }
}

/// <summary>The text encodings of a bot identity, as issued and as stored (no private key).</summary>
/// <param name="TlsCertificatePem">The TLS certificate, PEM.</param>
/// <param name="SshCertificate">The SSH certificate, one authorized_keys line.</param>
/// <param name="TlsCaCertificatesPem">The TLS CA certificates, one PEM each.</param>
/// <param name="SshCaKeys">The SSH CA keys, one authorized_keys line each.</param>
/// <param name="JoinMethod">The join method that produced the identity.</param>
internal sealed record BotIdentityMaterial(
    string TlsCertificatePem,
    string SshCertificate,
    IReadOnlyList<string> TlsCaCertificatesPem,
    IReadOnlyList<string> SshCaKeys,
    string JoinMethod)
{
    /// <summary>The material of certificates issued on a join or renewal by <paramref name="joinMethod"/>.</summary>
    public static BotIdentityMaterial From(Identity.Internal.IssuedBotCertificates certificates, string joinMethod) => new(
        certificates.TlsCertificatePem,
        certificates.SshCertificate.Trim(),
        certificates.TlsCaCertificatesPem,
        certificates.SshCaKeys.Select(static line => line.Trim()).ToArray(),
        joinMethod);
}
