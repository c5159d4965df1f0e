using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Hosting;

/// <summary>
/// Runs a <see cref="BotIdentityProvider"/> for the lifetime of the host: checks the registered
/// output services (identity, ssh_host, ssh-multiplexer) and opens the storage when the host starts (so an unusable destination or a
/// locked storage directory stops the host at once, before anything is spent remotely) and stops
/// renewing when the host stops.
/// </summary>
internal sealed class BotIdentityHostedService : BackgroundService
{
    private readonly BotIdentityProvider _provider;
    private readonly IServiceProvider _services;
    private readonly IEnumerable<OutputRegistration> _outputs;

    public BotIdentityHostedService(BotIdentityProvider provider, IServiceProvider services, IEnumerable<OutputRegistration> outputs)
    {
        _provider = provider;
        _services = services;
        _outputs = outputs;
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Everything that can fail locally fails the host before the bot joins (a join may spend a
        // single-use token): every registered output is created (its options validated) and its
        // destination proven writable first; the provider then checks its storage before joining.
        foreach (var registration in _outputs)
        {
            await registration.VerifyDestinationAsync(_services, cancellationToken).ConfigureAwait(false);
        }

        await _provider.StartAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _provider.DisposeAsync().ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The provider renews on its own tasks; this service only ties its lifetime to the host's.
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>An output service (identity, ssh_host, ssh-multiplexer) registered with the host, checked before the bot starts.</summary>
/// <param name="Name">The service's key.</param>
/// <param name="VerifyDestinationAsync">Creates the service (validating its options) and checks its destination can be written.</param>
internal sealed record OutputRegistration(string Name, Func<IServiceProvider, CancellationToken, Task> VerifyDestinationAsync);
