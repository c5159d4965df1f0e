using System.Collections.ObjectModel;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// A cluster's certificate authorities held locally: the user CA's private keys (which sign
/// identity certificates) and the public material of the host and database CAs, plus what an
/// identity output writes about the cluster (name, proxy address, roles and their logins).
/// Used by <see cref="LocalSshCertificateSigner"/> to issue Teleport-shaped credentials without a
/// cluster: offline, in tests, or in an emulator.
/// </summary>
/// <remarks>
/// The keys are owned by the caller (or by this object when created with <see cref="Generate"/>;
/// dispose it then). Set the descriptive properties (roles, proxy, …) before handing the authority to
/// a signer; after that it is only read and safe to share.
/// </remarks>
public sealed class LocalCertificateAuthority : IDisposable
{
    private readonly bool _ownsKeys;

    /// <summary>Creates the authority from existing keys.</summary>
    /// <param name="clusterName">The cluster name (issuer of the TLS certificates, <c>*.&lt;cluster&gt;</c> in known_hosts).</param>
    /// <param name="userCaSshKey">The user CA's SSH signing key.</param>
    /// <param name="userCaTlsCertificate">The user CA's TLS certificate.</param>
    /// <param name="userCaTlsKey">The user CA's TLS signing key (RSA or ECDSA), matching <paramref name="userCaTlsCertificate"/>.</param>
    /// <param name="hostCaSshKeys">The host CA's SSH public keys (known_hosts, identity file).</param>
    /// <param name="hostCaTlsCertificates">The host CA's TLS certificates (the proxy's server certificate chains to them).</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The cluster name is empty, or the TLS key is Ed25519.</exception>
    public LocalCertificateAuthority(
        string clusterName,
        PrivateKey userCaSshKey,
        X509Certificate2 userCaTlsCertificate,
        PrivateKey userCaTlsKey,
        IEnumerable<PublicKeyInfo> hostCaSshKeys,
        IEnumerable<X509Certificate2> hostCaTlsCertificates)
        : this(clusterName, userCaSshKey, userCaTlsCertificate, userCaTlsKey, hostCaSshKeys, hostCaTlsCertificates, null, ownsKeys: false)
    {
    }

