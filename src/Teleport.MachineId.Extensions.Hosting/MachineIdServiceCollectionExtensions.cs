using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Teleport.MachineId;
using Teleport.MachineId.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Teleport Machine ID's bot identity provider with dependency injection.</summary>
public static class MachineIdServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IBotIdentityProvider"/> (a singleton <see cref="BotIdentityProvider"/>),
    /// a hosted service that runs it, and validation of <see cref="MachineIdOptions"/> at host start.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddTeleportMachineId(this IServiceCollection services, Action<MachineIdOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<MachineIdOptions>().Configure(configure).ValidateOnStart();
        return AddCore(services);
    }

    /// <summary>
    /// Registers <see cref="IBotIdentityProvider"/> with options bound from a configuration section
    /// (property names as in <see cref="MachineIdOptions"/>, e.g. <c>ProxyServer</c>, <c>TokenFile</c>,
    /// <c>CaPins:0</c>, <c>CredentialTtl</c> as <c>01:00:00</c>), validated at host start.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The section holding the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddTeleportMachineId(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MachineIdOptions>().Bind(configuration).ValidateOnStart();
        return AddCore(services);
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MachineIdOptions>, MachineIdOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(static sp => BotIdentityProvider.Create(
            sp.GetRequiredService<IOptions<MachineIdOptions>>().Value,
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<IBotIdentityProvider>(static sp => sp.GetRequiredService<BotIdentityProvider>());
        services.AddHostedService<BotIdentityHostedService>();
        return services;
    }
}
