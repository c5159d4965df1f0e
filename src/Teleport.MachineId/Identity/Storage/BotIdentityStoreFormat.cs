using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Teleport.MachineId.Identity.Joining;

namespace Teleport.MachineId.Identity.Storage;

/// <summary>
/// The JSON of the storage files: <c>bot-identity.json</c> (key, certificates, CAs, token hash and
/// the join method's committed state) and <c>renewal-inflight.json</c>. PEM and authorized_keys
/// text stay readable with standard tools; join method state entries are base64.
/// </summary>
internal static class BotIdentityStoreFormat
{
    public const int FormatVersion = 1;

    /// <exception cref="ArgumentException">The name or size is not allowed for a join method entry.</exception>
    public static void ValidateEntry(string name, int length)
    {
        JoinMethodState.ValidateName(name);
        if (length > JoinMethodState.MaxEntrySize)
        {
            throw new ArgumentException($"Join method entry '{name}' is larger than {JoinMethodState.MaxEntrySize} bytes.", nameof(length));
        }
    }

    public static byte[] EncodeIdentity(StoredBotIdentity identity)
    {
        var buffer = new ArrayBufferWriter<byte>(8192);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", FormatVersion);
            writer.WriteString("saved_at", identity.SavedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("join_method", identity.Material.JoinMethod);
            if (identity.TokenHash is not null)
            {
                writer.WriteString("token_hash", identity.TokenHash);
            }

            writer.WriteString("private_key", identity.PrivateKeyPem);
            writer.WriteString("tls_cert", identity.Material.TlsCertificatePem);
            writer.WriteString("ssh_cert", identity.Material.SshCertificate);
            writer.WriteStartArray("tls_ca_certs");
            foreach (var pem in identity.Material.TlsCaCertificatesPem)
            {
                writer.WriteStringValue(pem);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("ssh_ca_keys");
            foreach (var line in identity.Material.SshCaKeys)
            {
                writer.WriteStringValue(line);
            }

            writer.WriteEndArray();
            if (!identity.MethodState.IsEmpty)
            {
                writer.WriteStartObject("join_method_state");
                foreach (var name in identity.MethodState.Names)
                {
                    identity.MethodState.TryGet(name, out var content);
                    writer.WriteBase64String(name, content!.Value.Span);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static StoredBotIdentity DecodeIdentity(byte[] bytes)
    {
        const string what = "The stored bot identity (" + DirectoryBotIdentityStore.IdentityFileName + ")";
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new TeleportFormatException(what + " is not a JSON object.");
            }

            var version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : 0;
            if (version != FormatVersion)
            {
                throw new TeleportFormatException($"{what} has format version {version}; this library reads version {FormatVersion}.");
            }

            var material = new BotIdentityMaterial(
                RequiredString(root, "tls_cert", what),
                RequiredString(root, "ssh_cert", what),
                StringArray(root, "tls_ca_certs", what),
                StringArray(root, "ssh_ca_keys", what),
                RequiredString(root, "join_method", what));
            var tokenHash = root.TryGetProperty("token_hash", out var th) && th.ValueKind == JsonValueKind.String ? th.GetString() : null;
            var savedAt = DateTimeOffset.TryParse(RequiredString(root, "saved_at", what), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                ? at
                : throw new TeleportFormatException(what + " has an invalid saved_at time.");
            return new StoredBotIdentity(RequiredString(root, "private_key", what), material, tokenHash, savedAt)
            {
                MethodState = MethodState(root, what),
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // JsonException messages quote positions, not content. JsonDocument checks UTF-8 inside
            // strings only when they are read: invalid bytes surface as InvalidOperationException.
            throw new TeleportFormatException(what + " is not valid JSON (truncated or corrupted).", ex);
        }
    }

    public static byte[] EncodeInFlight(InFlightRenewal record)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", FormatVersion);
            writer.WriteNumber("from_generation", record.FromGeneration);
            if (record.InstanceId is not null)
            {
                writer.WriteString("instance_id", record.InstanceId);
            }

            writer.WriteString("new_public_key", record.NewPublicKey);
            writer.WriteString("started_at", record.StartedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static InFlightRenewal DecodeInFlight(byte[] bytes)
    {
        const string what = "The renewal record (" + DirectoryBotIdentityStore.InFlightFileName + ")";
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("from_generation", out var g) || g.ValueKind != JsonValueKind.Number || !g.TryGetInt32(out var generation))
            {
                throw new TeleportFormatException(what + " has no from_generation.");
            }

            var instance = root.TryGetProperty("instance_id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            var startedAt = DateTimeOffset.TryParse(RequiredString(root, "started_at", what), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                ? at
                : DateTimeOffset.MinValue;
            return new InFlightRenewal(generation, instance, RequiredString(root, "new_public_key", what), startedAt);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new TeleportFormatException(what + " is not valid JSON.", ex);
        }
    }

    private static JoinMethodState MethodState(JsonElement root, string what)
    {
        if (!root.TryGetProperty("join_method_state", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return JoinMethodState.Empty;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new TeleportFormatException(what + " has a 'join_method_state' that is not an object.");
        }

        var state = JoinMethodState.Empty;
        foreach (var entry in value.EnumerateObject())
        {
            if (!JoinMethodState.IsValidName(entry.Name) || entry.Value.ValueKind != JsonValueKind.String || !entry.Value.TryGetBytesFromBase64(out var content)
                || content.Length > JoinMethodState.MaxEntrySize)
            {
                throw new TeleportFormatException($"{what} has an invalid join method state entry.");
            }

            state = state.With(entry.Name, content);
        }

        return state;
    }

    private static string RequiredString(JsonElement root, string name, string what) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new TeleportFormatException($"{what} has no '{name}' string.");

    private static string[] StringArray(JsonElement root, string name, string what)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Array)
        {
            throw new TeleportFormatException($"{what} has no '{name}' array.");
        }

        var result = new string[value.GetArrayLength()];
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            result[index++] = item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw new TeleportFormatException($"{what} has a non-string entry in '{name}'.");
        }

        return result;
    }
}
