using Microsoft.Extensions.Hosting;

namespace Teleport.MachineId.Hosting;

/// <summary>Starts one output service (identity, ssh_host, ssh-multiplexer) with the host and stops it with the host.</summary>
internal sealed class OutputHostedService(Func<CancellationToken, Task> start, IAsyncDisposable service) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => start(cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken) => await service.DisposeAsync().ConfigureAwait(false);
}
