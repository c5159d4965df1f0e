using System.Text;

namespace Teleport.MachineId.IdentityFiles;

/// <summary>
/// Writes <c>tsh -i</c> identity files in tbot's layout: private key PEM, SSH certificate line,
/// TLS certificate PEM, one <c>@cert-authority</c> line per trusted host CA key, then the TLS CA
/// PEMs — every part newline-terminated. Thread-safe.
/// </summary>
/// <remarks>A missing TLS certificate is left out (Teleport's writer would leave an empty line instead).</remarks>
public static class IdentityFileWriter
{
    /// <summary>Writes the identity file text.</summary>
    /// <param name="identityFile">The content.</param>
    /// <returns>The file text (UTF-8/ASCII when written to disk).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="identityFile"/> is null.</exception>
    public static string Write(IdentityFile identityFile)
    {
        ArgumentNullException.ThrowIfNull(identityFile);
        var capacity = identityFile.PrivateKeyPem.Length + identityFile.SshCertificate.Length + 1
            + (identityFile.TlsCertificatePem?.Length ?? 0);
        foreach (var ca in identityFile.SshCertificateAuthorities)
        {
            capacity += ca.PublicKey.Length + 128;
        }

        foreach (var pem in identityFile.TlsCertificateAuthorityPems)
        {
            capacity += pem.Length;
        }

        var sb = new StringBuilder(capacity);
        sb.Append(identityFile.PrivateKeyPem);
        sb.Append(identityFile.SshCertificate).Append('\n');
        if (identityFile.TlsCertificatePem is not null)
        {
            sb.Append(identityFile.TlsCertificatePem);
        }

        foreach (var ca in identityFile.SshCertificateAuthorities)
        {
            ca.AppendTo(sb);
            sb.Append('\n');
        }

        foreach (var pem in identityFile.TlsCertificateAuthorityPems)
        {
            sb.Append(pem);
        }

        return sb.ToString();
    }
}
