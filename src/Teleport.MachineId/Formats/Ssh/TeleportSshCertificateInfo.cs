using System.Buffers;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// What Teleport puts into the extensions of the SSH certificates it issues (roles, traits,
/// route to cluster, bot name and instance, renewable/generation, permit-* flags, host role and
/// authority), decoded; plus the extension names and encoders for code that issues such certificates.
/// </summary>
/// <remarks>
/// Absent extensions read as empty lists, <see langword="null"/> strings, <see langword="false"/>
/// flags and generation 0 ("not tracked"), as Teleport reads them. Immutable.
/// </remarks>
public sealed class TeleportSshCertificateInfo
{
    /// <summary><c>teleport-roles</c>: JSON <c>{"roles":[…]}</c>.</summary>
    public const string RolesExtension = "teleport-roles";

    /// <summary><c>teleport-traits</c>: JSON object of trait name to list of values.</summary>
    public const string TraitsExtension = "teleport-traits";

    /// <summary><c>teleport-route-to-cluster</c>: the cluster requests are routed to.</summary>
    public const string RouteToClusterExtension = "teleport-route-to-cluster";

    /// <summary><c>teleport-active-requests</c>: JSON <c>{"access_requests":[…]}</c>.</summary>
    public const string ActiveRequestsExtension = "teleport-active-requests";

    /// <summary><c>renewable</c> flag: the bot may renew this certificate.</summary>
    public const string RenewableExtension = "renewable";

    /// <summary><c>generation</c>: decimal renewal counter of a bot identity.</summary>
    public const string GenerationExtension = "generation";

    /// <summary><c>bot-name@goteleport.com</c>: the bot's name.</summary>
    public const string BotNameExtension = "bot-name@goteleport.com";

    /// <summary><c>bot-instance-id@goteleport.com</c>: the bot instance identifier.</summary>
    public const string BotInstanceIdExtension = "bot-instance-id@goteleport.com";

    /// <summary><c>impersonator</c>: the user who requested this certificate for another user.</summary>
    public const string ImpersonatorExtension = "impersonator";

    /// <summary><c>disallow-reissue</c> flag: this certificate cannot obtain further certificates.</summary>
    public const string DisallowReissueExtension = "disallow-reissue";

    /// <summary><c>login-ip</c>: the client address seen when the certificate was issued.</summary>
    public const string LoginIpExtension = "login-ip";

    /// <summary><c>mfa-verified</c>: the MFA device ID of a per-session MFA certificate.</summary>
    public const string MfaVerifiedExtension = "mfa-verified";

    /// <summary><c>prev-identity-expires</c>: RFC 3339 expiry of the identity this one was derived from.</summary>
    public const string PreviousIdentityExpiresExtension = "prev-identity-expires";

    /// <summary><c>private-key-policy</c>: the private key policy the key satisfies.</summary>
    public const string PrivateKeyPolicyExtension = "private-key-policy";

    /// <summary><c>permit-pty</c> (OpenSSH): a terminal may be allocated.</summary>
    public const string PermitPtyExtension = "permit-pty";

    /// <summary><c>permit-X11-forwarding</c> (OpenSSH).</summary>
    public const string PermitX11ForwardingExtension = "permit-X11-forwarding";

    /// <summary><c>permit-agent-forwarding</c> (OpenSSH).</summary>
    public const string PermitAgentForwardingExtension = "permit-agent-forwarding";

    /// <summary><c>permit-port-forwarding</c> (OpenSSH).</summary>
    public const string PermitPortForwardingExtension = "permit-port-forwarding";

    /// <summary><c>permit-user-rc</c> (OpenSSH).</summary>
    public const string PermitUserRcExtension = "permit-user-rc";

    /// <summary><c>x-teleport-role</c> (host certificates): the Teleport system role of the host.</summary>
    public const string SystemRoleExtension = "x-teleport-role";

    /// <summary><c>x-teleport-authority</c> (host certificates): the cluster that issued the certificate.</summary>
    public const string AuthorityExtension = "x-teleport-authority";

    /// <summary><c>source-address</c> critical option: CIDR list the certificate may be used from (IP pinning).</summary>
    public const string SourceAddressCriticalOption = "source-address";

