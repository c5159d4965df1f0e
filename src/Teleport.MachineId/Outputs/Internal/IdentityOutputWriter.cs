using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Outputs.Internal;

/// <summary>The cluster material one renewal of an identity output writes besides its certificates.</summary>
/// <param name="Cluster">The bot's cluster and proxy.</param>
/// <param name="HostAuthorities">Every host CA (local and trusted clusters).</param>
/// <param name="UserAuthorities">Every user CA.</param>
/// <param name="DatabaseAuthorities">Every database CA.</param>
internal sealed record OutputClusterMaterial(
    OutputClusterInfo Cluster,
    IReadOnlyList<CertificateAuthorityMaterial> HostAuthorities,
    IReadOnlyList<CertificateAuthorityMaterial> UserAuthorities,
    IReadOnlyList<CertificateAuthorityMaterial> DatabaseAuthorities);

/// <summary>
/// Assembles the complete artifact set of one identity output renewal, as tbot's identity service
/// renders it (teleport-protocol.md §6.1–6.4), so it can be written as one consistent set.
/// </summary>
internal static class IdentityOutputWriter
{
    /// <summary>Builds the set.</summary>
    /// <param name="key">The output's private key.</param>
    /// <param name="certificates">The certificates issued for it.</param>
    /// <param name="material">CAs and cluster information.</param>
    /// <param name="writeSshConfig">Whether known_hosts (and, with a directory, ssh_config) are written.</param>
    /// <param name="directory">The destination directory (absolute), or <see langword="null"/> for non-directory destinations (no ssh_config).</param>
    /// <param name="proxyCommand">Creates the ProxyCommand for the directory.</param>
    /// <returns>The artifacts.</returns>
    public static DestinationArtifacts Build(
        PrivateKey key,
        SignedCertificates certificates,
        OutputClusterMaterial material,
        bool writeSshConfig,
        string? directory,
        Func<string, OutputClusterInfo, SshProxyCommand> proxyCommand)
    {
        var keyPem = key.ExportPem();
        var sshLine = certificates.SshCertificate.ToAuthorizedKey();
        var tlsPem = IssuedCertificates.ToPem(certificates.TlsCertificate);
        var hostCaPems = material.HostAuthorities.SelectMany(a => a.TlsCertificates).Select(IssuedCertificates.ToPem).ToArray();

        var identityFile = new IdentityFile(
            keyPem,
            sshLine,
            tlsPem,
            material.HostAuthorities.SelectMany(a => a.SshPublicKeys.Select(k => KnownHostsCertAuthority.ForCluster(a.ClusterName, k.ToAuthorizedKey()))),
            hostCaPems);

        var files = new List<KeyValuePair<string, byte[]>>
        {
            Text(IdentityOutputArtifacts.HostCaCertificates, string.Concat(hostCaPems)),
            Text(IdentityOutputArtifacts.UserCaCertificates, ConcatPem(material.UserAuthorities)),
            Text(IdentityOutputArtifacts.DatabaseCaCertificates, ConcatPem(material.DatabaseAuthorities)),
            Text(IdentityOutputArtifacts.IdentityFile, IdentityFileWriter.Write(identityFile)),
            Text(IdentityOutputArtifacts.SshCertificate, sshLine + "\n"),
            Text(IdentityOutputArtifacts.TlsCertificate, tlsPem),
            Text(IdentityOutputArtifacts.PrivateKey, keyPem),
            Text(IdentityOutputArtifacts.PublicKey, key.PublicKey.ToAuthorizedKey() + "\n"),
        };

        if (writeSshConfig)
        {
            var info = material.Cluster;
            var clusters = new List<string> { info.ClusterName };
            if (!string.Equals(certificates.TargetCluster, info.ClusterName, StringComparison.Ordinal))
            {
                clusters.Add(certificates.TargetCluster);
            }

            var keys = clusters.Select(c => new ClusterHostCaKeys(c,
                material.HostAuthorities.Where(a => string.Equals(a.ClusterName, c, StringComparison.Ordinal))
                    .SelectMany(a => a.SshPublicKeys).Select(k => k.ToAuthorizedKey()))).ToList();
            files.Add(Text(IdentityOutputArtifacts.KnownHosts, KnownHostsRenderer.RenderKnownHosts(info.ProxyHost, keys)));
            foreach (var cluster in keys)
            {
                files.Add(Text(KnownHostsRenderer.GetClusterFileName(cluster.ClusterName), KnownHostsRenderer.RenderClusterKnownHosts(cluster)));
            }

            if (directory is not null)
            {
                var parameters = new SshConfigParameters(info.ProxyHost, info.ProxyPort, directory, clusters, proxyCommand(directory, info))
                {
                    GeneratorName = "tbot-dotnet",
                };
                files.Add(Text(IdentityOutputArtifacts.SshConfig, SshConfigRenderer.RenderSshConfig(parameters)));
                foreach (var cluster in clusters)
                {
                    files.Add(Text(SshConfigRenderer.GetClusterFileName(cluster), SshConfigRenderer.RenderClusterSshConfig(parameters, cluster)));
                }
            }
        }

        return DestinationArtifacts.CreateOwned(files);
    }

    private static string ConcatPem(IReadOnlyList<CertificateAuthorityMaterial> authorities) =>
        string.Concat(authorities.SelectMany(a => a.TlsCertificates).Select(IssuedCertificates.ToPem));

    private static KeyValuePair<string, byte[]> Text(string name, string content) => KeyValuePair.Create(name, Encoding.UTF8.GetBytes(content));
}
