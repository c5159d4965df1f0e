using Microsoft.Extensions.Hosting;

namespace Teleport.MachineId.Hosting;

/// <summary>
/// Runs a <see cref="BotIdentityProvider"/> for the lifetime of the host: opens its storage when
/// the host starts (so a locked storage directory stops the host at once) and stops renewing
/// when the host stops.
/// </summary>
internal sealed class BotIdentityHostedService : BackgroundService
{
    private readonly BotIdentityProvider _provider;

    public BotIdentityHostedService(BotIdentityProvider provider) => _provider = provider;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
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
