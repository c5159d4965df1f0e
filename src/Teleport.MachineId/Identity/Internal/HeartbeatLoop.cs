using Microsoft.Extensions.Logging;
using Teleport.MachineId.Scheduling;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// tbot's heartbeat service: once the bot has an identity, a heartbeat at start-up, then every
/// 30 minutes, each tried up to 5 times with backoff; a cluster without the service (NotImplemented)
/// turns heartbeats off, as tbot does.
/// </summary>
internal sealed class HeartbeatLoop(
    IBotCredentialClient client,
    IdentityChangeBroadcaster identities,
    string joinMethod,
    LoopActivityTracker activity,
    Backoff backoff,
    TimeProvider time,
    ILogger logger)
{
    private readonly long _startedTimestamp = time.GetTimestamp();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await activity.WaitAsync(null, identities.WhenFirstAsync(cancellationToken)).ConfigureAwait(false);
            var isStartup = true;
            while (!cancellationToken.IsCancellationRequested)
            {
                for (var attempt = 1; attempt <= TeleportDefaults.HeartbeatRetryLimit; attempt++)
                {
                    var identity = identities.Current;
                    if (identity is null || identity.IsExpiredAt(time.GetUtcNow()))
                    {
                        break;
                    }

                    try
                    {
                        await SubmitAsync(identity, isStartup, oneShot: false, cancellationToken).ConfigureAwait(false);
                        break;
                    }
                    catch (NotSupportedException)
                    {
                        IdentityLog.HeartbeatsNotSupported(logger);
                        return;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        IdentityLog.HeartbeatFailed(logger, ex, attempt);
                    }

                    if (attempt < TeleportDefaults.HeartbeatRetryLimit)
                    {
                        await activity.DelayAsync(backoff.Next(attempt), cancellationToken).ConfigureAwait(false);
                    }
                }

                isStartup = false;
                await activity.DelayAsync(TeleportDefaults.HeartbeatInterval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>tbot's one-shot heartbeat: one try, failures only logged (a missing service is not an error).</summary>
    public async Task SubmitOneShotAsync(BotIdentity identity, CancellationToken cancellationToken)
    {
        try
        {
            await SubmitAsync(identity, isStartup: true, oneShot: true, cancellationToken).ConfigureAwait(false);
        }
        catch (NotSupportedException)
        {
            IdentityLog.HeartbeatsNotSupported(logger);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            IdentityLog.HeartbeatFailed(logger, ex, 1);
        }
    }

    private async Task SubmitAsync(BotIdentity identity, bool isStartup, bool oneShot, CancellationToken cancellationToken)
    {
        var heartbeat = BotHeartbeats.Create(joinMethod, isStartup, oneShot, time.GetElapsedTime(_startedTimestamp), time.GetUtcNow());
        await client.SubmitHeartbeatAsync(identity, heartbeat, cancellationToken).ConfigureAwait(false);
        IdentityLog.HeartbeatSubmitted(logger, isStartup);
    }
}
