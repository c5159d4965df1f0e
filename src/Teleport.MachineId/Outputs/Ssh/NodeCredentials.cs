using System.Security.Cryptography.X509Certificates;
using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>
/// The credentials for reaching nodes through the proxy, read from one consistent identity output
/// set or an identity file: the key, its TLS certificate (for the proxy's transport service), its
/// SSH certificate (for the node), and the CAs that verify the proxy and the node.
/// </summary>
internal sealed class NodeCredentials : IDisposable
{
    private NodeCredentials(PrivateKey key, SshCertificate? sshCertificate, X509Certificate2 tlsCertificate,
        IReadOnlyList<X509Certificate2> tlsCas, IReadOnlyList<PublicKeyInfo> hostCaKeys)
    {
        Key = key;
        SshCertificate = sshCertificate;
        Tls = TeleportTlsIdentity.FromCertificate(tlsCertificate);
        TlsCertificateAuthorities = tlsCas;
        HostCaKeys = hostCaKeys;
        Wire = WireIdentity.Create(key, tlsCertificate, tlsCas);
    }

    /// <summary>The private key.</summary>
    public PrivateKey Key { get; }

    /// <summary>The SSH user certificate, or <see langword="null"/> when only the TLS part was read.</summary>
    public SshCertificate? SshCertificate { get; }

    /// <summary>The TLS identity.</summary>
    public TeleportTlsIdentity Tls { get; }

    /// <summary>The TLS CA certificates the proxy's certificate must chain to.</summary>
    public IReadOnlyList<X509Certificate2> TlsCertificateAuthorities { get; }

    /// <summary>The SSH host CA keys node host certificates must be signed by.</summary>
    public IReadOnlyList<PublicKeyInfo> HostCaKeys { get; }

    /// <summary>The identity for the proxy's mTLS transport.</summary>
    public WireIdentity Wire { get; }

    /// <summary>The cluster the credentials route to (the route-to-cluster, else the issuing cluster).</summary>
    public string ClusterName => string.IsNullOrEmpty(Tls.RouteToCluster) ? Tls.ClusterName : Tls.RouteToCluster;

    /// <exception cref="TeleportFormatException">A part is missing or malformed.</exception>
    public static NodeCredentials FromIdentityFile(IdentityFile identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        if (identity.TlsCertificatePem is null)
        {
            throw new TeleportFormatException("The identity file has no TLS certificate, which reaching nodes through the proxy needs.");
        }

        if (identity.TlsCertificateAuthorityPems.Count == 0)
        {
            throw new TeleportFormatException("The identity file has no TLS CA certificates to verify the proxy with.");
        }

        var cas = identity.TlsCertificateAuthorityPems.SelectMany(p => IssuedCertificates.ReadPemCertificates(p, "TLS CA certificate")).ToArray();
        var hostCaKeys = identity.SshCertificateAuthorities.Select(a => PublicKeyInfo.ParseAuthorizedKey(a.PublicKey)).ToArray();
        return Create(identity.PrivateKeyPem, identity.SshCertificate, identity.TlsCertificatePem, cas, hostCaKeys);
    }

    /// <summary>Reads the credentials from one identity output set (<c>key</c>, <c>key-cert.pub</c>, <c>tlscert</c>, CA files, <c>known_hosts</c>).</summary>
    /// <exception cref="TeleportFormatException">A file is missing or malformed.</exception>
    public static NodeCredentials FromArtifacts(IReadOnlyDictionary<string, ReadOnlyMemory<byte>> artifacts, string source)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        var key = Required(artifacts, IdentityOutputArtifacts.PrivateKey, source);
        var tls = Required(artifacts, IdentityOutputArtifacts.TlsCertificate, source);
        var ssh = Optional(artifacts, IdentityOutputArtifacts.SshCertificate);
        var cas = new List<X509Certificate2>();
        foreach (var name in new[] { IdentityOutputArtifacts.HostCaCertificates, IdentityOutputArtifacts.UserCaCertificates })
        {
            if (Optional(artifacts, name) is { } pem && pem.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                cas.AddRange(IssuedCertificates.ReadPemCertificates(pem, name));
            }
        }

