using System.Buffers.Binary;
using System.Text;

namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// Structural checks of OpenSSH public keys and certificates in their one-line text form
/// (<c>&lt;type&gt; &lt;base64&gt; [comment]</c>): the base64 decodes, the wire blob names the same type,
/// and it consists of complete fields. Nothing is interpreted; this catches truncation and garbage.
/// </summary>
internal static class SshKeyText
{
    private static readonly string[] CertificateTypes =
    [
        "ssh-rsa-cert-v01@openssh.com",
        "ssh-dss-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ssh-ed25519-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com",
    ];

    /// <summary>Whether <paramref name="type"/> is an OpenSSH certificate key type.</summary>
    public static bool IsCertificateType(ReadOnlySpan<char> type)
    {
        foreach (var candidate in CertificateTypes)
        {
            if (type.SequenceEqual(candidate))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Splits a line at runs of spaces and tabs into at most <paramref name="maxFields"/> fields (the last keeps the rest of the line).</summary>
    public static List<string> SplitFields(ReadOnlySpan<char> line, int maxFields)
    {
        var fields = new List<string>(maxFields);
        var rest = line.Trim();
        while (!rest.IsEmpty)
        {
            if (fields.Count == maxFields - 1)
            {
                fields.Add(rest.ToString());
                break;
            }

            var end = rest.IndexOfAny(' ', '\t');
            if (end < 0)
            {
                fields.Add(rest.ToString());
                break;
            }

            fields.Add(rest[..end].ToString());
            rest = rest[end..].TrimStart();
        }

        return fields;
    }

    /// <summary>
    /// Parses <c>&lt;type&gt; &lt;base64&gt;</c> of a public key (not a certificate) and returns the
    /// canonical <c>type base64</c> text (comment dropped, as Go's MarshalAuthorizedKey writes it).
    /// </summary>
    /// <exception cref="TeleportFormatException">The text is not a public key line.</exception>
    public static string NormalizePublicKey(string line, string what)
    {
        var fields = SplitFields(line, 3);
        if (fields.Count < 2)
        {
            throw new TeleportFormatException($"The {what} is not an OpenSSH public key line ('<type> <base64>').");
        }

        var blob = Decode(fields[1], what);
        CheckPublicKeyBlob(blob, fields[0], what);
        return fields[0] + " " + fields[1];
    }

    /// <summary>Decodes base64 of a key or certificate.</summary>
    /// <exception cref="TeleportFormatException">Not base64.</exception>
    public static byte[] Decode(string base64, string what)
    {
        var buffer = new byte[(base64.Length / 4 * 3) + 3];
        if (!Convert.TryFromBase64String(base64, buffer, out var written))
        {
            throw new TeleportFormatException($"The {what} has invalid base64 data (truncated or corrupted?).");
        }

        return buffer.AsSpan(0, written).ToArray();
    }

    /// <summary>A public key blob: a type string equal to <paramref name="type"/>, then only complete length-prefixed fields.</summary>
    /// <exception cref="TeleportFormatException">The blob is malformed.</exception>
    public static void CheckPublicKeyBlob(ReadOnlySpan<byte> blob, string type, string what)
    {
        var reader = new WireReader(blob, what);
        reader.ExpectType(type);
        if (reader.IsEmpty)
        {
            throw new TeleportFormatException($"The {what} has no key data after its type.");
        }

        while (!reader.IsEmpty)
        {
            reader.SkipString();
        }
    }

    /// <summary>A certificate blob (PROTOCOL.certkeys): every field present and nothing after the signature.</summary>
    /// <exception cref="TeleportFormatException">The blob is malformed.</exception>
    public static void CheckCertificateBlob(ReadOnlySpan<byte> blob, string type, string what)
    {
        var reader = new WireReader(blob, what);
        reader.ExpectType(type);
        reader.SkipString(); // nonce
        var keyFields = type switch
        {
            "ssh-rsa-cert-v01@openssh.com" => 2,                  // e, n
            "ssh-dss-cert-v01@openssh.com" => 4,                  // p, q, g, y
            "ssh-ed25519-cert-v01@openssh.com" => 1,              // pk
            "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com" => 3,   // curve, Q, application
            "sk-ssh-ed25519-cert-v01@openssh.com" => 2,           // pk, application
            _ => 2,                                               // ecdsa: curve, Q
        };
        for (var i = 0; i < keyFields; i++)
        {
            reader.SkipString();
        }

        reader.Skip(8);      // serial
        reader.Skip(4);      // certificate type
        reader.SkipString(); // key id
        reader.SkipString(); // valid principals
        reader.Skip(16);     // valid after, valid before
        reader.SkipString(); // critical options
        reader.SkipString(); // extensions
        reader.SkipString(); // reserved
        reader.SkipString(); // signature key
        reader.SkipString(); // signature
        if (!reader.IsEmpty)
        {
            throw new TeleportFormatException($"The {what} has unexpected data after its signature.");
        }
    }

    private ref struct WireReader(ReadOnlySpan<byte> data, string what)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly bool IsEmpty => _data.IsEmpty;

        public void ExpectType(string type)
        {
            var name = ReadString();
            if (name.Length != type.Length || Encoding.ASCII.GetString(name) != type)
            {
                throw new TeleportFormatException($"The {what} says '{type}' but its data is of another key type.");
            }
        }

        public void SkipString() => ReadString();

        public void Skip(int count)
        {
            if (_data.Length < count)
            {
                throw Truncated();
            }

            _data = _data[count..];
        }

        private ReadOnlySpan<byte> ReadString()
        {
            if (_data.Length < 4)
            {
                throw Truncated();
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(_data);
            if (length > (uint)(_data.Length - 4))
            {
                throw Truncated();
            }

            var value = _data.Slice(4, (int)length);
            _data = _data[(4 + (int)length)..];
            return value;
        }

        private readonly TeleportFormatException Truncated() =>
            new($"The {what} is truncated or corrupted (a field runs past the end of its data).");
    }
}
