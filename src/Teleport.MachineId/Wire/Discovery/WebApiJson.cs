using System.Text.Json;
using System.Text.Json.Serialization;

namespace Teleport.MachineId.Wire.Discovery;

// JSON shapes of the proxy's web API, with Go's field names (teleport-protocol.md §1.1, §3.3).
// Only what this client reads is declared; unknown members are ignored.

/// <summary><c>GET /webapi/find</c> response (Go <c>webclient.PingResponse</c>).</summary>
internal sealed class FindResponseJson
{
    [JsonPropertyName("proxy")]
    public ProxySettingsJson? Proxy { get; set; }

    [JsonPropertyName("auth")]
    public AuthSettingsJson? Auth { get; set; }

    [JsonPropertyName("server_version")]
    public string? ServerVersion { get; set; }

    [JsonPropertyName("min_client_version")]
    public string? MinClientVersion { get; set; }

    [JsonPropertyName("cluster_name")]
    public string? ClusterName { get; set; }

    [JsonPropertyName("edition")]
    public string? Edition { get; set; }

    [JsonPropertyName("fips")]
    public bool Fips { get; set; }
}

/// <summary>Go <c>webclient.ProxySettings</c> (subset).</summary>
internal sealed class ProxySettingsJson
{
    [JsonPropertyName("ssh")]
    public SshProxySettingsJson? Ssh { get; set; }

    [JsonPropertyName("tls_routing_enabled")]
    public bool TlsRoutingEnabled { get; set; }
}

/// <summary>Go <c>webclient.SSHProxySettings</c>.</summary>
internal sealed class SshProxySettingsJson
{
    [JsonPropertyName("listen_addr")]
    public string? ListenAddr { get; set; }

    [JsonPropertyName("tunnel_listen_addr")]
    public string? TunnelListenAddr { get; set; }

    [JsonPropertyName("web_listen_addr")]
    public string? WebListenAddr { get; set; }

    [JsonPropertyName("public_addr")]
    public string? PublicAddr { get; set; }

    [JsonPropertyName("ssh_public_addr")]
    public string? SshPublicAddr { get; set; }

    [JsonPropertyName("ssh_tunnel_public_addr")]
    public string? SshTunnelPublicAddr { get; set; }

    /// <summary>Go <c>time.Duration</c>: integer nanoseconds.</summary>
    [JsonPropertyName("dial_timeout")]
    public long DialTimeout { get; set; }
}

/// <summary>Go <c>webclient.AuthenticationSettings</c> (subset).</summary>
internal sealed class AuthSettingsJson
{
    /// <summary>Text form (<c>balanced-v1</c>); a number (the proto enum) is accepted as well.</summary>
    [JsonPropertyName("signature_algorithm_suite")]
    [JsonConverter(typeof(StringOrNumberConverter))]
    public string? SignatureAlgorithmSuite { get; set; }
}

/// <summary>Teleport's web error body: <c>{"error":{"message":"…"}}</c>.</summary>
internal sealed class WebErrorJson
{
    [JsonPropertyName("error")]
    public WebErrorDetailJson? Error { get; set; }
}

/// <summary>The inner object of <see cref="WebErrorJson"/>.</summary>
internal sealed class WebErrorDetailJson
{
    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

/// <summary>
/// JSON of <c>types.RegisterUsingTokenRequest</c> as Go's <c>encoding/json</c> writes it (gogoproto
/// json tags; <c>[]byte</c> as standard base64; <c>expires</c> RFC 3339, omitted when unset).
/// </summary>
internal sealed class RegisterUsingTokenRequestJson
{
    [JsonPropertyName("hostID")]
    public string HostId { get; set; } = string.Empty;

    [JsonPropertyName("node_name")]
    public string NodeName { get; set; } = string.Empty;

    [JsonPropertyName("role")]
    public string Role { get; set; } = string.Empty;

    [JsonPropertyName("token")]
    public string Token { get; set; } = string.Empty;

    [JsonPropertyName("additional_principals")]
    public IReadOnlyList<string>? AdditionalPrincipals { get; set; }

    [JsonPropertyName("dns_names")]
    public IReadOnlyList<string>? DnsNames { get; set; }

    [JsonPropertyName("public_tls_key")]
    public byte[]? PublicTlsKey { get; set; }

    [JsonPropertyName("public_ssh_key")]
    public byte[]? PublicSshKey { get; set; }

    [JsonPropertyName("remote_addr")]
    public string RemoteAddr { get; set; } = string.Empty;

    [JsonPropertyName("ec2_id")]
    public byte[]? Ec2Id { get; set; }

    [JsonPropertyName("id_token")]
    public string IdToken { get; set; } = string.Empty;

    [JsonPropertyName("expires")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonConverter(typeof(Rfc3339Converter))]
    public DateTimeOffset? Expires { get; set; }

    [JsonPropertyName("bot_instance_id")]
    public string BotInstanceId { get; set; } = string.Empty;

    [JsonPropertyName("bot_generation")]
    public int BotGeneration { get; set; }

    [JsonPropertyName("previous_bot_instance_id")]
    public string PreviousBotInstanceId { get; set; } = string.Empty;
}

/// <summary>JSON of <c>proto.Certs</c> (the answer of <c>/webapi/host/credentials</c>).</summary>
internal sealed class CertsJson
{
    [JsonPropertyName("ssh")]
    public byte[]? Ssh { get; set; }

    [JsonPropertyName("tls")]
    public byte[]? Tls { get; set; }

    [JsonPropertyName("tls_ca_certs")]
    public IReadOnlyList<byte[]>? TlsCaCerts { get; set; }

    [JsonPropertyName("ssh_ca_certs")]
    public IReadOnlyList<byte[]>? SshCaCerts { get; set; }
}

/// <summary>Reads a JSON string or number as text.</summary>
internal sealed class StringOrNumberConverter : JsonConverter<string?>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => reader.TryGetInt64(out var n) ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : null,
        JsonTokenType.Null => null,
        _ => throw new JsonException("Expected a string or a number."),
    };

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value);
    }
}

/// <summary>RFC 3339 in UTC with a <c>Z</c> suffix, as Go's <c>time.Time</c> marshals.</summary>
internal sealed class Rfc3339Converter : JsonConverter<DateTimeOffset?>
{
    public override DateTimeOffset? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null : reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset? value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is null)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStringValue(value.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>Source-generated (reflection-free) serialization of the web API shapes.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(FindResponseJson))]
[JsonSerializable(typeof(WebErrorJson))]
[JsonSerializable(typeof(RegisterUsingTokenRequestJson))]
[JsonSerializable(typeof(CertsJson))]
internal sealed partial class WireJsonContext : JsonSerializerContext
{
}
