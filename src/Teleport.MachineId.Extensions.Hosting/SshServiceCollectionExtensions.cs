using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Teleport.MachineId.Hosting;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers tbot's SSH services with dependency injection: the <c>ssh-multiplexer</c>
/// (<see cref="SshMultiplexerService"/>) and <c>ssh_host</c> outputs (<see cref="SshHostOutputService"/>),
/// renewed with the bot registered by <c>AddTeleportMachineId</c> (call that first).
/// </summary>
public static class SshServiceCollectionExtensions
{
    /// <summary>
    /// Registers an ssh-multiplexer named <paramref name="name"/>: a keyed <see cref="SshMultiplexerService"/>
    /// (key = <paramref name="name"/>), started and stopped with the host.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The multiplexer's name (logs, keyed service, named options).</param>
    /// <param name="configure">Sets the options (directory, lifetimes, ProxyCommand).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static IServiceCollection AddTeleportSshMultiplexer(this IServiceCollection services, string name, Action<SshMultiplexerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SshMultiplexerOptions>(name).Configure(configure);
        return AddMultiplexer(services, name);
    }

    /// <summary>Registers an ssh-multiplexer with options bound from a configuration section (<c>DestinationPath</c>, <c>CredentialTtl</c>, <c>ProxyCommand:0</c>, …).</summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The multiplexer's name.</param>
    /// <param name="configuration">The section holding the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static IServiceCollection AddTeleportSshMultiplexer(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SshMultiplexerOptions>(name).Bind(configuration);
        return AddMultiplexer(services, name);
    }

    /// <summary>
    /// Registers an ssh_host output named <paramref name="name"/>: a keyed <see cref="SshHostOutputService"/>,
    /// started and stopped with the host.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The output's name.</param>
    /// <param name="configure">Sets the options (destination, principals, roles, lifetimes).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static IServiceCollection AddTeleportSshHostOutput(this IServiceCollection services, string name, Action<SshHostOutputOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SshHostOutputOptions>(name).Configure(configure);
        return AddHostOutput(services, name);
    }

    /// <summary>Registers an ssh_host output with options bound from a configuration section (<c>DestinationPath</c>, <c>Principals:0</c>, <c>Roles:0</c>, …).</summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The output's name.</param>
    /// <param name="configuration">The section holding the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static IServiceCollection AddTeleportSshHostOutput(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SshHostOutputOptions>(name).Bind(configuration);
        return AddHostOutput(services, name);
    }

    private static IServiceCollection AddMultiplexer(IServiceCollection services, string name) =>
        IdentityOutputServiceCollectionExtensions.AddOutputService<SshMultiplexerOptions, SshMultiplexerService>(
            services, name, static (options, key) => options.Name ??= key, SshMultiplexerService.Create, static m => m.StartAsync, static m => m.Destination.VerifyWritableAsync);

    private static IServiceCollection AddHostOutput(IServiceCollection services, string name) =>
        IdentityOutputServiceCollectionExtensions.AddOutputService<SshHostOutputOptions, SshHostOutputService>(
            services, name, static (options, key) => options.Name ??= key, SshHostOutputService.Create, static o => o.StartAsync, static o => o.Destination.VerifyWritableAsync);
}
