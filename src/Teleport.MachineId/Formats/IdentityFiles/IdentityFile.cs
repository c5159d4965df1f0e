using System.Security.Cryptography;
using Teleport.MachineId.OpenSsh;

namespace Teleport.MachineId.IdentityFiles;

/// <summary>
/// The content of a <c>tsh -i</c> identity file (tbot's <c>identity</c> artifact,
/// teleport-protocol.md §6.2): one private key, the SSH user certificate, the TLS client
/// certificate, the trusted SSH host CAs as <c>@cert-authority</c> entries and the TLS CA certificates.
/// </summary>
/// <remarks>
/// Values are text as they appear in the file: PEM blocks are stored with LF line ends and one
/// trailing newline; the SSH certificate is a single line without its newline. Every part is
/// checked structurally (PEM labels and base64, SSH wire layout) but keys are not interpreted.
/// Immutable. Read with <see cref="IdentityFileReader"/>, write with <see cref="IdentityFileWriter"/>.
/// </remarks>
public sealed class IdentityFile
{
    /// <summary>Creates an identity file model.</summary>
    /// <param name="privateKeyPem">The private key PEM (<c>RSA PRIVATE KEY</c>, <c>PRIVATE KEY</c> or <c>EC PRIVATE KEY</c>); it serves both certificates.</param>
    /// <param name="sshCertificate">The SSH certificate line, <c>&lt;cert-type&gt; &lt;base64&gt;</c> (the content of <c>key-cert.pub</c>).</param>
    /// <param name="tlsCertificatePem">The TLS certificate PEM, or null.</param>
    /// <param name="sshCertificateAuthorities">Trusted SSH host CAs, or null for none.</param>
    /// <param name="tlsCertificateAuthorityPems">Trusted TLS CA certificate PEMs, each one block, or null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="privateKeyPem"/> or <paramref name="sshCertificate"/> is null.</exception>
    /// <exception cref="ArgumentException">A part is not what it should be; the message says which and why.</exception>
    public IdentityFile(
        string privateKeyPem,
        string sshCertificate,
        string? tlsCertificatePem = null,
        IEnumerable<KnownHostsCertAuthority>? sshCertificateAuthorities = null,
        IEnumerable<string>? tlsCertificateAuthorityPems = null)
    {
        ArgumentNullException.ThrowIfNull(privateKeyPem);
        ArgumentNullException.ThrowIfNull(sshCertificate);
        PrivateKeyPem = ArgumentChecked(() => NormalizePem(privateKeyPem, PemRole.PrivateKey), nameof(privateKeyPem));
        SshCertificate = ArgumentChecked(() => NormalizeSshCertificate(sshCertificate), nameof(sshCertificate));
        TlsCertificatePem = tlsCertificatePem is null
            ? null
            : ArgumentChecked(() => NormalizePem(tlsCertificatePem, PemRole.TlsCertificate), nameof(tlsCertificatePem));
        SshCertificateAuthorities = sshCertificateAuthorities?.Select(static ca => ca ?? throw new ArgumentException(
            "An SSH certificate authority entry is null.", nameof(sshCertificateAuthorities))).ToList() ?? [];
        TlsCertificateAuthorityPems = tlsCertificateAuthorityPems?.Select(pem => ArgumentChecked(
            () => NormalizePem(pem ?? throw new TeleportFormatException("A TLS CA entry is null."), PemRole.TlsCertificateAuthority),
            nameof(tlsCertificateAuthorityPems))).ToList() ?? [];
    }

    private IdentityFile()
    {
    }

    /// <summary>The private key PEM, LF line ends, newline-terminated.</summary>
    public string PrivateKeyPem { get; private init; } = string.Empty;

    /// <summary>The PEM label of the private key: <c>RSA PRIVATE KEY</c> (PKCS#1), <c>PRIVATE KEY</c> (PKCS#8) or <c>EC PRIVATE KEY</c>.</summary>
    public string PrivateKeyPemLabel => PemLabel(PrivateKeyPem);

    /// <summary>The SSH certificate line, <c>&lt;cert-type&gt; &lt;base64&gt;[ comment]</c>, without a newline.</summary>
    public string SshCertificate { get; private init; } = string.Empty;