    private LocalCertificateAuthority(
        string clusterName,
        PrivateKey userCaSshKey,
        X509Certificate2 userCaTlsCertificate,
        PrivateKey userCaTlsKey,
        IEnumerable<PublicKeyInfo> hostCaSshKeys,
        IEnumerable<X509Certificate2> hostCaTlsCertificates,
        PrivateKey? hostCaSshKey,
        bool ownsKeys)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName);
        ArgumentNullException.ThrowIfNull(userCaSshKey);
        ArgumentNullException.ThrowIfNull(userCaTlsCertificate);
        ArgumentNullException.ThrowIfNull(userCaTlsKey);
        ArgumentNullException.ThrowIfNull(hostCaSshKeys);
        ArgumentNullException.ThrowIfNull(hostCaTlsCertificates);
        if (userCaTlsKey.Algorithm == KeyAlgorithm.Ed25519)
        {
            throw new ArgumentException("The user CA's TLS key must be RSA or ECDSA.", nameof(userCaTlsKey));
        }

        ClusterName = clusterName;
        UserCaSshKey = userCaSshKey;
        UserCaTlsCertificate = userCaTlsCertificate;
        UserCaTlsKey = userCaTlsKey;
        HostCaSshKeys = [.. hostCaSshKeys];
        HostCaTlsCertificates = [.. hostCaTlsCertificates];
        HostCaSshKey = hostCaSshKey;
        _ownsKeys = ownsKeys;
    }

    /// <summary>The cluster name.</summary>
    public string ClusterName { get; }

    /// <summary>The user CA's SSH signing key.</summary>
    public PrivateKey UserCaSshKey { get; }

    /// <summary>The user CA's TLS certificate.</summary>
    public X509Certificate2 UserCaTlsCertificate { get; }

    /// <summary>The user CA's TLS signing key.</summary>
    public PrivateKey UserCaTlsKey { get; }

    /// <summary>The host CA's SSH public keys.</summary>
    public IReadOnlyList<PublicKeyInfo> HostCaSshKeys { get; }

    /// <summary>The host CA's TLS certificates.</summary>
    public IReadOnlyList<X509Certificate2> HostCaTlsCertificates { get; }

    /// <summary>The database CA's TLS certificates (<c>teleport-database-ca.crt</c>); empty by default.</summary>
    public IReadOnlyList<X509Certificate2> DatabaseCaTlsCertificates { get; set; } = [];

    /// <summary>The bot whose user the certificates are issued to (<c>bot-&lt;name&gt;</c>). Default <c>local</c>.</summary>
    public string BotName { get; set; } = "local";

    /// <summary>
    /// The roles the bot may impersonate and the SSH logins each allows. An empty request asks for all
    /// of them; a role not listed is refused. Default: none.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> RoleLogins { get; set; } =
        ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;

    /// <summary>The longest lifetime issued (the roles' <c>max_session_ttl</c>). Default 12 hours.</summary>
    public TimeSpan MaxTtl { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// The proxy address written into ssh_config (<c>host:port</c>; the web port with TLS routing,
    /// else the SSH proxy port). Default <c>localhost:3080</c>.
    /// </summary>
    public string ProxyAddress { get; set; } = "localhost:3080";

    /// <summary>Whether the proxy multiplexes on one port (<c>--tls-routing</c> in the ProxyCommand). Default true.</summary>
    public bool TlsRoutingEnabled { get; set; } = true;

    /// <summary>The suite that decides the algorithm of output keys. Default <c>balanced-v1</c>.</summary>
    public SignatureAlgorithmSuite SignatureAlgorithmSuite { get; set; } = SignatureAlgorithmSuite.BalancedV1;

    /// <summary>The host CA's SSH signing key when this authority generated it (<see cref="Generate"/>), else <see langword="null"/>.</summary>
    public PrivateKey? HostCaSshKey { get; }

    /// <summary>The Teleport user certificates are issued to.</summary>
    public string Username => "bot-" + BotName.Replace(' ', '-');

    /// <summary>
    /// Generates a fresh set of user and host CAs for <paramref name="clusterName"/> with the key
    /// types <paramref name="suite"/> prescribes (Teleport's CA table), self-signed TLS CA
    /// certificates valid for 10 years. The returned object owns the keys.
    /// </summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <param name="suite">The suite; <c>balanced-v1</c> when <see langword="null"/>.</param>
    /// <param name="timeProvider">Clock for the certificates' validity; the system clock when <see langword="null"/>.</param>
    /// <returns>The authority; dispose it to release the keys.</returns>
    /// <exception cref="ArgumentException">The cluster name is empty.</exception>
    public static LocalCertificateAuthority Generate(string clusterName, SignatureAlgorithmSuite? suite = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName);
        var s = suite ?? SignatureAlgorithmSuite.BalancedV1;
        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        var userSsh = PrivateKey.Generate(s, KeyPurpose.UserCaSsh);
        var userTls = PrivateKey.Generate(s, KeyPurpose.UserCaTls);
        var hostSsh = PrivateKey.Generate(s, KeyPurpose.HostCaSsh);
        using var hostTls = PrivateKey.Generate(s, KeyPurpose.HostCaTls);
        var userCert = TeleportTlsCertificateBuilder.CreateCertificateAuthority(clusterName, userTls.GetAsymmetricAlgorithm(), now.AddMinutes(-1));
        var hostCert = TeleportTlsCertificateBuilder.CreateCertificateAuthority(clusterName, hostTls.GetAsymmetricAlgorithm(), now.AddMinutes(-1));
        return new LocalCertificateAuthority(clusterName, userSsh, userCert, userTls, [hostSsh.PublicKey], [hostCert], hostSsh, ownsKeys: true)
        {
            SignatureAlgorithmSuite = s,
        };
    }

    /// <summary>
    /// Signs an OpenSSH host certificate with the host CA (only for an authority made by
    /// <see cref="Generate"/>), with Teleport's host extensions, for an sshd's <c>HostCertificate</c>.
    /// </summary>
    /// <param name="hostKey">The host's public key.</param>
    /// <param name="principals">Names the host is reached by (e.g. <c>node1</c>, <c>node1.&lt;cluster&gt;</c>).</param>
    /// <param name="ttl">Validity; 12 hours when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock; the system clock when <see langword="null"/>.</param>
    /// <returns>The certificate.</returns>
    /// <exception cref="InvalidOperationException">The authority holds no host CA key.</exception>
    /// <exception cref="ArgumentException">No principal was given.</exception>
    public SshCertificate SignHostCertificate(PublicKeyInfo hostKey, IEnumerable<string> principals, TimeSpan? ttl = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(hostKey);
        ArgumentNullException.ThrowIfNull(principals);
        var key = HostCaSshKey ?? throw new InvalidOperationException("This authority holds no host CA key; create it with Generate.");
        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        var builder = new SshCertificateBuilder
        {
            PublicKey = hostKey,
            Type = SshCertificateType.Host,
            ValidAfter = now.AddMinutes(-1),
            ValidBefore = now + (ttl ?? TimeSpan.FromHours(12)),
        };
        foreach (var principal in principals)
        {
            builder.Principals.Add(principal);
        }

        if (builder.Principals.Count == 0)
        {
            throw new ArgumentException("A host certificate needs at least one principal.", nameof(principals));
        }

        builder.KeyId = builder.Principals[0] + "." + ClusterName;
        builder.Extensions[TeleportSshCertificateInfo.SystemRoleExtension] = "Node";
        builder.Extensions[TeleportSshCertificateInfo.AuthorityExtension] = ClusterName;
        return builder.Sign(key);
    }

    /// <summary>Releases the keys when this object generated them.</summary>
    public void Dispose()
    {
        if (!_ownsKeys)
        {
            return;
        }

        UserCaSshKey.Dispose();
        UserCaTlsKey.Dispose();
        HostCaSshKey?.Dispose();
    }
}
