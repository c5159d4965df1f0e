using System.Security.Cryptography;

namespace Teleport.MachineId.Crypto;

/// <summary>Reads and writes RFC 7468 PEM blocks.</summary>
internal static class PemBlocks
{
    /// <summary>
    /// The PEM blocks in <paramref name="text"/>, in order, as (label, DER). The caller owns (and
    /// should zero, for private keys) the returned arrays.
    /// </summary>
    /// <exception cref="TeleportFormatException">The text holds a legacy encrypted PEM block (<c>Proc-Type: 4,ENCRYPTED</c>).</exception>
    public static List<(string Label, byte[] Der)> Read(ReadOnlySpan<char> text)
    {
        if (text.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.OrdinalIgnoreCase))
        {
            throw new TeleportFormatException(
                "Encrypted PEM private keys are not supported; decrypt the key first (for example with 'openssl pkey').");
        }

        var blocks = new List<(string, byte[])>();
        while (PemEncoding.TryFind(text, out var fields))
        {
            var label = text[fields.Label].ToString();
            var der = new byte[fields.DecodedDataLength];
            if (!Convert.TryFromBase64Chars(text[fields.Base64Data], der, out var written) || written != der.Length)
            {
                throw new TeleportFormatException($"Malformed PEM block '{label}': invalid base64.");
            }

            blocks.Add((label, der));
            text = text[fields.Location.End..];
        }

        return blocks;
    }

    /// <summary>Writes one PEM block with 64-column lines and a final newline.</summary>
    public static string Write(string label, ReadOnlySpan<byte> der) =>
        string.Concat(PemEncoding.WriteString(label, der), "\n");
}