    /// <summary>The SSH certificate type, e.g. <c>ssh-rsa-cert-v01@openssh.com</c> or <c>ecdsa-sha2-nistp256-cert-v01@openssh.com</c>.</summary>
    public string SshCertificateType => SshCertificate[..SshCertificate.IndexOf(' ', StringComparison.Ordinal)];

    /// <summary>The TLS client certificate PEM, or null when the file has none.</summary>
    public string? TlsCertificatePem { get; private init; }

    /// <summary>The trusted SSH host certificate authorities, in file order.</summary>
    public IReadOnlyList<KnownHostsCertAuthority> SshCertificateAuthorities { get; private init; } = [];

    /// <summary>The trusted TLS CA certificate PEMs, in file order.</summary>
    public IReadOnlyList<string> TlsCertificateAuthorityPems { get; private init; } = [];

    /// <summary>Builds the model from parts the reader has already normalized and checked.</summary>
    internal static IdentityFile FromCheckedParts(string privateKeyPem, string sshCertificate, string? tlsCertificatePem,
        List<KnownHostsCertAuthority> sshCertificateAuthorities, List<string> tlsCertificateAuthorityPems) => new()
        {
            PrivateKeyPem = privateKeyPem,
            SshCertificate = sshCertificate,
            TlsCertificatePem = tlsCertificatePem,
            SshCertificateAuthorities = sshCertificateAuthorities,
            TlsCertificateAuthorityPems = tlsCertificateAuthorityPems,
        };

    internal enum PemRole
    {
        PrivateKey,
        TlsCertificate,
        TlsCertificateAuthority,
    }

    /// <summary>Checks one PEM block and returns it with LF line ends and a trailing newline.</summary>
    /// <exception cref="TeleportFormatException">Not exactly one well-formed block of the expected kind.</exception>
    internal static string NormalizePem(string pem, PemRole role)
    {
        var what = role switch
        {
            PemRole.PrivateKey => "private key",
            PemRole.TlsCertificate => "TLS certificate",
            _ => "TLS CA certificate",
        };
        var text = pem.AsSpan().Trim();
        if (!PemEncoding.TryFind(text, out var fields) || fields.Location.Start.Value != 0 || fields.Location.End.Value != text.Length)
        {
            throw new TeleportFormatException($"The {what} is not a single well-formed PEM block (truncated, corrupted, or extra text).");
        }

        var label = text[fields.Label];
        var ok = role == PemRole.PrivateKey
            ? label.EndsWith("PRIVATE KEY", StringComparison.Ordinal) && !label.StartsWith("ENCRYPTED", StringComparison.Ordinal)
            : label.SequenceEqual("CERTIFICATE");
        if (!ok)
        {
            throw new TeleportFormatException(role == PemRole.PrivateKey
                ? $"The private key PEM block is labelled '{label}'; an unencrypted private key was expected."
                : $"The {what} PEM block is labelled '{label}'; 'CERTIFICATE' was expected.");
        }

        return string.Concat(text.ToString().ReplaceLineEndings("\n"), "\n");
    }

    /// <summary>Checks an SSH certificate line and returns it trimmed.</summary>
    /// <exception cref="TeleportFormatException">Not a well-formed OpenSSH certificate line.</exception>
    internal static string NormalizeSshCertificate(string line)
    {
        var fields = SshKeyText.SplitFields(line, 3);
        if (fields.Count < 2 || !SshKeyText.IsCertificateType(fields[0]))
        {
            throw new TeleportFormatException("The SSH certificate is not an OpenSSH certificate line ('<type>-cert-v01@openssh.com <base64>').");
        }

        var blob = SshKeyText.Decode(fields[1], "SSH certificate");
        SshKeyText.CheckCertificateBlob(blob, fields[0], "SSH certificate");
        return line.Trim();
    }

    private static string PemLabel(string pem)
    {
        var fields = PemEncoding.Find(pem);
        return pem[fields.Label];
    }

    private static T ArgumentChecked<T>(Func<T> check, string paramName)
    {
        try
        {
            return check();
        }
        catch (TeleportFormatException ex)
        {
            throw new ArgumentException(ex.Message, paramName, ex);
        }
    }
}
