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

    /// <summary>Builds the plan from tbot's v2 YAML (already validated by the reader).</summary>
    /// <exception cref="TbotConfigurationException">The token file cannot be read.</exception>
    public static async Task<BotRunPlan> FromConfigurationAsync(TbotConfiguration configuration, string? proxyCaBundle, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var bot = new MachineIdOptions
        {
            ProxyServer = configuration.ProxyServer?.ToString(),
            AuthServer = configuration.AuthServer?.ToString(),
            Insecure = configuration.Insecure,
            CaPath = configuration.Onboarding.CaPath,
            CredentialTtl = configuration.CredentialLifetime.Ttl,
            RenewalInterval = configuration.CredentialLifetime.RenewalInterval,
            RenewalMode = BotRenewalMode.FixedInterval,
            ProxyCaBundlePath = proxyCaBundle,
        };
        foreach (var pin in configuration.Onboarding.CaPins)
        {
            bot.CaPins.Add(pin);
        }

        if (configuration.Onboarding.Token is { } token)
        {
            if (token.IsFile)
            {
                bot.TokenFile = token.FilePath;
            }
            else
            {
                bot.Token = await token.ResolveAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        switch (configuration.Storage)
        {
            case TbotDirectoryDestination directory:
                bot.StorageType = BotStorageType.Directory;
                bot.StoragePath = directory.Path;
                break;
            default:
                bot.StorageType = BotStorageType.Memory;
                break;
        }

        var outputs = new List<IdentityOutputOptions>();
        foreach (var service in configuration.Services)
        {
            var lifetime = service.CredentialLifetime ?? configuration.CredentialLifetime;
            var output = new IdentityOutputOptions
            {
                Name = service.Name,
                Destination = ToDestination(service.Destination, loggerFactory),
                Cluster = service.Cluster,
                CredentialTtl = lifetime.Ttl,
                RenewalInterval = lifetime.RenewalInterval,
                WriteSshConfig = service.WriteSshConfig,
                AllowReissue = service.AllowReissue,
            };
            foreach (var role in service.Roles)
            {
                output.Roles.Add(role);
            }

            outputs.Add(output);
        }

        var hostOutputs = new List<SshHostOutputOptions>();
        foreach (var service in configuration.SshHostOutputs)
        {
            var lifetime = service.CredentialLifetime ?? configuration.CredentialLifetime;
            var output = new SshHostOutputOptions
            {
                Name = service.Name,
                Destination = ToDestination(service.Destination, loggerFactory),
                CaType = service.CaType,
                CredentialTtl = lifetime.Ttl,
                RenewalInterval = lifetime.RenewalInterval,
            };
            foreach (var principal in service.Principals)
            {
                output.Principals.Add(principal);
            }

            foreach (var role in service.Roles)
            {
                output.Roles.Add(role);
            }

            hostOutputs.Add(output);
        }

        var multiplexers = new List<SshMultiplexerOptions>();
        foreach (var service in configuration.SshMultiplexers)
        {
            var lifetime = service.CredentialLifetime ?? configuration.CredentialLifetime;
            var multiplexer = new SshMultiplexerOptions
            {
                Name = service.Name,
                Destination = (DirectoryDestination)ToDestination(service.Destination, loggerFactory),
                CredentialTtl = lifetime.Ttl,
                RenewalInterval = lifetime.RenewalInterval,
            };
            foreach (var argument in service.ProxyCommand)
            {
                multiplexer.ProxyCommand.Add(argument);
            }

            multiplexers.Add(multiplexer);
        }

        return new BotRunPlan { Bot = bot, Outputs = outputs, SshHostOutputs = hostOutputs, Multiplexers = multiplexers, Oneshot = configuration.Oneshot };
    }

    /// <summary>A <c>--storage</c> or <c>--destination</c> value: <c>memory://</c>, <c>file:///path</c> or a path.</summary>
    /// <exception cref="ArgumentException">An unsupported URI scheme.</exception>
    public static (bool Memory, string? Path) ParseLocation(string value, string flag)
    {
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
            throw new ArgumentException($"{flag}: '{value}' is not supported; use a directory path, file:///path or memory://.");
        }

        return (false, Path.GetFullPath(value));
    }

    private static IDestinationWriter ToDestination(TbotDestination destination, ILoggerFactory loggerFactory)
    {
        if (destination is not TbotDirectoryDestination directory)
        {
            return new MemoryDestination();
        }

        var options = new DirectoryDestinationOptions
        {
            Path = directory.Path,
            Symlinks = directory.Symlinks switch
            {
                TbotSymlinksMode.Secure => SymlinkMode.Secure,
                TbotSymlinksMode.Insecure => SymlinkMode.Insecure,
                _ => SymlinkMode.TrySecure,
            },
            Acls = directory.Acls switch
            {
                TbotAclMode.Required => AclMode.Required,
                TbotAclMode.Try => AclMode.Try,
                _ => AclMode.Off,
            },
        };
        foreach (var reader in directory.Readers)
        {
            options.Readers.Add(reader.Kind == TbotReaderKind.User ? AclReader.User(reader.Name) : AclReader.Group(reader.Name));
        }

        return new DirectoryDestination(options, loggerFactory.CreateLogger<DirectoryDestination>());
    }
}
