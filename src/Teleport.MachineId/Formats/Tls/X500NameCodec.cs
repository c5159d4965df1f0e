using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Teleport.MachineId.Tls;

/// <summary>One AttributeTypeAndValue of a distinguished name; <see cref="Value"/> is null when it is not a string.</summary>
internal readonly record struct X500Attribute(string Oid, string? Value);

/// <summary>
/// Reads and writes X.501 Names the way Go's <c>crypto/x509/pkix</c> does, which is what Teleport
/// uses: every AttributeTypeAndValue of every (possibly multi-valued) RDN is visited in order;
/// string values are PrintableString when Go considers them printable, else UTF8String.
/// </summary>
internal static class X500NameCodec
{
    /// <summary>Walks every AttributeTypeAndValue of an encoded Name, in encoding order.</summary>
    /// <exception cref="TeleportFormatException">The bytes are not a well-formed Name.</exception>
    public static List<X500Attribute> ReadAttributes(ReadOnlyMemory<byte> encodedName, string what)
    {
        var attributes = new List<X500Attribute>();
        try
        {
            // BER so that a certificate from a less strict encoder (unsorted SET OF) still parses.
            var reader = new AsnReader(encodedName, AsnEncodingRules.BER);
            var rdnSequence = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            while (rdnSequence.HasData)
            {
                var rdn = rdnSequence.ReadSetOf(skipSortOrderValidation: true);
                if (!rdn.HasData)
                {
                    throw new TeleportFormatException($"The {what} has an empty relative distinguished name.");
                }

                while (rdn.HasData)
                {
                    var atv = rdn.ReadSequence();
                    var oid = atv.ReadObjectIdentifier();
                    var value = ReadValue(atv);
                    atv.ThrowIfNotEmpty();
                    attributes.Add(new X500Attribute(oid, value));
                }
            }
        }
        catch (AsnContentException ex)
        {
            throw new TeleportFormatException($"The {what} is not a well-formed X.501 name: {ex.Message}", ex);
        }
        catch (CryptographicException ex)
        {
            throw new TeleportFormatException($"The {what} is not a well-formed X.501 name: {ex.Message}", ex);
        }

        return attributes;
    }

    private static string? ReadValue(AsnReader atv)
    {
        var tag = atv.PeekTag();
        if (tag.TagClass == TagClass.Universal && !tag.IsConstructed)
        {
            switch ((UniversalTagNumber)tag.TagValue)
            {
                case UniversalTagNumber.PrintableString:
                case UniversalTagNumber.UTF8String:
                case UniversalTagNumber.IA5String:
                case UniversalTagNumber.NumericString:
                case UniversalTagNumber.VisibleString:
                case UniversalTagNumber.BMPString:
                case UniversalTagNumber.T61String:
                    return atv.ReadCharacterString((UniversalTagNumber)tag.TagValue);
            }
        }

        // Go's pkix ignores non-string values for every attribute Teleport reads.
        atv.ReadEncodedValue();
        return null;
    }

    /// <summary>Writes one RDN holding every value of an attribute (Go's multi-valued RDN); nothing when there are none.</summary>
    public static void WriteRdn(AsnWriter writer, string oid, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        // DER sorts the SET OF by encoding, as Go (1.15+) does: the order read back can differ
        // from the order written.
        using (writer.PushSetOf())
        {
            foreach (var value in values)
            {
                WriteAttribute(writer, oid, value);
            }
        }
    }

    /// <summary>Writes one single-valued RDN.</summary>
    public static void WriteRdn(AsnWriter writer, string oid, string value)
    {
        using (writer.PushSetOf())
        {
            WriteAttribute(writer, oid, value);
        }
    }

    private static void WriteAttribute(AsnWriter writer, string oid, string value)
    {
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(oid);
            writer.WriteCharacterString(
                IsGoPrintable(value) ? UniversalTagNumber.PrintableString : UniversalTagNumber.UTF8String,
                value);
        }
    }

    /// <summary>Go's <c>encoding/asn1</c> rule for choosing PrintableString when marshalling a string.</summary>
    public static bool IsGoPrintable(string value)
    {
        foreach (var c in value)
        {
            var printable = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
                or (>= '\'' and <= ')') or (>= '+' and <= '/') or ' ' or ':' or '=' or '?';
            if (!printable)
            {
                return false;
            }
        }

        return true;
    }
}
