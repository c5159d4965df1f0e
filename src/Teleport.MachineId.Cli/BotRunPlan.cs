using Microsoft.Extensions.Logging;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Cli;

/// <summary>What <c>start</c> runs: the bot's options, its identity outputs, and whether to stop after one round.</summary>
internal sealed class BotRunPlan
{
    public required MachineIdOptions Bot { get; init; }

    public required IReadOnlyList<IdentityOutputOptions> Outputs { get; init; }

    public bool Oneshot { get; init; }

    /// <summary>Builds the plan from tbot's v2 YAML (already validated by the reader).</summary>
    public static BotRunPlan FromConfiguration(TbotConfiguration configuration, string? proxyCaBundle, ILoggerFactory loggerFactory)
    {
        // One mapping of tbot's YAML to options (the Configuration package's); a token file is read
        // only when a join needs it. The CLI adds its own flags.
        var bot = configuration.ToMachineIdOptions();
        bot.ProxyCaBundlePath = proxyCaBundle;

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

        return new BotRunPlan { Bot = bot, Outputs = outputs, Oneshot = configuration.Oneshot };
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
