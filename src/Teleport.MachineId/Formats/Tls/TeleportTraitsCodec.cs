using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;

namespace Teleport.MachineId.Tls;

/// <summary>
/// Teleport user traits (<c>map[string][]string</c>) as stored in the POSTALCODE attribute: JSON as
/// Go's <c>encoding/json</c> writes it (keys sorted, HTML characters escaped), read back from JSON
/// or, failing that, from the legacy protobuf <c>wrappers.LabelValues</c> encoding.
/// </summary>
internal static class TeleportTraitsCodec
{
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> Empty =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <exception cref="TeleportFormatException">Neither JSON nor protobuf traits.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Parse(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        if (TryParseJson(bytes, out var traits))
        {
            return traits;
        }

        try
        {
            return ParseProtobuf(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new TeleportFormatException(
                "The certificate's traits (POSTALCODE attribute) are neither a JSON map of string lists nor protobuf LabelValues.", ex);
        }
    }

    private static bool TryParseJson(byte[] bytes, out IReadOnlyDictionary<string, IReadOnlyList<string>> traits)
    {
        traits = Empty;
        try
        {
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType == JsonTokenType.Null)
            {
                return !reader.Read();
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var key = reader.GetString()!;
                reader.Read();
                var values = new List<string>();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        switch (reader.TokenType)
                        {
                            case JsonTokenType.String:
                                values.Add(reader.GetString()!);
                                break;
                            case JsonTokenType.Null:
                                values.Add(string.Empty); // Go leaves the element at its zero value.
                                break;
                            default:
                                return false;
                        }
                    }
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    return false;
                }

                result[key] = values; // Like Go: the last duplicate key wins.
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return false;
            }

            traits = result;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // wrappers.LabelValues { map<string, StringValues> Values = 1; } StringValues { repeated string Values = 1; }
    private static Dictionary<string, IReadOnlyList<string>> ParseProtobuf(byte[] bytes)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (tag != MakeTag(1, WireFormat.WireType.LengthDelimited))
            {
                input.SkipLastField();
                continue;
            }

            var entry = new CodedInputStream(input.ReadBytes().ToByteArray());
            var key = string.Empty;
            var values = new List<string>();
            uint entryTag;
            while ((entryTag = entry.ReadTag()) != 0)
            {
                if (entryTag == MakeTag(1, WireFormat.WireType.LengthDelimited))
                {
                    key = entry.ReadString();
                }
                else if (entryTag == MakeTag(2, WireFormat.WireType.LengthDelimited))
                {
                    values.Clear();
                    var list = new CodedInputStream(entry.ReadBytes().ToByteArray());
                    uint listTag;
                    while ((listTag = list.ReadTag()) != 0)
                    {
                        if (listTag == MakeTag(1, WireFormat.WireType.LengthDelimited))
                        {
                            values.Add(list.ReadString());
                        }
                        else
                        {
                            list.SkipLastField();
                        }
                    }
                }
                else
                {
                    entry.SkipLastField();
                }
            }

            result[key] = values;
        }

        return result;
    }

    private static uint MakeTag(int field, WireFormat.WireType type) => WireFormat.MakeTag(field, type);

    /// <summary>Encodes traits exactly as Go's <c>json.Marshal(map[string][]string)</c>.</summary>
    public static string ToGoJson(IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> traits)
    {
        var sorted = traits.OrderBy(static t => t.Key, StringComparer.Ordinal).ToList();
        var sb = new StringBuilder(2 + (sorted.Count * 16));
        sb.Append('{');
        for (var i = 0; i < sorted.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            AppendGoJsonString(sb, sorted[i].Key);
            sb.Append(':');
            var values = sorted[i].Value;
            if (values is null)
            {
                sb.Append("null");
                continue;
            }

            sb.Append('[');
            for (var j = 0; j < values.Count; j++)
            {
                if (j > 0)
                {
                    sb.Append(',');
                }

                AppendGoJsonString(sb, values[j]);
            }

            sb.Append(']');
        }

        sb.Append('}');
        return sb.ToString();
    }

    private static void AppendGoJsonString(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '\b':
                    sb.Append("\\b");
                    break;
                case '\f':
                    sb.Append("\\f");
                    break;
                case '<' or '>' or '&' or '\u2028' or '\u2029' or < ' ':
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }
}
