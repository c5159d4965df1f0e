using Microsoft.Extensions.Configuration;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Hosting;

/// <summary>
/// What an <see cref="IConfiguration"/> section may set on <see cref="MachineIdOptions"/>: plain values
/// only (addresses, paths, strings, time spans), so binding is done by the configuration binder's
/// source generator (Native AOT and trimming safe). Keys are the options' property names; a key left
/// out keeps the options' default. Certificates are given as files (<c>ProxyCaBundlePath</c>, <c>CaPath</c>).
/// </summary>
internal sealed class MachineIdSettings
{
    public string? ProxyServer { get; set; }

    public string? AuthServer { get; set; }

    public string? JoinMethod { get; set; }

    public string? Token { get; set; }

    public string? TokenFile { get; set; }

    public string? TokenEnvironmentVariable { get; set; }

    public List<string>? CaPins { get; set; }

    public string? CaPath { get; set; }

    public bool? Insecure { get; set; }

    public string? ProxyCaBundlePath { get; set; }

    public TimeSpan? CredentialTtl { get; set; }

    public BotRenewalMode? RenewalMode { get; set; }

    public TimeSpan? RenewalInterval { get; set; }

    public TimeSpan? RetryMinBackoff { get; set; }

    public TimeSpan? RetryMaxBackoff { get; set; }

    public BotStorageType? StorageType { get; set; }

    public string? StoragePath { get; set; }

    /// <summary>Binds <paramref name="section"/> and copies what it sets onto <paramref name="options"/>.</summary>
    public static void Apply(IConfiguration section, MachineIdOptions options)
    {
        var settings = section.Get<MachineIdSettings>();
        if (settings is null)
        {
            return;
        }

        options.ProxyServer = settings.ProxyServer ?? options.ProxyServer;
        options.AuthServer = settings.AuthServer ?? options.AuthServer;
        options.JoinMethod = settings.JoinMethod ?? options.JoinMethod;
        options.Token = settings.Token ?? options.Token;
        options.TokenFile = settings.TokenFile ?? options.TokenFile;
        options.TokenEnvironmentVariable = settings.TokenEnvironmentVariable ?? options.TokenEnvironmentVariable;
        foreach (var pin in settings.CaPins ?? [])
        {
            options.CaPins.Add(pin);
        }

        options.CaPath = settings.CaPath ?? options.CaPath;
        options.Insecure = settings.Insecure ?? options.Insecure;
        options.ProxyCaBundlePath = settings.ProxyCaBundlePath ?? options.ProxyCaBundlePath;
        options.CredentialTtl = settings.CredentialTtl ?? options.CredentialTtl;
        options.RenewalMode = settings.RenewalMode ?? options.RenewalMode;
        options.RenewalInterval = settings.RenewalInterval ?? options.RenewalInterval;
        options.RetryMinBackoff = settings.RetryMinBackoff ?? options.RetryMinBackoff;
        options.RetryMaxBackoff = settings.RetryMaxBackoff ?? options.RetryMaxBackoff;
        options.StorageType = settings.StorageType ?? options.StorageType;
        options.StoragePath = settings.StoragePath ?? options.StoragePath;
    }
}

/// <summary>
/// What an <see cref="IConfiguration"/> section may set on <see cref="IdentityOutputOptions"/>: plain
/// values only (the destination as a directory path), bound by the configuration binder's source generator.
/// </summary>
internal sealed class IdentityOutputSettings
{
    public string? Name { get; set; }

    public string? DestinationPath { get; set; }

    public List<string>? Roles { get; set; }

    public string? Cluster { get; set; }

    public TimeSpan? CredentialTtl { get; set; }

    public TimeSpan? RenewalInterval { get; set; }

    public bool? WriteSshConfig { get; set; }

    public bool? AllowReissue { get; set; }

    public string? ProxyCommandPath { get; set; }

    public List<string>? ProxyCommandArguments { get; set; }

    /// <summary>Binds <paramref name="section"/> and copies what it sets onto <paramref name="options"/>.</summary>
    public static void Apply(IConfiguration section, IdentityOutputOptions options)
    {
        var settings = section.Get<IdentityOutputSettings>();
        if (settings is null)
        {
            return;
        }

        options.Name = settings.Name ?? options.Name;
        options.DestinationPath = settings.DestinationPath ?? options.DestinationPath;
        foreach (var role in settings.Roles ?? [])
        {
            options.Roles.Add(role);
        }

        options.Cluster = settings.Cluster ?? options.Cluster;
        options.CredentialTtl = settings.CredentialTtl ?? options.CredentialTtl;
        options.RenewalInterval = settings.RenewalInterval ?? options.RenewalInterval;
        options.WriteSshConfig = settings.WriteSshConfig ?? options.WriteSshConfig;
        options.AllowReissue = settings.AllowReissue ?? options.AllowReissue;
        options.ProxyCommandPath = settings.ProxyCommandPath ?? options.ProxyCommandPath;
        foreach (var argument in settings.ProxyCommandArguments ?? [])
        {
            options.ProxyCommandArguments.Add(argument);
        }
    }
}
