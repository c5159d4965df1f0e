using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// Finds the key in a line of the OpenSSH text form <c>[options|markers hosts] type base64 [comment]</c>
/// as used by <c>*.pub</c>, <c>authorized_keys</c> and <c>known_hosts</c>.
/// </summary>
internal static class AuthorizedKeyLine
{
    private static readonly SearchValues<char> TokenEnd = SearchValues.Create(" \t\"");
    private static readonly SearchValues<char> QuoteEnd = SearchValues.Create("\"\\");

    /// <summary>
    /// Finds the first supported key or certificate type token (skipping options, which may
    /// contain quoted spaces, and known_hosts markers/host patterns) and the base64 token after it.
    /// </summary>
    /// <param name="text">One line, or text whose first non-empty, non-comment line is used.</param>
    /// <param name="what">What is being parsed, for error messages.</param>
    /// <param name="algorithm">The key algorithm named by the type token.</param>
    /// <param name="isCertificate">Whether the type token names a certificate type.</param>
    /// <param name="base64">The base64 token.</param>
    /// <param name="comment">Whatever follows the base64 token, trimmed.</param>
    /// <exception cref="TeleportFormatException">No supported key type followed by data was found.</exception>
    public static void Find(
        ReadOnlySpan<char> text,
        string what,
        out KeyAlgorithm algorithm,
        out bool isCertificate,
        out ReadOnlySpan<char> base64,
        out ReadOnlySpan<char> comment)
    {
        var line = FirstLine(text);
        var rest = line;
        while (true)
        {
            var token = NextToken(ref rest);
            if (token.IsEmpty)
            {
                throw new TeleportFormatException(
                    $"Malformed {what}: no supported key type (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa or their -cert-v01@openssh.com forms) was found.");
            }

            var isCert = KeyAlgorithmInfo.TryFromCertificateType(token, out var certAlgorithm);
            if (isCert || KeyAlgorithmInfo.TryFromSshKeyType(token, out certAlgorithm))
            {
                var data = NextToken(ref rest);
                if (data.IsEmpty)
                {
                    throw new TeleportFormatException($"Malformed {what}: the key type is not followed by base64 data.");
                }

                algorithm = certAlgorithm;
                isCertificate = isCert;
                base64 = data;
                comment = rest.Trim();
                return;
            }
        }
    }

    /// <summary>Decodes a base64 token (standard alphabet, padded) into an exact-size array.</summary>
    /// <remarks>
    /// Narrows the characters to ASCII and uses the vectorised UTF-8 decoder, several times
    /// faster than decoding characters directly (a certificate line is about 1 000 characters).
    /// </remarks>
    /// <exception cref="TeleportFormatException">The token is not valid base64.</exception>
    public static byte[] DecodeBase64(ReadOnlySpan<char> token, string what)
    {
        if (token.Length % 4 != 0)
        {
            throw new TeleportFormatException($"Malformed {what}: the base64 data has an invalid length.");
        }

        var padding = token.EndsWith("==") ? 2 : token.EndsWith("=") ? 1 : 0;
        var result = new byte[(token.Length / 4 * 3) - padding];
        var ascii = ArrayPool<byte>.Shared.Rent(token.Length);
        try
        {
            if (Ascii.FromUtf16(token, ascii, out var narrowed) != OperationStatus.Done
                || Base64.DecodeFromUtf8(ascii.AsSpan(0, narrowed), result, out _, out var written) != OperationStatus.Done
                || written != result.Length)
            {
                throw new TeleportFormatException($"Malformed {what}: the data is not valid base64.");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(ascii);
        }

        return result;
    }

    private static ReadOnlySpan<char> FirstLine(ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            var end = text.IndexOfAny('\n', '\r');
            var line = (end < 0 ? text : text[..end]).Trim();
            text = end < 0 ? default : text[(end + 1)..];
            if (!line.IsEmpty && line[0] != '#')
            {
                return line;
            }
        }

        return default;
    }

    /// <summary>Takes the next whitespace-separated token; double quotes group (authorized_keys options).</summary>
    /// <remarks>Searches with vectorised <see cref="SearchValues{T}"/>: the base64 token of a certificate is about 1 000 characters.</remarks>
    private static ReadOnlySpan<char> NextToken(scoped ref ReadOnlySpan<char> rest)
    {
        rest = rest.TrimStart();
        var i = 0;
        while (i < rest.Length)
        {
            var next = rest[i..].IndexOfAny(TokenEnd);
            if (next < 0)
            {
                i = rest.Length;
                break;
            }

            i += next;
            if (rest[i] != '"')
            {
                break;
            }

            // Inside quotes: skip to the closing quote, honouring backslash escapes.
            i++;
            while (i < rest.Length)
            {
                var special = rest[i..].IndexOfAny(QuoteEnd);
                if (special < 0)
                {
                    i = rest.Length;
                    break;
                }

                i += special;
                if (rest[i] == '\\')
                {
                    i = Math.Min(i + 2, rest.Length);
                    continue;
                }

                i++;
                break;
            }
        }

        var token = rest[..i];
        rest = rest[i..];
        return token;
    }
}
