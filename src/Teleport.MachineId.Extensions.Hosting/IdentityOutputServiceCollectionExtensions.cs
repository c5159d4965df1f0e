using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Teleport.MachineId;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers identity outputs (tbot's <c>type: identity</c> services) with dependency injection.</summary>
public static class IdentityOutputServiceCollectionExtensions
{
    /// <summary>
    /// Registers an identity output named <paramref name="name"/>, renewed with the bot registered by
    /// <c>AddTeleportMachineId</c> (call that first): a keyed <see cref="IdentityOutputService"/>
    /// (key = <paramref name="name"/>), started and stopped with the host, and a shared
    /// <see cref="TeleportSshCertificateSigner"/>. Call once per output.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The output's name (logs, keyed service, named options).</param>
    /// <param name="configure">Sets the output's options (destination, roles, lifetimes).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static IServiceCollection AddTeleportIdentityOutput(this IServiceCollection services, string name, Action<IdentityOutputOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<IdentityOutputOptions>(name).Configure(configure);
        return AddCore(services, name);
    }

    /// <summary>
    /// Registers an identity output with options bound from a configuration section (property names
    /// of <see cref="IdentityOutputOptions"/>: <c>DestinationPath</c>, <c>Roles:0</c>,
    /// <c>CredentialTtl</c> as <c>01:00:00</c>, …).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The output's name.</param>
    /// <param name="configuration">The section holding the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static IServiceCollection AddTeleportIdentityOutput(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<IdentityOutputOptions>(name).Bind(configuration);
        return AddCore(services, name);
    }

    /// <summary>The signer every output of the bot shares (and the clock), registered once.</summary>
    internal static void TryAddSigner(IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(static sp => new TeleportSshCertificateSigner(
            sp.GetRequiredService<IBotIdentityProvider>(),
            sp.GetRequiredService<IOptions<MachineIdOptions>>().Value,
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetRequiredService<TimeProvider>()));
    }

    private static IServiceCollection AddCore(IServiceCollection services, string name) =>
        AddOutputService<IdentityOutputOptions, IdentityOutputService>(
            services, name, static (options, key) => options.Name ??= key, IdentityOutputService.Create, static o => o.StartAsync, static o => o.Destination.VerifyWritableAsync);

    /// <summary>
    /// One output service of the bot: the shared signer, the service keyed by <paramref name="name"/> (its
    /// named options, named after the key when unnamed), a hosted service starting and stopping it, and
    /// its destination check (<paramref name="verify"/>) run before the bot joins.
    /// </summary>
    internal static IServiceCollection AddOutputService<TOptions, TService>(
        IServiceCollection services,
        string name,
        Action<TOptions, string> nameOptions,
        Func<TeleportSshCertificateSigner, TOptions, ILoggerFactory?, TimeProvider?, TService> create,
        Func<TService, Func<CancellationToken, Task>> start,
        Func<TService, Func<CancellationToken, Task>> verify)
        where TOptions : class
        where TService : class, IAsyncDisposable
    {
        TryAddSigner(services);
        services.AddKeyedSingleton(name, (sp, key) =>
        {
            var options = sp.GetRequiredService<IOptionsMonitor<TOptions>>().Get((string)key!);
            nameOptions(options, (string)key!);
            return create(sp.GetRequiredService<TeleportSshCertificateSigner>(), options, sp.GetService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<IHostedService>(sp =>
        {
            var service = sp.GetRequiredKeyedService<TService>(name);
            return new OutputHostedService(start(service), service);
        });
        services.AddSingleton(new OutputRegistration(name, (sp, cancellationToken) => verify(sp.GetRequiredKeyedService<TService>(name))(cancellationToken)));
        return services;
    }
}
