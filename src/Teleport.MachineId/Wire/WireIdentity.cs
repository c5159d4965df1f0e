using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Wire;

/// <summary>
/// What the wire layer needs of an identity to open mutually authenticated TLS connections: the
/// client certificate with its private key, and the cluster's TLS CA certificates that server
/// certificates are verified against (never the OS trust store).
/// </summary>
/// <remarks>
/// Immutable snapshot. The wire client reads the current one through a
/// <c>Func&lt;WireIdentity?&gt;</c> before every call: connections are pooled per identity, so a
/// renewed identity is used by every call made after the swap while calls already running keep
/// their connections. Nothing here is logged except the certificate's serial and user name.
/// </remarks>
internal sealed class WireIdentity
{
    private WireIdentity(X509Certificate2 clientCertificate, TeleportTlsIdentity tls, X509Certificate2Collection trusted)
    {
        ClientCertificate = clientCertificate;
        Tls = tls;
        TrustedCertificateAuthorities = trusted;
        ConnectionLabel = ComputeLabel(clientCertificate, trusted);
    }

    /// <summary>The client certificate, with its private key attached.</summary>
    public X509Certificate2 ClientCertificate { get; }

    /// <summary>The Teleport identity of <see cref="ClientCertificate"/> (user, cluster, generation, …).</summary>
    public TeleportTlsIdentity Tls { get; }

    /// <summary>The name of the cluster that issued the certificate.</summary>
    public string ClusterName => Tls.ClusterName;

    /// <summary>The TLS CA certificates that Auth and proxy server certificates must chain to.</summary>
    public X509Certificate2Collection TrustedCertificateAuthorities { get; }

    /// <summary>A short DNS-safe label unique to the certificate and trust set (keys connection pools).</summary>
    internal string ConnectionLabel { get; }

    /// <summary>Creates an identity from a key and the certificates issued for it.</summary>
    /// <param name="privateKey">The private key (RSA or ECDSA); it is copied into the certificate, so the caller keeps ownership.</param>
    /// <param name="certificate">The TLS client certificate for <paramref name="privateKey"/>.</param>
    /// <param name="trustedCertificateAuthorities">The cluster's TLS CA certificates (at least the host CA).</param>
    /// <returns>The identity.</returns>
    /// <exception cref="ArgumentException">The certificate is for another key, or no CA certificate is given.</exception>
    /// <exception cref="NotSupportedException">The key is Ed25519, which .NET TLS cannot use.</exception>
    /// <exception cref="TeleportFormatException">The certificate is not a Teleport identity.</exception>
    public static WireIdentity Create(PrivateKey privateKey, X509Certificate2 certificate, IEnumerable<X509Certificate2> trustedCertificateAuthorities)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(trustedCertificateAuthorities);
        var trusted = new X509Certificate2Collection();
        foreach (var ca in trustedCertificateAuthorities)
        {
            trusted.Add(ca);
        }

        if (trusted.Count == 0)
        {
            throw new ArgumentException("At least one TLS CA certificate is needed to verify the cluster's servers.", nameof(trustedCertificateAuthorities));
        }

        var tls = TeleportTlsIdentity.FromCertificate(certificate);
        var withKey = privateKey.CopyWithPrivateKey(certificate);
        return new WireIdentity(withKey, tls, trusted);
    }

    /// <summary>Creates an identity from a key and a reply that issued a TLS certificate for it.</summary>
    /// <param name="privateKey">The private key the certificates were issued for.</param>
    /// <param name="certificates">The reply; its TLS CA certificates become the trust set.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="ArgumentException">The reply has no TLS certificate or no CA certificates, or is for another key.</exception>
    /// <exception cref="NotSupportedException">The key is Ed25519.</exception>
    public static WireIdentity Create(PrivateKey privateKey, IssuedCertificates certificates)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        var tls = certificates.TlsCertificate
            ?? throw new ArgumentException("The reply has no TLS certificate.", nameof(certificates));
        return Create(privateKey, tls, certificates.TlsCaCertificates);
    }

    /// <summary>Creates an identity from PEM text, as stored on disk (<c>tlscert</c>, <c>tlscacerts</c>).</summary>
    /// <param name="privateKey">The private key.</param>
    /// <param name="certificatePem">The TLS certificate PEM.</param>
    /// <param name="trustedCertificateAuthorityPems">PEM texts holding the CA certificates.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="TeleportFormatException">A PEM text is malformed.</exception>
    /// <exception cref="ArgumentException">The certificate is for another key, or there is no CA certificate.</exception>
    /// <exception cref="NotSupportedException">The key is Ed25519.</exception>
    public static WireIdentity FromPem(PrivateKey privateKey, string certificatePem, IEnumerable<string> trustedCertificateAuthorityPems)
    {
        ArgumentNullException.ThrowIfNull(certificatePem);
        ArgumentNullException.ThrowIfNull(trustedCertificateAuthorityPems);
        var certificate = IssuedCertificates.ReadPemCertificates(certificatePem, "TLS certificate", shared: false)[0];
        var cas = trustedCertificateAuthorityPems.SelectMany(p => IssuedCertificates.ReadPemCertificates(p, "TLS CA certificate"));
        return Create(privateKey, certificate, cas);
    }

    /// <summary>The user name and serial; never key or certificate bytes.</summary>
    /// <returns>A short description.</returns>
    public override string ToString() => $"{Tls.Username} (serial {Tls.SerialNumber}, cluster {ClusterName})";

    private static string ComputeLabel(X509Certificate2 certificate, X509Certificate2Collection trusted)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(certificate.RawDataMemory.Span);
        foreach (var ca in trusted)
        {
            hash.AppendData(ca.RawDataMemory.Span);
        }

        return "id-" + Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 10));
    }
}
