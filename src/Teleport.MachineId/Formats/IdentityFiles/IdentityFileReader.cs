using System.Globalization;
using System.Text;
using Teleport.MachineId.OpenSsh;

namespace Teleport.MachineId.IdentityFiles;

/// <summary>
/// Reads <c>tsh -i</c> identity files the way Teleport's parser does: a line whose first word is
/// an SSH certificate type is the SSH certificate (the last one wins); a line starting with
/// <c>@cert-authority</c> is a trusted SSH CA; PEM blocks count by position — the first is the
/// private key, the second the TLS certificate, the rest TLS CAs; every other line is ignored.
/// Thread-safe.
/// </summary>
/// <remarks>
/// Stricter than Teleport's scanner in one way: each part is checked as it is read (PEM label and
/// base64, SSH wire layout), so a truncated or corrupted file fails here with a
/// <see cref="TeleportFormatException"/> naming the part and line, rather than later when used.
/// Messages never contain key or certificate content.
/// </remarks>
public static class IdentityFileReader
{
    /// <summary>The suffix of the separate SSH certificate file tsh falls back to (<c>key</c> → <c>key-cert.pub</c>).</summary>
    public const string SshCertificateFileSuffix = "-cert.pub";

    /// <summary>Parses identity file text; the private key and the SSH certificate must both be present.</summary>
    /// <param name="content">The file content.</param>
    /// <returns>The parsed identity file.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="content"/> is null.</exception>
    /// <exception cref="TeleportFormatException">The content is not an identity file, is truncated, or a part is malformed.</exception>
    public static IdentityFile Parse(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var parts = Decode(content, "The identity file");
        return Complete(parts, "The identity file");
    }

    /// <summary>
    /// Reads an identity file from disk. When it holds no SSH certificate, the certificate is read
    /// from <c>&lt;path&gt;-cert.pub</c> as tsh does (a key file next to its <c>key-cert.pub</c>).
    /// </summary>
    /// <param name="path">The identity file path.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The parsed identity file.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="TeleportFormatException">The file is larger than <see cref="InputLimits.IdentityFileBytes"/>, not an identity file, truncated, or a part is malformed; or there is no SSH certificate in it nor beside it.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<IdentityFile> ReadFileAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var content = await BoundedFile.ReadAllTextAsync(path, InputLimits.IdentityFileBytes, "identity file", cancellationToken).ConfigureAwait(false);
        var what = $"The identity file '{path}'";
        var parts = Decode(content, what);
        if (parts.SshCertificate is null)
        {
            var certificatePath = path + SshCertificateFileSuffix;
            if (!File.Exists(certificatePath))
            {
                throw new TeleportFormatException(
                    $"{what} contains no SSH certificate, and there is no '{certificatePath}' beside it.");
            }

            var certificate = await BoundedFile.ReadAllTextAsync(certificatePath, InputLimits.PemFileBytes, "SSH certificate file", cancellationToken).ConfigureAwait(false);
            try
            {
                parts.SshCertificate = IdentityFile.NormalizeSshCertificate(certificate);
            }
            catch (TeleportFormatException ex)
            {
                throw new TeleportFormatException($"The SSH certificate file '{certificatePath}': {ex.Message}", ex);
            }
        }

