using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Teleport.MachineId.Configuration;

/// <summary>
/// The one mapping from a tbot configuration to Teleport.MachineId's options: the bot
/// (<see cref="ToMachineIdOptions"/>), its identity outputs (<see cref="ToIdentityOutputOptions"/>),
/// ssh_host outputs (<see cref="ToSshHostOutputOptions"/>) and ssh-multiplexers (<see cref="ToSshMultiplexerOptions"/>).
/// <c>tbot-dotnet start -c tbot.yaml</c> runs exactly what these return.
/// </summary>
public static class TbotConfigurationExtensions
{
    /// <summary>
    /// Maps <c>proxy_server</c>/<c>auth_server</c>, <c>onboarding</c> (join method, token, CA pins, CA
    /// path, and the <c>bound_keypair</c>, <c>gitlab</c> and <c>kubernetes</c> blocks),
    /// <c>insecure</c>, <c>credential_ttl</c>/<c>renewal_interval</c> (tbot's fixed-interval renewal)
    /// and <c>storage</c> to <see cref="MachineIdOptions"/>.
    /// </summary>
    /// <remarks>
    /// A token written as an absolute path becomes <see cref="MachineIdOptions.TokenFile"/> (read
    /// only when a join is needed, as tbot does); an inline token becomes <see cref="MachineIdOptions.Token"/>.
    /// Renewal uses <see cref="BotRenewalMode.FixedInterval"/> so the schedule matches tbot's; set
    /// <see cref="MachineIdOptions.RenewalMode"/> to <see cref="BotRenewalMode.Adaptive"/> afterwards
    /// to follow the certificates' lifetime instead.
    /// </remarks>
    /// <param name="configuration">A validated configuration.</param>
    /// <returns>New options; the caller may adjust them (for example a proxy CA bundle).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> is <see langword="null"/>.</exception>
    public static MachineIdOptions ToMachineIdOptions(this TbotConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new MachineIdOptions
        {
            ProxyServer = configuration.ProxyServer?.ToString(),
            AuthServer = configuration.AuthServer?.ToString(),
            JoinMethod = configuration.Onboarding.JoinMethod switch
            {
                TbotJoinMethod.BoundKeypair => MachineIdOptions.BoundKeypairJoinMethod,
                TbotJoinMethod.GitHub => MachineIdOptions.GitHubJoinMethod,
                TbotJoinMethod.GitLab => MachineIdOptions.GitLabJoinMethod,
                TbotJoinMethod.Kubernetes => MachineIdOptions.KubernetesJoinMethod,
                _ => MachineIdOptions.TokenJoinMethod,
            },
            Insecure = configuration.Insecure,
            CaPath = configuration.Onboarding.CaPath,
            CredentialTtl = configuration.CredentialLifetime.Ttl,
            RenewalMode = BotRenewalMode.FixedInterval,
            RenewalInterval = configuration.CredentialLifetime.RenewalInterval,
        };

        if (configuration.Onboarding.Token is { } token)
        {
            if (token.FilePath is { } path)
            {
                options.TokenFile = path;
            }
            else
            {
                options.Token = token.InlineValue;
            }
        }

        options.BoundKeypair.RegistrationSecret = configuration.Onboarding.BoundKeypair.RegistrationSecret;
        options.BoundKeypair.RegistrationSecretPath = configuration.Onboarding.BoundKeypair.RegistrationSecretPath;
        options.BoundKeypair.StaticPrivateKeyPath = configuration.Onboarding.BoundKeypair.StaticPrivateKeyPath;
        options.GitLab.TokenEnvironmentVariable = configuration.Onboarding.GitLabTokenEnvironmentVariable;
        options.Kubernetes.TokenPath = configuration.Onboarding.KubernetesTokenPath;

        foreach (var pin in configuration.Onboarding.CaPins)
        {
            options.CaPins.Add(pin);
        }

        switch (configuration.Storage)
        {
            case TbotDirectoryDestination directory:
                options.StorageType = BotStorageType.Directory;
                options.StoragePath = directory.Path;
                break;
            default:
                options.StorageType = BotStorageType.Memory;
                break;
        }

        return options;
    }

