using Microsoft.Extensions.Logging;
using Teleport.MachineId.Scheduling;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// tbot's CA rotation watcher: watches the cluster's certificate authorities over the bot identity,
/// reconnecting with backoff when the watch ends, and reports every change that <see cref="CaRotationFilter"/>
/// says needs new credentials.
/// </summary>
internal sealed class CaRotationWatcher(
    IBotCredentialClient client,
    IdentityChangeBroadcaster identities,
    LoopActivityTracker activity,
    Backoff backoff,
    TimeSpan retryWithoutIdentity,
    TimeProvider time,
    ILogger logger,
    Action<CertificateAuthorityChange> onRotation)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await activity.WaitAsync(null, identities.WhenFirstAsync(cancellationToken)).ConfigureAwait(false);
            var failures = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                var identity = identities.Current;
                if (identity is null || identity.IsExpiredAt(time.GetUtcNow()))
                {
                    await activity.DelayAsync(retryWithoutIdentity, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                Exception? failure = null;
                try
                {
                    var changes = client.WatchCertificateAuthoritiesAsync(identity, cancellationToken).GetAsyncEnumerator(cancellationToken);
                    await using var disposeChanges = changes.ConfigureAwait(false);
                    while (await activity.WaitAsync(null, changes.MoveNextAsync().AsTask()).ConfigureAwait(false))
                    {
                        failures = 0;
                        if (CaRotationFilter.RequiresNewCredentials(changes.Current, identity.ClusterName))
                        {
                            onRotation(changes.Current);
                        }
                    }
                }
                catch (NotSupportedException)
                {
                    IdentityLog.CaWatchNotSupported(logger);
                    return;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    failure = ex;
                }

                failures++;
                var retryIn = backoff.Next(failures);
                IdentityLog.CaWatchFailed(logger, failure, retryIn);
                await activity.DelayAsync(retryIn, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>tbot's rule for which CA changes need new credentials.</summary>
internal static class CaRotationFilter
{
    /// <summary>
    /// A host, user or database CA of the bot's own cluster entering a rotation phase that changes
    /// what clients must trust: <c>update_clients</c>, <c>standby</c> or <c>rollback</c> (not the
    /// preparatory <c>init</c>, nor <c>update_servers</c>).
    /// </summary>
    public static bool RequiresNewCredentials(CertificateAuthorityChange change, string clusterName) =>
        string.Equals(change.ClusterName, clusterName, StringComparison.Ordinal)
        && change.Type is "host" or "user" or "db"
        && change.RotationPhase is not ("" or "init" or "update_servers");
}
