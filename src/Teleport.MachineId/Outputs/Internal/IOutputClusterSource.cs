using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Outputs.Internal;

/// <summary>
/// What an identity output needs of the cluster besides certificates: its name and proxy (for
/// ssh_config), its key algorithm suite, and its certificate authorities (CA files, known_hosts,
/// the identity file). The Teleport implementation asks the cluster; the local one answers from a
/// <see cref="LocalCertificateAuthority"/>.
/// </summary>
internal interface IOutputClusterSource
{
    /// <summary>The cluster and how its proxy is reached.</summary>
    Task<OutputClusterInfo> GetClusterInfoAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The certificate authorities of one type (<c>host</c>, <c>user</c>, <c>db</c>) of the local and
    /// trusted clusters, public parts only, trusted keys (active then additional).
    /// </summary>
    Task<IReadOnlyList<CertificateAuthorityMaterial>> GetCertificateAuthoritiesAsync(string type, CancellationToken cancellationToken);
}

/// <summary>The cluster an output writes for and how ssh reaches its proxy.</summary>
/// <param name="ClusterName">The bot's cluster.</param>
/// <param name="ProxyHost">The proxy host name (host of the SSH proxy address).</param>
/// <param name="ProxyPort">The port the ProxyCommand dials (the web port with TLS routing, else the SSH proxy port).</param>
/// <param name="TlsRouting">Whether the proxy multiplexes on one port.</param>
/// <param name="Suite">The key algorithm suite for output keys.</param>
internal sealed record OutputClusterInfo(string ClusterName, string ProxyHost, int ProxyPort, bool TlsRouting, SignatureAlgorithmSuite Suite)
{
    /// <summary>Whether the ProxyCommand goes through the ALPN connection upgrade (a TLS-routing proxy behind an L7 load balancer).</summary>
    public bool ConnectionUpgrade { get; init; }
}

/// <summary>The public material of one certificate authority.</summary>
/// <param name="ClusterName">The cluster it belongs to.</param>
/// <param name="TlsCertificates">Its trusted TLS certificates.</param>
/// <param name="SshPublicKeys">Its trusted SSH public keys.</param>
internal sealed record CertificateAuthorityMaterial(string ClusterName, IReadOnlyList<X509Certificate2> TlsCertificates, IReadOnlyList<PublicKeyInfo> SshPublicKeys);

/// <summary>A signer together with the cluster it issues for.</summary>
internal interface IOutputBackend : IOutputClusterSource
{
    /// <summary>The signer.</summary>
    ISshCertificateSigner Signer { get; }

    /// <summary>
    /// Bot identity changes that should trigger a renewal of the outputs; <see langword="null"/> when
    /// there is no bot (a local CA).
    /// </summary>
    IBotIdentityProvider? Bot { get; }
}
