namespace Teleport.MachineId.Tls;

/// <summary>
/// Object identifiers of the subject attributes Teleport puts into its X.509 certificates
/// (teleport-protocol.md §8.2). Standard X.520 attributes carry the core identity; Teleport's own
/// arc 1.3.9999 carries everything else, each value in its own single-valued RDN.
/// </summary>
internal static class TeleportOids
{
    // X.520 attributes, in the order Go's pkix.Name writes them.
    public const string Country = "2.5.4.6";
    public const string Province = "2.5.4.8";
    public const string Locality = "2.5.4.7";
    public const string StreetAddress = "2.5.4.9";
    public const string PostalCode = "2.5.4.17";
    public const string Organization = "2.5.4.10";
    public const string OrganizationalUnit = "2.5.4.11";
    public const string CommonName = "2.5.4.3";
    public const string SerialNumber = "2.5.4.5";

    // Teleport attributes (lib/tlsca).
    public const string TeleportCluster = "1.3.9999.1.7";
    public const string MfaVerified = "1.3.9999.1.8";
    public const string LoginIp = "1.3.9999.1.9";
    public const string Renewable = "1.3.9999.1.13";
    public const string Generation = "1.3.9999.1.14";
    public const string PrivateKeyPolicy = "1.3.9999.1.15";
    public const string UserType = "1.3.9999.1.20";
    public const string Impersonator = "1.3.9999.2.7";
    public const string ActiveRequests = "1.3.9999.2.8";
    public const string DisallowReissue = "1.3.9999.2.9";
    public const string SystemRoles = "1.3.9999.2.11";
    public const string PreviousIdentityExpires = "1.3.9999.2.12";
    public const string PinnedIp = "1.3.9999.2.15";
    public const string BotName = "1.3.9999.2.18";
    public const string BotInstanceId = "1.3.9999.2.20";
    public const string JoinAttributes = "1.3.9999.2.21";

    // Extended key usages.
    public const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    /// <summary>Teleport's literal for a true boolean attribute.</summary>
    public const string True = "true";
}
