namespace Teleport.MachineId.Cli;

/// <summary>
/// How the user wrote each setting of a <c>start</c> run — a flag, a tbot.yaml key or an environment
/// variable — so that messages name what to fix, never an SDK property.
/// </summary>
internal sealed record CliSettingNames
{
    public required string Token { get; init; }

    public required string ProxyServer { get; init; }

    public required string AuthServer { get; init; }

    public required string Storage { get; init; }

    public required string CaPins { get; init; }

    public required string CaPath { get; init; }

    public required string CaBundle { get; init; }

    public required string Insecure { get; init; }

    public required string JoinMethod { get; init; }

    public required string CredentialTtl { get; init; }

    public required string RenewalInterval { get; init; }

    /// <summary>The destination of output <c>{0}</c> (its index).</summary>
    public required string DestinationFormat { get; init; }

    /// <summary>The roles of output <c>{0}</c> (its index).</summary>
    public required string RolesFormat { get; init; }

    /// <summary>The names of <c>start identity</c>'s flags; the token, proxy and auth server may come from tbot's environment variables.</summary>
    public static CliSettingNames Flags(bool tokenFromEnvironment, bool proxyFromEnvironment, bool authFromEnvironment) => new()
    {
        Token = tokenFromEnvironment ? "TELEPORT_BOT_TOKEN" : "--token",
        ProxyServer = proxyFromEnvironment ? "TELEPORT_PROXY" : "--proxy-server",
        AuthServer = authFromEnvironment ? "TELEPORT_AUTH_SERVER" : "--auth-server",
        Storage = "--storage",
        CaPins = "--ca-pin",
        CaPath = "--ca-path",
        CaBundle = "--ca-bundle",
        Insecure = "--insecure",
        JoinMethod = "--join-method",
        CredentialTtl = "--credential-ttl",
        RenewalInterval = "--renewal-interval",
        DestinationFormat = "--destination",
        RolesFormat = "--roles",
    };

    /// <summary>The keys of a tbot.yaml; <paramref name="overridden"/> names the settings replaced by a flag or variable.</summary>
    public static CliSettingNames Yaml(string file, string? tokenOverride, string? proxyOverride, string? authOverride)
    {
        var name = Path.GetFileName(file);
        return new()
        {
            Token = tokenOverride ?? $"onboarding.token in {name}",
            ProxyServer = proxyOverride ?? $"proxy_server in {name}",
            AuthServer = authOverride ?? $"auth_server in {name}",
            Storage = $"storage in {name}",
            CaPins = $"onboarding.ca_pins in {name}",
            CaPath = $"onboarding.ca_path in {name}",
            CaBundle = "--ca-bundle",
            Insecure = $"insecure in {name}",
            JoinMethod = $"onboarding.join_method in {name}",
            CredentialTtl = $"credential_ttl in {name}",
            RenewalInterval = $"renewal_interval in {name}",
            DestinationFormat = $"services[{{0}}].destination in {name}",
            RolesFormat = $"services[{{0}}].roles in {name}",
        };
    }

    public string Destination(int output) => string.Format(System.Globalization.CultureInfo.InvariantCulture, DestinationFormat, output);

    public string Roles(int output) => string.Format(System.Globalization.CultureInfo.InvariantCulture, RolesFormat, output);

    /// <summary>SDK option names (in validation messages) and the setting each one is, longest first so no name replaces part of another.</summary>
    public IEnumerable<(string Property, string Setting)> PropertySettings() =>
        new (string, string)[]
        {
            ("TokenEnvironmentVariable", Token), ("TokenFile", Token), ("Token", Token),
            ("ProxyCaBundlePath", CaBundle), ("ProxyServer", ProxyServer), ("AuthServer", AuthServer),
            ("StoragePath", Storage), ("StorageType", Storage), ("CaPins", CaPins), ("CaPath", CaPath), ("Insecure", Insecure),
            ("JoinMethod", JoinMethod), ("CredentialTtl", CredentialTtl), ("RenewalInterval", RenewalInterval),
        }.OrderByDescending(p => p.Item1.Length);
}
