using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// Issues the SSH user certificate and the TLS client certificate of an impersonated identity for
/// a public key, with the cluster's CA material, as tbot's identity output requests them; an
/// <see cref="IdentityOutputService"/> writes what any implementation issues.
/// </summary>
/// <remarks>
/// Implementations: <see cref="TeleportSshCertificateSigner"/> (the cluster's Auth Service, on the
/// bot's identity) and <see cref="LocalSshCertificateSigner"/> (a local certificate authority, for
/// offline use and tests); others (another CA, a cache) plug in the same way. Implementations must be
/// safe for concurrent use.
/// </remarks>
public interface ISshCertificateSigner
{
    /// <summary>
    /// Raised when what the signer issues with has changed (for example the bot identity was renewed,
    /// or the cluster's certificate authorities rotated): outputs fed by this signer renew at once.
    /// </summary>
    event EventHandler? CredentialsChanged;

    /// <summary>Issues certificates for <see cref="SshCertificateSigningRequest.PublicKey"/>.</summary>
    /// <param name="request">What to issue.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The certificates and the CA material that goes with them.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The request is invalid (lifetime not positive).</exception>
    /// <exception cref="TeleportAccessDeniedException">The roles may not be impersonated, or the bot is locked or expired.</exception>
    /// <exception cref="TeleportException">The certificates could not be issued (see the subtype; connection failures are transient).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<SignedCertificates> SignAsync(SshCertificateSigningRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// The cluster the signer issues for and how ssh reaches its proxy (for <c>ssh_config</c> and
    /// <c>known_hosts</c>), and the key algorithm suite output keys are generated for.
    /// </summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The cluster.</returns>
    /// <exception cref="TeleportException">The cluster could not be asked (see the subtype).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<OutputClusterInfo> GetClusterInfoAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The certificate authorities of one type of the cluster and its trusted clusters, public parts
    /// only (trusted keys: active, then additional), for the CA files, <c>known_hosts</c> and the identity file.
    /// </summary>
    /// <param name="type">The CA type.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>One entry per cluster; empty when the type is not served.</returns>
    /// <exception cref="TeleportException">The cluster could not be asked (see the subtype).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<IReadOnlyList<CertificateAuthorityMaterial>> GetCertificateAuthoritiesAsync(CertificateAuthorityType type, CancellationToken cancellationToken = default);
}

/// <summary>The cluster an output writes for and how ssh reaches its proxy.</summary>
/// <param name="ClusterName">The cluster's name.</param>
/// <param name="ProxyHost">The proxy host name (host of the SSH proxy address).</param>
/// <param name="ProxyPort">The port the ProxyCommand dials (the web port with TLS routing, else the SSH proxy port).</param>
/// <param name="TlsRouting">Whether the proxy multiplexes every protocol on one port.</param>
/// <param name="Suite">The key algorithm suite output keys are generated for.</param>
public sealed record OutputClusterInfo(string ClusterName, string ProxyHost, int ProxyPort, bool TlsRouting, SignatureAlgorithmSuite Suite)
{
    /// <summary>
    /// Whether the ProxyCommand goes through the ALPN connection upgrade (a TLS-routing proxy behind
    /// an L7 load balancer that does not pass ALPN through). Default <see langword="false"/>.
    /// </summary>
    public bool ConnectionUpgrade { get; init; }
}

/// <summary>The public material of one certificate authority of one cluster.</summary>
/// <param name="ClusterName">The cluster it belongs to.</param>
/// <param name="TlsCertificates">Its trusted TLS certificates (no private keys).</param>
/// <param name="SshPublicKeys">Its trusted SSH public keys.</param>
public sealed record CertificateAuthorityMaterial(string ClusterName, IReadOnlyList<X509Certificate2> TlsCertificates, IReadOnlyList<PublicKeyInfo> SshPublicKeys);

/// <summary>What an <see cref="ISshCertificateSigner"/> is asked to issue (tbot's identity output request).</summary>
public sealed record SshCertificateSigningRequest
{
    /// <summary>The public key both certificates certify.</summary>
    public required PublicKeyInfo PublicKey { get; init; }

    /// <summary>
    /// The roles to impersonate; empty (the default) means every role the bot may impersonate
    /// (tbot: the bot role's <c>impersonate.roles</c>).
    /// </summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>The requested lifetime; the cluster may grant less. Default 1 hour (tbot's <c>credential_ttl</c>).</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The cluster to route to (a leaf cluster); <see langword="null"/> for the bot's own cluster.</summary>
    public string? Cluster { get; init; }