        return Complete(parts, what);
    }

    private sealed class Parts
    {
        public string? PrivateKeyPem;
        public string? SshCertificate;
        public string? TlsCertificatePem;
        public readonly List<KnownHostsCertAuthority> SshCertificateAuthorities = [];
        public readonly List<string> TlsCertificateAuthorityPems = [];
    }

    private static Parts Decode(string content, string what)
    {
        var parts = new Parts();
        var lines = new LineScanner(content);
        while (lines.TryNext(out var line, out var lineNumber))
        {
            if (IsSshCertificateLine(line))
            {
                var text = line.ToString();
                parts.SshCertificate = Checked(() => IdentityFile.NormalizeSshCertificate(text), what, "SSH certificate", lineNumber);
            }
            else if (line.StartsWith(KnownHostsCertAuthority.Marker, StringComparison.Ordinal))
            {
                var text = line.ToString();
                parts.SshCertificateAuthorities.Add(Checked(() => KnownHostsCertAuthority.Parse(text), what, "@cert-authority entry", lineNumber));
            }
            else if (line.StartsWith("-----BEGIN", StringComparison.Ordinal))
            {
                var firstLine = lineNumber;
                var block = new StringBuilder(2048);
                while (true)
                {
                    block.Append(line).Append('\n');
                    if (line.StartsWith("-----END", StringComparison.Ordinal))
                    {
                        break;
                    }

                    if (!lines.TryNext(out line, out lineNumber))
                    {
                        throw new TeleportFormatException(
                            $"{what} ends inside the PEM block that starts on line {firstLine.ToString(CultureInfo.InvariantCulture)} (the file is truncated).");
                    }
                }

                var pem = block.ToString();
                if (parts.PrivateKeyPem is null)
                {
                    parts.PrivateKeyPem = Checked(() => IdentityFile.NormalizePem(pem, IdentityFile.PemRole.PrivateKey), what, "first PEM block", firstLine);
                }
                else if (parts.TlsCertificatePem is null)
                {
                    parts.TlsCertificatePem = Checked(() => IdentityFile.NormalizePem(pem, IdentityFile.PemRole.TlsCertificate), what, "second PEM block", firstLine);
                }
                else
                {
                    parts.TlsCertificateAuthorityPems.Add(
                        Checked(() => IdentityFile.NormalizePem(pem, IdentityFile.PemRole.TlsCertificateAuthority), what, "PEM block", firstLine));
                }
            }
        }

        return parts;
    }

    private static IdentityFile Complete(Parts parts, string what)
    {
        if (parts.PrivateKeyPem is null || parts.SshCertificate is null)
        {
            var missing = parts.PrivateKeyPem is null && parts.SshCertificate is null
                ? "neither a private key PEM block nor an SSH certificate line"
                : parts.PrivateKeyPem is null ? "no private key PEM block" : "no SSH certificate line";
            throw new TeleportFormatException($"{what} has {missing}; it is not a complete tsh identity file (or it is truncated).");
        }

        return IdentityFile.FromCheckedParts(parts.PrivateKeyPem, parts.SshCertificate, parts.TlsCertificatePem,
            parts.SshCertificateAuthorities, parts.TlsCertificateAuthorityPems);
    }

    private static bool IsSshCertificateLine(ReadOnlySpan<char> line)
    {
        var space = line.IndexOf(' ');
        return SshKeyText.IsCertificateType(space < 0 ? line : line[..space]);
    }

    private static T Checked<T>(Func<T> read, string what, string part, int lineNumber)
    {
        try
        {
            return read();
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportFormatException(
                $"{what}, {part} on line {lineNumber.ToString(CultureInfo.InvariantCulture)}: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new TeleportFormatException(
                $"{what}, {part} on line {lineNumber.ToString(CultureInfo.InvariantCulture)}: {ex.Message}", ex);
        }
    }

    /// <summary>Lines split at LF (a trailing CR dropped, as Go's bufio.ScanLines), trimmed.</summary>
    private ref struct LineScanner(string content)
    {
        private ReadOnlySpan<char> _rest = content;
        private int _lineNumber;
        private bool _done = content.Length == 0;

        public bool TryNext(out ReadOnlySpan<char> line, out int lineNumber)
        {
            if (_done)
            {
                line = default;
                lineNumber = _lineNumber;
                return false;
            }

            var end = _rest.IndexOf('\n');
            if (end < 0)
            {
                line = _rest;
                _done = true;
            }
            else
            {
                line = _rest[..end];
                _rest = _rest[(end + 1)..];
                _done = _rest.IsEmpty;
            }

            line = line.Trim();
            lineNumber = ++_lineNumber;
            return true;
        }
    }
}
