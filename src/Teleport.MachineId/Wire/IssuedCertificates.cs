using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Wire;

/// <summary>
/// Certificates the cluster issued in one reply (a join, a renewal or an impersonated identity):
/// Teleport's <c>proto.Certs</c> / <c>teleport.join.v1.Certificates</c>, checked and typed.
/// </summary>
/// <remarks>
/// Every part is parsed when the reply arrives, so a malformed reply fails at the call with a
/// <see cref="TeleportProtocolException"/> instead of later in a consumer. Either certificate may be
/// absent when the request asked only for the other one. Immutable; the certificates are not
/// disposed by this type (they are plain public certificates without keys); CA certificates are
/// shared instances (<see cref="CertificateCache"/>) and must never be disposed.
/// </remarks>
internal sealed class IssuedCertificates
{
    private IssuedCertificates(
        SshCertificate? ssh,
        X509Certificate2? tls,
        TeleportTlsIdentity? tlsIdentity,
        IReadOnlyList<X509Certificate2> tlsCas,
        IReadOnlyList<PublicKeyInfo> sshCaKeys)
    {
        SshCertificate = ssh;
        TlsCertificate = tls;
        TlsIdentity = tlsIdentity;
        TlsCaCertificates = tlsCas;
        SshCaKeys = sshCaKeys;
    }

    /// <summary>The SSH user certificate, or <see langword="null"/> when none was requested.</summary>
    public SshCertificate? SshCertificate { get; }

    /// <summary>The X.509 client certificate, or <see langword="null"/> when none was requested.</summary>
    public X509Certificate2? TlsCertificate { get; }

    /// <summary>The Teleport identity encoded in <see cref="TlsCertificate"/>.</summary>
    public TeleportTlsIdentity? TlsIdentity { get; }

    /// <summary>
    /// The TLS CA certificates sent along: user and host CA for bot identities (join and renewal),
    /// the user CA only for impersonated identities (teleport-protocol.md §3.5, §5.1).
    /// </summary>
    public IReadOnlyList<X509Certificate2> TlsCaCertificates { get; }

    /// <summary>The SSH CA public keys sent along (user and host CA for bot identities).</summary>
    public IReadOnlyList<PublicKeyInfo> SshCaKeys { get; }

    /// <summary>The TLS certificate as PEM (<c>tlscert</c>), or <see langword="null"/>.</summary>
    public string? TlsCertificatePem => TlsCertificate is null ? null : ToPem(TlsCertificate);

    /// <summary>The TLS CA certificates as PEM, one block each.</summary>
    public IReadOnlyList<string> TlsCaCertificatePems => TlsCaCertificates.Select(ToPem).ToArray();

    /// <summary>The SSH certificate as an authorized_keys line with a final newline (<c>key-cert.pub</c>), or <see langword="null"/>.</summary>
    public string? SshCertificateLine => SshCertificate is null ? null : SshCertificate.ToAuthorizedKey() + "\n";

    /// <summary>The SSH CA keys as authorized_keys lines (no newline), as Teleport stores them.</summary>
    public IReadOnlyList<string> SshCaKeyLines => SshCaKeys.Select(k => k.ToAuthorizedKey()).ToArray();

    /// <summary>
    /// Reads a legacy <c>proto.Certs</c> (gRPC or the JSON of <c>/webapi/host/credentials</c>): SSH
    /// certificate as an authorized_keys line, TLS certificate and CAs as PEM, SSH CAs as
    /// authorized_keys lines.
    /// </summary>
    /// <param name="ssh">Field 1.</param>
    /// <param name="tls">Field 2.</param>
    /// <param name="tlsCaCerts">Field 3.</param>
    /// <param name="sshCaCerts">Field 4.</param>
    /// <param name="source">What answered, for error messages (e.g. <c>GenerateUserCerts on auth.example.com:3025</c>).</param>
    /// <returns>The typed certificates.</returns>
    /// <exception cref="TeleportProtocolException">A part is malformed.</exception>
    public static IssuedCertificates FromLegacy(
        ReadOnlySpan<byte> ssh, ReadOnlySpan<byte> tls, IEnumerable<ReadOnlyMemory<byte>> tlsCaCerts, IEnumerable<ReadOnlyMemory<byte>> sshCaCerts, string source)
    {
        try
        {
            var sshCert = ssh.IsEmpty ? null : SshCertificate.ParseAuthorizedKey(Encoding.UTF8.GetString(ssh));
            var tlsCert = tls.IsEmpty ? null : ReadSinglePemCertificate(Encoding.UTF8.GetString(tls), "TLS certificate");
            var cas = new List<X509Certificate2>();
            foreach (var pem in tlsCaCerts)
            {
                cas.AddRange(ReadPemCertificates(Encoding.UTF8.GetString(pem.Span), "TLS CA certificate"));
            }

            var sshCas = new List<PublicKeyInfo>();
            foreach (var line in sshCaCerts)
            {
                sshCas.Add(PublicKeyInfo.ParseAuthorizedKey(Encoding.UTF8.GetString(line.Span)));
            }

            return Create(sshCert, tlsCert, cas, sshCas);
        }
        catch (TeleportFormatException ex)
        {
            throw Malformed(source, ex);
        }
    }