        if (cas.Count == 0)
        {
            throw new TeleportFormatException($"{source} has no CA certificates ({IdentityOutputArtifacts.HostCaCertificates}) to verify the proxy with.");
        }

        var hostCaKeys = new List<PublicKeyInfo>();
        if (Optional(artifacts, IdentityOutputArtifacts.KnownHosts) is { } knownHosts)
        {
            foreach (var line in knownHosts.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (line.StartsWith(KnownHostsCertAuthority.Marker, StringComparison.Ordinal))
                {
                    var authority = KnownHostsCertAuthority.Parse(line);
                    var caKey = PublicKeyInfo.ParseAuthorizedKey(authority.PublicKey);
                    if (!hostCaKeys.Contains(caKey))
                    {
                        hostCaKeys.Add(caKey);
                    }
                }
            }
        }

        return Create(key, ssh, tls, cas, hostCaKeys);
    }

    /// <summary>
    /// Reads one consistent set from an identity output directory: through its <c>..data</c> link when
    /// written by this library, else the plain files (tbot).
    /// </summary>
    /// <exception cref="TeleportFormatException">A file is missing or malformed.</exception>
    /// <exception cref="DestinationException">The directory cannot be read.</exception>
    public static async Task<NodeCredentials> LoadDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var source = $"The destination directory '{directory}'";
        var destination = new DirectoryDestination(new DirectoryDestinationOptions { Path = directory, Acls = AclMode.Off });
        var set = await destination.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (set is not null)
        {
            return FromArtifacts(set, source);
        }

        var files = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        foreach (var name in new[]
        {
            IdentityOutputArtifacts.PrivateKey, IdentityOutputArtifacts.TlsCertificate, IdentityOutputArtifacts.SshCertificate,
            IdentityOutputArtifacts.HostCaCertificates, IdentityOutputArtifacts.UserCaCertificates, IdentityOutputArtifacts.KnownHosts,
        })
        {
            var path = Path.Combine(directory, name);
            try
            {
                files[name] = await BoundedFile.ReadAllBytesAsync(path, InputLimits.DestinationFileBytes, "destination file", cancellationToken).ConfigureAwait(false);
            }
            catch (FileNotFoundException)
            {
            }
            catch (DirectoryNotFoundException ex)
            {
                throw new TeleportFormatException($"{source} does not exist; run the bot (tbot-dotnet start) to write it first.", ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new TeleportFormatException($"{source}: '{name}' may not be read by this user.", ex);
            }
        }

        return FromArtifacts(files, source);
    }

    public void Dispose() => Key.Dispose();

    private static NodeCredentials Create(string keyPem, string? sshLine, string tlsPem, IReadOnlyList<X509Certificate2> cas, IReadOnlyList<PublicKeyInfo> hostCaKeys)
    {
        var key = PrivateKey.ImportPem(keyPem);
        try
        {
            var ssh = sshLine is null ? null : SshCertificate.ParseAuthorizedKey(sshLine.Trim());
            var tls = IssuedCertificates.ReadPemCertificates(tlsPem, "TLS certificate")[0];
            if (ssh is not null && ssh.PublicKey != key.PublicKey)
            {
                throw new TeleportFormatException("The SSH certificate is for a different key than the private key; the files come from different renewals.");
            }

            try
            {
                return new NodeCredentials(key, ssh, tls, cas, hostCaKeys);
            }
            catch (ArgumentException ex)
            {
                throw new TeleportFormatException("The TLS certificate is for a different key than the private key; the files come from different renewals.", ex);
            }
            catch (NotSupportedException ex)
            {
                throw new TeleportFormatException("The private key type cannot be used for TLS.", ex);
            }
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static string Required(IReadOnlyDictionary<string, ReadOnlyMemory<byte>> artifacts, string name, string source) =>
        Optional(artifacts, name) ?? throw new TeleportFormatException($"{source} has no '{name}'; is it an identity output?");

    private static string? Optional(IReadOnlyDictionary<string, ReadOnlyMemory<byte>> artifacts, string name) =>
        artifacts.TryGetValue(name, out var content) ? Encoding.UTF8.GetString(content.Span) : null;
}
