using Microsoft.Extensions.Hosting;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Hosting;

/// <summary>Starts one identity output with the host and stops it with the host.</summary>
internal sealed class IdentityOutputHostedService(IdentityOutputService output) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => output.StartAsync(cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken) => await output.DisposeAsync().ConfigureAwait(false);
}