    /// <summary>
    /// Maps every <c>type: identity</c> service to the options of an <see cref="IdentityOutputService"/>:
    /// <c>name</c>, <c>destination</c> (a <see cref="DirectoryDestination"/> with the service's
    /// <c>symlinks</c>, <c>acls</c> and <c>readers</c>, or a <see cref="MemoryDestination"/>), <c>roles</c>,
    /// <c>cluster</c>, <c>ssh_config</c>, <c>allow_reissue</c>, and <c>credential_ttl</c>/<c>renewal_interval</c>
    /// (the service's, else the bot's).
    /// </summary>
    /// <param name="configuration">A validated configuration.</param>
    /// <param name="loggerFactory">Where the directory destinations log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The destinations' clock; the system clock when <see langword="null"/>.</param>
    /// <returns>One options object per service, in the file's order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> is <see langword="null"/>.</exception>
    public static IReadOnlyList<IdentityOutputOptions> ToIdentityOutputOptions(this TbotConfiguration configuration, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        loggerFactory ??= NullLoggerFactory.Instance;
        var outputs = new List<IdentityOutputOptions>(configuration.Services.Count);
        foreach (var service in configuration.Services)
        {
            var lifetime = service.CredentialLifetime ?? configuration.CredentialLifetime;
            var output = new IdentityOutputOptions
            {
                Name = service.Name,
                Destination = ToDestination(service.Destination, loggerFactory, timeProvider),
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

        return outputs;
    }

    /// <summary>
    /// Maps every <c>type: ssh_host</c> service to the options of an <see cref="SshHostOutputService"/>:
    /// <c>name</c>, <c>destination</c>, <c>principals</c>, <c>roles</c>, the CA type, and
    /// <c>credential_ttl</c>/<c>renewal_interval</c> (the service's, else the bot's).
    /// </summary>
    /// <param name="configuration">A validated configuration.</param>
    /// <param name="loggerFactory">Where the directory destinations log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The destinations' clock; the system clock when <see langword="null"/>.</param>
    /// <returns>One options object per service, in the file's order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> is <see langword="null"/>.</exception>
    public static IReadOnlyList<SshHostOutputOptions> ToSshHostOutputOptions(this TbotConfiguration configuration, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        loggerFactory ??= NullLoggerFactory.Instance;
        var outputs = new List<SshHostOutputOptions>(configuration.SshHostOutputs.Count);
        foreach (var service in configuration.SshHostOutputs)
        {
            var lifetime = service.CredentialLifetime ?? configuration.CredentialLifetime;
            var output = new SshHostOutputOptions
            {
                Name = service.Name,
                Destination = ToDestination(service.Destination, loggerFactory, timeProvider),
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

            outputs.Add(output);
        }

        return outputs;
    }

    /// <summary>
    /// Maps every <c>type: ssh-multiplexer</c> service to the options of an <see cref="SshMultiplexerService"/>:
    /// <c>name</c>, its directory <c>destination</c>, <c>proxy_command</c> and
    /// <c>credential_ttl</c>/<c>renewal_interval</c> (the service's, else the bot's).
    /// </summary>
    /// <param name="configuration">A validated configuration (the reader requires a directory destination).</param>
    /// <param name="loggerFactory">Where the directory destinations log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The destinations' clock; the system clock when <see langword="null"/>.</param>
    /// <returns>One options object per service, in the file's order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A multiplexer's destination is not a directory.</exception>
    public static IReadOnlyList<SshMultiplexerOptions> ToSshMultiplexerOptions(this TbotConfiguration configuration, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        loggerFactory ??= NullLoggerFactory.Instance;
        var multiplexers = new List<SshMultiplexerOptions>(configuration.SshMultiplexers.Count);
        foreach (var service in configuration.SshMultiplexers)
        {
            var lifetime = service.CredentialLifetime ?? configuration.CredentialLifetime;
            var multiplexer = new SshMultiplexerOptions
            {
                Name = service.Name,
                Destination = ToDestination(service.Destination, loggerFactory, timeProvider) as DirectoryDestination
                    ?? throw new ArgumentException($"The ssh-multiplexer service {service.Name} needs a directory destination.", nameof(configuration)),
                CredentialTtl = lifetime.Ttl,
                RenewalInterval = lifetime.RenewalInterval,
            };
            foreach (var argument in service.ProxyCommand)
            {
                multiplexer.ProxyCommand.Add(argument);
            }

            multiplexers.Add(multiplexer);
        }

        return multiplexers;
    }

    /// <summary>A directory destination with the service's symlinks, ACLs and readers, or a memory destination.</summary>
    private static IDestinationWriter ToDestination(TbotDestination destination, ILoggerFactory loggerFactory, TimeProvider? timeProvider) =>
        destination is TbotDirectoryDestination directory
            ? new DirectoryDestination(directory.ToDirectoryDestinationOptions(), loggerFactory.CreateLogger<DirectoryDestination>(), timeProvider)
            : new MemoryDestination();
}
