using Microsoft.Extensions.Logging;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// One join with the configured method (a first join, a re-join, or a delegated method's renewal):
/// the single-use token rules, a storage probe before anything is spent remotely, the method's
/// join, then the identity stored durably with the method's state in one atomic write before it is used.
/// </summary>
internal sealed class JoinTransaction(
    IBotJoinMethod method,
    JoinSecretSource secret,
    IBotCredentialClient client,
    IBotIdentityStore store,
    MachineIdOptions options,
    BotRecoveryMessages messages,
    TimeProvider time,
    ILogger logger,
    Action<RenewalFaultPoint>? fault)
{
    /// <summary>Joins and stores the result.</summary>
    /// <param name="current">The current identity (presented while valid), or <see langword="null"/>.</param>
    /// <param name="commit">What is stored now (token hash, method state).</param>
    /// <param name="pending">Why a join is required, if known (for the error when no token is usable).</param>
    /// <param name="reason">A join, a re-join, or a delegated method's renewal (for the log).</param>
    /// <param name="cancellationToken">Cancels the join; once the cluster answered, storing is not cancelled.</param>
    /// <returns>The new identity and what was stored with it.</returns>
    /// <exception cref="BotJoinRequiredException">A single-use token is needed and none unused is available.</exception>
    /// <exception cref="Destinations.DestinationException">The storage cannot take the result (checked before joining).</exception>
    /// <exception cref="TeleportException">The join failed (refused, unreachable, …).</exception>
    public async Task<(BotIdentity Identity, StoredCommit Commit)> RunAsync(
        BotIdentity? current, StoredCommit commit, BotJoinRequiredException? pending, BotIdentityChangeReason reason, CancellationToken cancellationToken)
    {
        var singleUse = method.SecretUse == JoinSecretUse.SingleUseToken;
        var now = time.GetUtcNow();
        string? token = null;
        string? hash = null;
        if (singleUse)
        {
            token = await secret.ResolveAsync(cancellationToken).ConfigureAwait(false)
                ?? throw messages.NoUsableToken(pending, current, now, used: false);
            hash = JoinSecretSource.Hash(token);
            if (commit.HasIdentity && hash == commit.TokenHash)
            {
                // This token produced the stored identity and has been consumed by the cluster.
                throw messages.NoUsableToken(pending, current, now, used: true);
            }
        }

        // Nothing is spent remotely unless the result can be stored.
        await store.VerifyWritableAsync(cancellationToken).ConfigureAwait(false);
        IdentityLog.Joining(logger, options.ProxyServer ?? options.AuthServer ?? "?", method.Name, singleUse ? secret.Description : "the join method");
        var result = await method.JoinAsync(
            new BotJoinContext
            {
                Client = client,
                Options = options,
                Secret = token,
                Current = current is not null && !current.IsExpiredAt(now) ? current : null,
                State = commit.MethodState,
                Storage = store,
                Time = time,
                Logger = logger,
            },
            cancellationToken).ConfigureAwait(false);
        fault?.Invoke(RenewalFaultPoint.AfterCertificatesIssued);
        var material = BotIdentityMaterial.From(result.Certificates, method.Name);
        BotIdentity identity;
        try
        {
            identity = BotIdentity.Create(result.PrivateKey, material);
        }
        catch
        {
            result.PrivateKey.Dispose();
            throw;
        }

        // Durable before use, with the method's state in the same write: the join is spent now.
        // A delegated method keeps the hash of a token once used, so it is never presented again.
        var stored = new StoredCommit(true, singleUse ? hash : commit.TokenHash, result.State ?? commit.MethodState);
        await store.SaveIdentityAsync(
            new StoredBotIdentity(result.PrivateKey.ExportPem(), material, stored.TokenHash, now) { MethodState = stored.MethodState },
            CancellationToken.None).ConfigureAwait(false);
        fault?.Invoke(RenewalFaultPoint.AfterPersist);

        // A renewal record from before this join is obsolete now.
        await store.TryClearInFlightAsync(logger).ConfigureAwait(false);
        if (reason == BotIdentityChangeReason.Renewed)
        {
            IdentityLog.Renewed(logger, identity.Username, identity.ClusterName, identity.Generation, identity.NotAfter);
        }
        else
        {
            IdentityLog.Joined(logger, identity.Username, identity.ClusterName, identity.InstanceId, identity.Generation, identity.NotAfter);
        }

        return (identity, stored);
    }
}
