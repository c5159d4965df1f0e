using Microsoft.Extensions.Logging;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Teleport.MachineId.Cli;

/// <summary>What <c>start</c> runs: the bot's options, its services (identity outputs, ssh_host outputs, ssh-multiplexers), and whether to stop after one round.</summary>
internal sealed record BotRunPlan
{
    public required MachineIdOptions Bot { get; init; }

    public IReadOnlyList<IdentityOutputOptions> Outputs { get; init; } = [];

    public IReadOnlyList<SshHostOutputOptions> SshHostOutputs { get; init; } = [];

    public IReadOnlyList<SshMultiplexerOptions> Multiplexers { get; init; } = [];

    public bool Oneshot { get; init; }

    /// <summary>How the user wrote each setting, for messages.</summary>
    public required CliSettingNames Names { get; init; }

    /// <summary>
    /// Builds the plan from tbot's v2 YAML (already validated by the reader) with the public mapping
    /// (<see cref="TbotConfigurationExtensions"/>), plus what only the command line says.
    /// </summary>
    public static BotRunPlan FromConfiguration(TbotConfiguration configuration, string? proxyCaBundle, CliSettingNames names, ILoggerFactory loggerFactory)
    {
        var bot = configuration.ToMachineIdOptions();
        bot.ProxyCaBundlePath = proxyCaBundle;
        return new BotRunPlan
        {
            Bot = bot,
            Outputs = configuration.ToIdentityOutputOptions(loggerFactory),
            SshHostOutputs = configuration.ToSshHostOutputOptions(loggerFactory),
            Multiplexers = configuration.ToSshMultiplexerOptions(loggerFactory),
            Oneshot = configuration.Oneshot,
            Names = names,
        };
    }

    /// <summary>A <c>--storage</c> or <c>--destination</c> value: <c>memory://</c>, <c>file:///path</c> or a path.</summary>
    /// <exception cref="CliException">An empty value or an unsupported URI scheme.</exception>
    public static (bool Memory, string? Path) ParseLocation(string value, string flag)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw CliException.Usage($"{flag} is empty; give a directory path, file:///path or memory://.");
        }

        if (value.StartsWith("memory://", StringComparison.OrdinalIgnoreCase))
        {
            return (true, null);
        }

        if (value.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            var path = value["file://".Length..];
            return (false, Path.GetFullPath(path.Length == 0 ? "." : path));
        }

        if (value.Contains("://", StringComparison.Ordinal))
        {
            throw CliException.Usage($"{flag} '{value}' is not supported; use a directory path, file:///path or memory://.");
        }

        return (false, Path.GetFullPath(value));
    }

    /// <summary>
    /// Checks, before anything is sent to the cluster, what can be checked locally: addresses, the
    /// token file, the CA files (loaded here so they are read once), renewal interval against TTL.
    /// </summary>
    /// <exception cref="CliException">A setting is unusable; the message names it as the user wrote it.</exception>
    public void CheckLocalInputs()
    {
        CheckAddress(Bot.ProxyServer, Names.ProxyServer, "teleport.example.com:443");
        CheckAddress(Bot.AuthServer, Names.AuthServer, "auth.example.com:3025");
        if (Bot.TokenFile is { } tokenFile)
        {
            CheckTokenFile(tokenFile);
        }
        else if (Bot.Token is null && Bot.StorageType == BotStorageType.Memory)
        {
            throw CliException.Usage(
                $"No join token: with {Names.Storage} memory:// the bot keeps nothing between runs and must join every time; set {Names.Token} to a token or to the absolute path of a file holding one.");
        }

        if (Bot.ProxyCaBundlePath is { } bundle)
        {
            foreach (var certificate in ReadCertificates(bundle, "proxy CA bundle", Names.CaBundle))
            {
                Bot.ProxyCaCertificates.Add(certificate);
            }

            Bot.ProxyCaBundlePath = null;
        }

        if (Bot.CaPath is { } caPath)
        {
            _ = ReadCertificates(caPath, "Auth CA file", Names.CaPath);
        }

        if (Bot.RenewalMode == BotRenewalMode.FixedInterval && Bot.RenewalInterval >= Bot.CredentialTtl)
        {
            throw CliException.Usage(
                $"{Names.RenewalInterval} ({GoDuration.Format(Bot.RenewalInterval)}) must be shorter than {Names.CredentialTtl} ({GoDuration.Format(Bot.CredentialTtl)}).");
        }

        for (var i = 0; i < Outputs.Count; i++)
        {
            var output = Outputs[i];
            if (output.RenewalInterval >= output.CredentialTtl)
            {
                throw CliException.Usage(
                    $"The renewal interval ({GoDuration.Format(output.RenewalInterval)}) of output {Names.Destination(i)} must be shorter than its credential TTL ({GoDuration.Format(output.CredentialTtl)}).");
            }
        }
    }

    /// <summary>
    /// Whether no connection of this run can consult the operating system's trust store: the proxy is
    /// verified against the configured CA bundle (or, asked for, not at all), Auth and the nodes against
    /// the cluster's CAs, and the join method fetches nothing over HTTPS (github's ID token endpoint is
    /// verified with the store). Call after <see cref="CheckLocalInputs"/>, which loads the bundle.
    /// </summary>
    public bool NeverUsesSystemTrustStore =>
        (Bot.Insecure || Bot.ProxyCaCertificates.Count > 0)
        && !string.Equals(Bot.JoinMethod, MachineIdOptions.GitHubJoinMethod, StringComparison.Ordinal);

    private static void CheckAddress(string? value, string setting, string example)
    {
        if (value is not null && !Wire.HostPort.TryParse(value, TeleportDefaults.ProxyPort, null, out _))
        {
            throw CliException.Usage($"{setting} '{value}' is not a host:port address (for example {example}).");
        }
    }

    private void CheckTokenFile(string path)
    {
        string token;
        try
        {
            token = BoundedFile.ReadAllText(path, InputLimits.JoinTokenFileBytes, "join token file").Trim();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException && Bot.StorageType != BotStorageType.Memory)
        {
            // tbot's rule: the file may be gone once the bot has joined; the stored identity is renewed.
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TeleportFormatException)
        {
            throw CliException.Usage($"{Names.Token}: {ex.Message}", ex);
        }

        if (token.Length == 0 && Bot.StorageType == BotStorageType.Memory)
        {
            throw CliException.Usage($"{Names.Token}: the join token file '{path}' is empty; write the join token into it.");
        }
    }

    private static List<System.Security.Cryptography.X509Certificates.X509Certificate2> ReadCertificates(string path, string description, string setting)
    {
        try
        {
            var pem = BoundedFile.ReadAllText(path, InputLimits.PemFileBytes, description);
            return [.. Wire.IssuedCertificates.ReadPemCertificates(pem, $"the {description} '{path}'")];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TeleportException)
        {
            throw CliException.Usage($"{setting}: {CliErrors.OneLine(ex.Message)}", ex);
        }
    }
}