    /// <summary>Reads a legacy <c>proto.Certs</c> message.</summary>
    /// <param name="certs">The message.</param>
    /// <param name="source">What answered, for error messages.</param>
    /// <returns>The typed certificates.</returns>
    /// <exception cref="TeleportProtocolException">A part is malformed.</exception>
    public static IssuedCertificates FromProto(Proto.Legacy.Client.Certs certs, string source) =>
        FromLegacy(certs.SSH.Span, certs.TLS.Span, certs.TLSCACerts.Select(b => b.Memory), certs.SSHCACerts.Select(b => b.Memory), source);

    /// <summary>
    /// Reads the certificates of the unified join service (<c>teleport.join.v1.Certificates</c>):
    /// DER X.509 and SSH wire encodings.
    /// </summary>
    /// <param name="certificates">The message.</param>
    /// <param name="source">What answered, for error messages.</param>
    /// <returns>The typed certificates.</returns>
    /// <exception cref="TeleportProtocolException">A part is malformed or missing.</exception>
    public static IssuedCertificates FromJoinService(Proto.Join.V1.Certificates certificates, string source)
    {
        try
        {
            var sshCert = certificates.SshCert.IsEmpty ? null : SshCertificate.FromWire(certificates.SshCert.Span);
            var tlsCert = certificates.TlsCert.IsEmpty ? null : LoadDer(certificates.TlsCert.Span, "TLS certificate", shared: false);
            var cas = certificates.TlsCaCerts.Select(c => LoadDer(c.Span, "TLS CA certificate", shared: true)).ToList();
            var sshCas = certificates.SshCaKeys.Select(k => PublicKeyInfo.FromSshWire(k.Span)).ToList();
            return Create(sshCert, tlsCert, cas, sshCas);
        }
        catch (TeleportFormatException ex)
        {
            throw Malformed(source, ex);
        }
    }

    /// <summary>Builds an instance from parts already parsed (for example read back from storage).</summary>
    /// <param name="ssh">SSH certificate.</param>
    /// <param name="tls">TLS certificate.</param>
    /// <param name="tlsCas">TLS CA certificates.</param>
    /// <param name="sshCaKeys">SSH CA keys.</param>
    /// <returns>The instance.</returns>
    /// <exception cref="TeleportFormatException">The TLS certificate is not a Teleport identity.</exception>
    public static IssuedCertificates Create(
        SshCertificate? ssh, X509Certificate2? tls, IEnumerable<X509Certificate2> tlsCas, IEnumerable<PublicKeyInfo> sshCaKeys)
    {
        var identity = tls is null ? null : TeleportTlsIdentity.FromCertificate(tls);
        return new IssuedCertificates(ssh, tls, identity, tlsCas.ToArray(), sshCaKeys.ToArray());
    }

    /// <summary>Reads every <c>CERTIFICATE</c> block of a PEM text.</summary>
    /// <param name="pem">PEM text.</param>
    /// <param name="what">What the text is, for messages.</param>
    /// <param name="shared">
    /// Return shared instances from <see cref="CertificateCache"/> (for CA certificates, which repeat);
    /// the caller must not dispose them.
    /// </param>
    /// <returns>The certificates, at least one.</returns>
    /// <exception cref="TeleportFormatException">No certificate block, or one is malformed.</exception>
    public static List<X509Certificate2> ReadPemCertificates(string pem, string what, bool shared = true)
    {
        var list = new List<X509Certificate2>();
        foreach (var (label, der) in PemBlocks.Read(pem))
        {
            if (label == "CERTIFICATE")
            {
                list.Add(LoadDer(der, what, shared));
            }
        }

        if (list.Count == 0)
        {
            throw new TeleportFormatException($"The {what} contains no PEM CERTIFICATE block.");
        }

        return list;
    }

    /// <summary>Reads a PEM text that must hold exactly one certificate (an issued TLS certificate).</summary>
    /// <param name="pem">The PEM text.</param>
    /// <param name="what">What it is, for messages.</param>
    /// <returns>The certificate (not shared: the caller owns it).</returns>
    /// <exception cref="TeleportFormatException">No certificate block, more than one, or one is malformed.</exception>
    public static X509Certificate2 ReadSinglePemCertificate(string pem, string what)
    {
        var certificates = ReadPemCertificates(pem, what, shared: false);
        if (certificates.Count == 1)
        {
            return certificates[0];
        }

        foreach (var certificate in certificates)
        {
            certificate.Dispose();
        }

        throw new TeleportFormatException($"The {what} holds {certificates.Count} PEM CERTIFICATE blocks; exactly one was expected.");
    }

    /// <summary>A certificate as one PEM block with a final newline.</summary>
    public static string ToPem(X509Certificate2 certificate) => certificate.ExportCertificatePem() + "\n";

    private static X509Certificate2 LoadDer(ReadOnlySpan<byte> der, string what, bool shared)
    {
        try
        {
            return shared ? CertificateCache.Get(der) : X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException ex)
        {
            throw new TeleportFormatException($"The {what} is not a valid X.509 certificate.", ex);
        }
    }

    private static TeleportProtocolException Malformed(string source, TeleportFormatException ex) =>
        new($"{source} returned malformed certificates: {ex.Message} Check that the server is a Teleport 18 cluster.", ex);
}
