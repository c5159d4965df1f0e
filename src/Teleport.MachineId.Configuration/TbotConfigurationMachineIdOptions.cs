namespace Teleport.MachineId.Configuration;

/// <summary>Turns a tbot configuration into the options of a <see cref="BotIdentityProvider"/>.</summary>
public static class TbotConfigurationMachineIdOptions
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
}
