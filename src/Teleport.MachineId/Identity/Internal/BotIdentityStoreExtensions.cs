using Microsoft.Extensions.Logging;
using Teleport.MachineId.Identity.Storage;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>Helpers over <see cref="IBotIdentityStore"/>.</summary>
internal static class BotIdentityStoreExtensions
{
    /// <summary>
    /// Removes the in-flight record; a failure is logged, not thrown (a leftover record is stale and
    /// removed at the next start, when the stored generation has moved past it).
    /// </summary>
    public static async Task TryClearInFlightAsync(this IBotIdentityStore store, ILogger logger)
    {
        try
        {
            await store.ClearInFlightAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Destinations.DestinationException ex)
        {
            IdentityLog.RecordClearFailed(logger, ex);
        }
    }
}