    /// <summary>Whether the certificates may be used to request further certificates (tbot's <c>allow_reissue</c>). Default false.</summary>
    public bool AllowReissue { get; init; }
}

/// <summary>
/// Certificates issued for one key: the SSH user certificate, the TLS client certificate and the
/// CA material tbot writes with them. Immutable; contains no private key.
/// </summary>
public sealed class SignedCertificates
{
    /// <summary>Creates the result and checks that both certificates certify the same key.</summary>
    /// <param name="sshCertificate">The SSH user certificate.</param>
    /// <param name="tlsCertificate">The TLS client certificate (without private key).</param>
    /// <param name="tlsCaCertificates">TLS CA certificates: the user CA and the host CA (tbot's <c>tlscacerts</c>).</param>
    /// <param name="sshCaKeys">SSH CA public keys (user and host CAs, tbot's <c>sshcacerts</c>).</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The certificates certify different keys, or the SSH certificate is not a user certificate.</exception>
    /// <exception cref="TeleportFormatException">The TLS certificate is not a Teleport identity.</exception>
    public SignedCertificates(
        SshCertificate sshCertificate,
        X509Certificate2 tlsCertificate,
        IEnumerable<X509Certificate2> tlsCaCertificates,
        IEnumerable<PublicKeyInfo> sshCaKeys)
    {
        ArgumentNullException.ThrowIfNull(sshCertificate);
        ArgumentNullException.ThrowIfNull(tlsCertificate);
        ArgumentNullException.ThrowIfNull(tlsCaCertificates);
        ArgumentNullException.ThrowIfNull(sshCaKeys);
        if (sshCertificate.Type != SshCertificateType.User)
        {
            throw new ArgumentException("The SSH certificate must be a user certificate.", nameof(sshCertificate));
        }

        var tlsKey = PublicKeyInfo.ImportSubjectPublicKeyInfo(tlsCertificate.PublicKey.ExportSubjectPublicKeyInfo());
        if (tlsKey != sshCertificate.PublicKey)
        {
            throw new ArgumentException("The SSH and TLS certificates certify different keys.", nameof(tlsCertificate));
        }

        SshCertificate = sshCertificate;
        TlsCertificate = tlsCertificate;
        TlsIdentity = TeleportTlsIdentity.FromCertificate(tlsCertificate);
        TlsCaCertificates = [.. tlsCaCertificates];
        SshCaKeys = [.. sshCaKeys];
        NotAfter = TlsIdentity.NotAfter < sshCertificate.ValidBefore ? TlsIdentity.NotAfter : sshCertificate.ValidBefore;
        NotBefore = TlsIdentity.NotBefore > sshCertificate.ValidAfter ? TlsIdentity.NotBefore : sshCertificate.ValidAfter;
    }

    /// <summary>The SSH user certificate (<c>key-cert.pub</c>).</summary>
    public SshCertificate SshCertificate { get; }

    /// <summary>The TLS client certificate (<c>tlscert</c>), without private key.</summary>
    public X509Certificate2 TlsCertificate { get; }

    /// <summary>The Teleport view of <see cref="TlsCertificate"/> (user, roles, impersonator, route to cluster, …).</summary>
    public TeleportTlsIdentity TlsIdentity { get; }

    /// <summary>TLS CA certificates (user CA and host CA) that go with the identity.</summary>
    public IReadOnlyList<X509Certificate2> TlsCaCertificates { get; }

    /// <summary>SSH CA public keys (user and host CAs) that go with the identity.</summary>
    public IReadOnlyList<PublicKeyInfo> SshCaKeys { get; }

    /// <summary>The cluster that issued the certificates.</summary>
    public string ClusterName => TlsIdentity.ClusterName;

    /// <summary>The cluster the certificates route to (the issuing cluster unless a leaf was requested).</summary>
    public string TargetCluster => string.IsNullOrEmpty(TlsIdentity.RouteToCluster) ? TlsIdentity.ClusterName : TlsIdentity.RouteToCluster;

    /// <summary>When both certificates are valid from (the later start).</summary>
    public DateTimeOffset NotBefore { get; }

    /// <summary>When the first of the two certificates expires.</summary>
    public DateTimeOffset NotAfter { get; }

    /// <summary>Describes the certificates without secrets.</summary>
    /// <returns>User, roles, principals and expiry.</returns>
    public override string ToString() =>
        $"{TlsIdentity.Username} roles [{string.Join(", ", TlsIdentity.Roles)}] principals [{string.Join(", ", SshCertificate.Principals)}] valid until {NotAfter:u}";
}
