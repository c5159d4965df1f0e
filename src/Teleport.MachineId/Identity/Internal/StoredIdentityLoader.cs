using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>What the storage holds besides the identity: the token hash and the join method's committed state.</summary>
/// <param name="HasIdentity">Whether an identity was stored (even an unusable one).</param>
/// <param name="TokenHash">The hash of the single-use token that produced it.</param>
/// <param name="MethodState">The join method's state committed with it.</param>
internal sealed record StoredCommit(bool HasIdentity, string? TokenHash, JoinMethodState MethodState)
{
    public static StoredCommit None { get; } = new(false, null, JoinMethodState.Empty);
}

/// <summary>The bot's state at start-up.</summary>
/// <param name="Identity">The stored identity when it verified (possibly expired), else <see langword="null"/>.</param>
/// <param name="Commit">What was stored with it.</param>
/// <param name="JoinRequired">Why a new token is needed before anything else, or <see langword="null"/>.</param>
/// <param name="RejoinRequested">Whether to join again at once (a new token is configured, or the method recovers on its own).</param>
/// <param name="Publish">Whether the identity is served until then: valid, and not replaced by a new token's join.</param>
internal sealed record LoadedBotState(BotIdentity? Identity, StoredCommit Commit, BotJoinRequiredException? JoinRequired, bool RejoinRequested, bool Publish);

/// <summary>
/// tbot's start-up rules: read the stored identity and verify it (key matches both certificates,
/// both signed by the CAs stored with it); an interrupted renewal record from the stored generation
/// means the cluster may be ahead; an expired identity or a different configured token means a join.
/// </summary>
internal static class StoredIdentityLoader
{
    public static async Task<LoadedBotState> LoadAsync(
        IBotIdentityStore store, IBotJoinMethod method, JoinSecretSource secret, BotRecoveryMessages messages,
        TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var state = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (state.IdentityError is { } loadError)
        {
            IdentityLog.StoredIdentityDiscarded(logger, store.Description, loadError.Message);
        }

        var commit = StoredCommit.None;
        BotIdentity? identity = null;
        if (state.Identity is { } stored)
        {
            commit = new StoredCommit(true, stored.TokenHash, stored.MethodState);
            try
            {
                identity = BotIdentity.Create(PrivateKey.ImportPem(stored.PrivateKeyPem), stored.Material);
            }
            catch (TeleportException ex)
            {
                IdentityLog.StoredIdentityDiscarded(logger, store.Description, ex.Message);
            }
        }

        BotJoinRequiredException? joinRequired = null;
        var rejoin = false;
        if (state.InFlight is { } record)
        {
            var sameInstance = identity is null || record.InstanceId is null || record.InstanceId == identity.InstanceId;
            var mayBeAhead = identity is not null && sameInstance && (record.FromGeneration < 0 || record.FromGeneration >= identity.Generation);
            if (mayBeAhead && method.CanRejoinUnattended)
            {
                // The record stays until the new join is stored.
                IdentityLog.RejoiningAfterUncertainRenewal(logger, identity!.Generation, method.Name);
                rejoin = true;
            }
            else if (mayBeAhead)
            {
                joinRequired = messages.GenerationUncertain(identity!, record.StartedAt);
            }
            else
            {
                IdentityLog.StaleRecordCleared(logger, record.FromGeneration, identity?.Generation ?? 0);
                await store.ClearInFlightAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        if (identity is null)
        {
            return new LoadedBotState(null, commit, joinRequired, rejoin, Publish: false);
        }

        if (identity.IsExpiredAt(time.GetUtcNow()))
        {
            IdentityLog.StoredIdentityDiscarded(logger, store.Description, $"it expired at {identity.NotAfter:u}");
            return new LoadedBotState(
                identity, commit, joinRequired ?? (method.CanRejoinUnattended ? null : messages.Expired(identity)), rejoin || method.CanRejoinUnattended, Publish: false);
        }

        if (!rejoin && method.SecretUse == JoinSecretUse.SingleUseToken && commit.TokenHash is not null)
        {
            var configured = await secret.ResolveAsync(cancellationToken).ConfigureAwait(false);
            if (configured is not null && JoinSecretSource.Hash(configured) != commit.TokenHash)
            {
                // tbot's rule: a different configured token means the operator wants a fresh join.
                IdentityLog.TokenChanged(logger);
                return new LoadedBotState(identity, commit, joinRequired, RejoinRequested: true, Publish: false);
            }
        }

        IdentityLog.IdentityLoaded(logger, identity.Username, identity.ClusterName, identity.Generation, identity.NotAfter, store.Description);
        return new LoadedBotState(identity, commit, joinRequired, rejoin, Publish: true);
    }
}
