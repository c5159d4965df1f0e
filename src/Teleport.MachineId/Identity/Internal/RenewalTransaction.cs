using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Storage;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// One <c>GenerateUserCerts</c> renewal of a renewable (<c>token</c>) identity, crash-safe against
/// Teleport's generation lock: everything that can fail locally happens first (the cluster's suite
/// over the identity's own connection, which also opens it; a fresh key), then the in-flight record
/// is made durable immediately before the request leaves (from inside the wire call, after the
/// route is resolved and the request built), then the answer is verified, stored durably and only
/// then used; the record goes last.
/// </summary>
/// <remarks>
/// <para>A failure proven to be before the request left (no record written, or a connection that
/// never carried it, or an answer from the server) clears the record: no generation advanced. A
/// failure after it may have left (reset, timeout, crash) keeps the record: the next start knows
/// the cluster may be ahead and never renews from the stored generation.</para>
/// </remarks>
internal sealed class RenewalTransaction(
    IBotCredentialClient client,
    IBotIdentityStore store,
    MachineIdOptions options,
    BotRecoveryMessages messages,
    TimeProvider time,
    ILogger logger,
    Action<RenewalFaultPoint>? fault)
{
    /// <summary>Renews <paramref name="current"/> and stores the result with <paramref name="commit"/>'s token hash and method state.</summary>
    /// <param name="current">The identity to renew (the one every call presents).</param>
    /// <param name="commit">What is stored with the identity; kept as is.</param>
    /// <param name="reason">Why (for the log).</param>
    /// <param name="stopping">Cancels the renewal until the request is about to leave.</param>
    /// <param name="hardStop">Cancels the request once it may have left (only after a grace period: its answer must be stored).</param>
    /// <returns>The renewed identity, durable.</returns>
    /// <exception cref="BotJoinRequiredException">The outcome is uncertain, the answer unusable or not storable, or the renewal was refused.</exception>
    /// <exception cref="TeleportException">The cluster answered with an error or could not be reached; nothing advanced.</exception>
    public async Task<BotIdentity> RunAsync(BotIdentity current, StoredCommit commit, BotIdentityChangeReason reason, CancellationToken stopping, CancellationToken hardStop)
    {
        IdentityLog.Renewing(logger, current.Generation, current.NotAfter, reason);

        // Local work and the connection first: none of it needs a record.
        var suite = await client.GetSignatureAlgorithmSuiteAsync(current, stopping).ConfigureAwait(false);
        var key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
        var now = time.GetUtcNow();
        var record = new InFlightRenewal(current.Generation, current.InstanceId, key.PublicKey.ToAuthorizedKey(), now);
        var recordWritten = false;
        var handedOver = false;
        try
        {
            IssuedBotCertificates certificates;
            try
            {
                certificates = await client.RenewAsync(
                    current,
                    key.PublicKey,
                    now + options.CredentialTtl,
                    async _ =>
                    {
                        // The last step before the request leaves: durable, and not cancellable once started.
                        stopping.ThrowIfCancellationRequested();
                        Fault(RenewalFaultPoint.BeforeInFlightRecord);
                        await store.WriteInFlightAsync(record, CancellationToken.None).ConfigureAwait(false);
                        recordWritten = true;
                        Fault(RenewalFaultPoint.AfterInFlightRecord);
                    },
                    hardStop).ConfigureAwait(false);
            }
            catch (SimulatedCrashException)
            {
                throw;
            }
            catch (Exception) when (!recordWritten)
            {
                // Nothing left this process: no generation could have advanced.
                throw;
            }
            catch (RenewalOutcomeUnknownException ex)
            {
                IdentityLog.RenewalOutcomeUnknown(logger, ex, current.Generation);
                throw messages.GenerationUncertain(current, now, ex);
            }
            catch (OperationCanceledException)
            {
                // Stopped mid-request: the outcome is unknown, so the record stays for the next start.
                throw;
            }
            catch (TeleportAccessDeniedException ex)
            {
                await store.TryClearInFlightAsync(logger).ConfigureAwait(false);
                throw messages.RenewalRefused(current, ex);
            }
            catch (Exception)
            {
                // The cluster answered with an error, or the request never left: no generation advanced.
                await store.TryClearInFlightAsync(logger).ConfigureAwait(false);
                throw;
            }

            Fault(RenewalFaultPoint.AfterCertificatesIssued);
            var material = BotIdentityMaterial.From(certificates, current.JoinMethod);
            BotIdentity renewed;
            try
            {
                renewed = BotIdentity.Create(key, material);
            }
            catch (TeleportException ex)
            {
                throw messages.UnusableRenewal(ex);
            }

            handedOver = true;
            if (renewed.Generation != current.Generation + 1 && current.Generation > 0)
            {
                IdentityLog.UnexpectedGeneration(logger, renewed.Generation, current.Generation + 1);
            }

            try
            {
                // Durable before use, and never cancelled: the cluster now expects the new generation.
                await store.SaveIdentityAsync(
                    new StoredBotIdentity(key.ExportPem(), material, commit.TokenHash, now) { MethodState = commit.MethodState },
                    CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not SimulatedCrashException)
            {
                throw messages.NotStored(store.Description, ex);
            }

            Fault(RenewalFaultPoint.AfterPersist);
            await store.TryClearInFlightAsync(logger).ConfigureAwait(false);
            IdentityLog.Renewed(logger, renewed.Username, renewed.ClusterName, renewed.Generation, renewed.NotAfter);
            return renewed;
        }
        finally
        {
            if (!handedOver)
            {
                key.Dispose();
            }
        }
    }

    private void Fault(RenewalFaultPoint point) => fault?.Invoke(point);
}