    internal TeleportSshCertificateInfo(IReadOnlyDictionary<string, string> extensions)
    {
        Roles = extensions.TryGetValue(RolesExtension, out var roles)
            ? ReadStringArrayProperty(roles, "roles", RolesExtension)
            : Array.Empty<string>();
        Traits = extensions.TryGetValue(TraitsExtension, out var traits)
            ? ReadTraits(traits)
            : ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;
        ActiveRequests = extensions.TryGetValue(ActiveRequestsExtension, out var requests)
            ? ReadStringArrayProperty(requests, "access_requests", ActiveRequestsExtension)
            : Array.Empty<string>();
        RouteToCluster = Value(extensions, RouteToClusterExtension);
        Renewable = extensions.ContainsKey(RenewableExtension);
        if (extensions.TryGetValue(GenerationExtension, out var generation))
        {
            if (!ulong.TryParse(generation, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                throw new TeleportFormatException($"Malformed Teleport SSH certificate: extension '{GenerationExtension}' is not a decimal number.");
            }

            Generation = value;
        }

        if (extensions.TryGetValue(PreviousIdentityExpiresExtension, out var expires))
        {
            if (!DateTimeOffset.TryParse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
            {
                throw new TeleportFormatException($"Malformed Teleport SSH certificate: extension '{PreviousIdentityExpiresExtension}' is not an RFC 3339 time.");
            }

            PreviousIdentityExpires = value;
        }

        BotName = Value(extensions, BotNameExtension);
        BotInstanceId = Value(extensions, BotInstanceIdExtension);
        Impersonator = Value(extensions, ImpersonatorExtension);
        LoginIp = Value(extensions, LoginIpExtension);
        MfaVerified = Value(extensions, MfaVerifiedExtension);
        PrivateKeyPolicy = Value(extensions, PrivateKeyPolicyExtension);
        SystemRole = Value(extensions, SystemRoleExtension);
        Authority = Value(extensions, AuthorityExtension);
        DisallowReissue = extensions.ContainsKey(DisallowReissueExtension);
        PermitPty = extensions.ContainsKey(PermitPtyExtension);
        PermitX11Forwarding = extensions.ContainsKey(PermitX11ForwardingExtension);
        PermitAgentForwarding = extensions.ContainsKey(PermitAgentForwardingExtension);
        PermitPortForwarding = extensions.ContainsKey(PermitPortForwardingExtension);
        PermitUserRc = extensions.ContainsKey(PermitUserRcExtension);
    }

    /// <summary>The Teleport roles (<c>teleport-roles</c>).</summary>
    public IReadOnlyList<string> Roles { get; }

    /// <summary>The user traits (<c>teleport-traits</c>), e.g. <c>logins</c>.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Traits { get; }

    /// <summary>Access request IDs the certificate was issued under (<c>teleport-active-requests</c>).</summary>
    public IReadOnlyList<string> ActiveRequests { get; }

    /// <summary>The cluster to route to (<c>teleport-route-to-cluster</c>).</summary>
    public string? RouteToCluster { get; }

    /// <summary>Whether the certificate may be renewed (bot identities from a token join).</summary>
    public bool Renewable { get; }

    /// <summary>The renewal generation; 0 when not tracked.</summary>
    public ulong Generation { get; }

    /// <summary>Expiry of the identity this one was derived from (<c>prev-identity-expires</c>).</summary>
    public DateTimeOffset? PreviousIdentityExpires { get; }

    /// <summary>The bot's name when the certificate belongs to a Machine ID bot.</summary>
    public string? BotName { get; }

    /// <summary>The bot instance ID.</summary>
    public string? BotInstanceId { get; }

    /// <summary>The user who requested this certificate for another user (impersonation).</summary>
    public string? Impersonator { get; }

    /// <summary>The client address at issue time.</summary>
    public string? LoginIp { get; }

    /// <summary>The MFA device of a per-session MFA certificate.</summary>
    public string? MfaVerified { get; }

    /// <summary>The private key policy.</summary>
    public string? PrivateKeyPolicy { get; }

    /// <summary>The Teleport system role of a host certificate (<c>x-teleport-role</c>, e.g. <c>Node</c>).</summary>
    public string? SystemRole { get; }

    /// <summary>The issuing cluster of a host certificate (<c>x-teleport-authority</c>).</summary>
    public string? Authority { get; }

    /// <summary>Whether the certificate is barred from obtaining more certificates.</summary>
    public bool DisallowReissue { get; }

    /// <summary><c>permit-pty</c>.</summary>
    public bool PermitPty { get; }

    /// <summary><c>permit-X11-forwarding</c>.</summary>
    public bool PermitX11Forwarding { get; }

    /// <summary><c>permit-agent-forwarding</c>.</summary>
    public bool PermitAgentForwarding { get; }

    /// <summary><c>permit-port-forwarding</c>.</summary>
    public bool PermitPortForwarding { get; }

    /// <summary><c>permit-user-rc</c>.</summary>
    public bool PermitUserRc { get; }

    /// <summary>Whether the certificate belongs to a Machine ID bot.</summary>
    public bool IsBot => BotName is not null;

    /// <summary>Encodes the <c>teleport-roles</c> value: <c>{"roles":[…]}</c>.</summary>
    /// <param name="roles">Role names.</param>
    /// <returns>The JSON text.</returns>
    public static string EncodeRoles(IEnumerable<string> roles) => EncodeStringArrayProperty("roles", roles);

    /// <summary>Encodes the <c>teleport-active-requests</c> value: <c>{"access_requests":[…]}</c>.</summary>
    /// <param name="requestIds">Access request IDs.</param>
    /// <returns>The JSON text.</returns>
    public static string EncodeActiveRequests(IEnumerable<string> requestIds) => EncodeStringArrayProperty("access_requests", requestIds);

    /// <summary>Encodes the <c>teleport-traits</c> value: a JSON object of trait name to values, names in ordinal order.</summary>
    /// <param name="traits">Trait values by name.</param>
    /// <returns>The JSON text.</returns>
    public static string EncodeTraits(IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> traits)
    {
        ArgumentNullException.ThrowIfNull(traits);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, values) in traits.OrderBy(t => t.Key, StringComparer.Ordinal))
            {
                writer.WriteStartArray(name);
                foreach (var value in values ?? [])
                {
                    writer.WriteStringValue(value);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string? Value(IReadOnlyDictionary<string, string> extensions, string name) =>
        extensions.TryGetValue(name, out var value) ? value : null;

    private static string EncodeStringArrayProperty(string property, IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray(property);
            foreach (var value in values)
            {
                writer.WriteStringValue(value);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static ReadOnlyCollection<string> ReadStringArrayProperty(string json, string property, string extension)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Malformed(extension, "is not a JSON object");
            }

            return document.RootElement.TryGetProperty(property, out var array)
                ? ReadStringArray(array, extension)
                : ReadOnlyCollection<string>.Empty;
        }
        catch (JsonException ex)
        {
            throw Malformed(extension, "is not valid JSON", ex);
        }
    }

    private static ReadOnlyDictionary<string, IReadOnlyList<string>> ReadTraits(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind == JsonValueKind.Null)
            {
                return ReadOnlyDictionary<string, IReadOnlyList<string>>.Empty;
            }

            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Malformed(TraitsExtension, "is not a JSON object");
            }

            var traits = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                traits[property.Name] = ReadStringArray(property.Value, TraitsExtension);
            }

            return new ReadOnlyDictionary<string, IReadOnlyList<string>>(traits);
        }
        catch (JsonException ex)
        {
            throw Malformed(TraitsExtension, "is not valid JSON", ex);
        }
    }

    private static ReadOnlyCollection<string> ReadStringArray(JsonElement element, string extension)
    {
        if (element.ValueKind == JsonValueKind.Null)
        {
            return ReadOnlyCollection<string>.Empty;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw Malformed(extension, "is not a JSON array of strings");
        }

        var values = new List<string>(element.GetArrayLength());
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw Malformed(extension, "is not a JSON array of strings");
            }

            values.Add(item.GetString()!);
        }

        return values.AsReadOnly();
    }

    private static TeleportFormatException Malformed(string extension, string problem, Exception? inner = null) =>
        new($"Malformed Teleport SSH certificate: extension '{extension}' {problem}.", inner);
}
