namespace Teleport.MachineId.Identity.Joining;

/// <summary>
/// A way to join the cluster (tbot's <c>onboarding.join_method</c>): the seam every join method
/// (<c>token</c>, <c>bound_keypair</c>, <c>github</c>, <c>gitlab</c>, <c>kubernetes</c>, …) plugs into.
/// Register an implementation in <see cref="JoinMethodRegistry"/>; the engine does the rest
/// (storage, schedule, crash safety, publishing).
/// </summary>
/// <remarks>
/// <para>
/// Renewal (<see cref="RenewalKind"/>): only <c>token</c> identities are renewable and renewed with
/// <c>GenerateUserCerts</c> (guarded by the in-flight record, because Teleport locks a bot whose
/// renewal generation goes back). Every other method joins again at each renewal, presenting the
/// current identity while it is valid (<see cref="BotJoinContext.Current"/>) so the cluster keeps
/// the bot instance.
/// </para>
/// <para>
/// Durable state (<see cref="BotJoinContext.State"/>, <see cref="BotJoinContext.Storage"/>,
/// <see cref="BotJoinResult.State"/>): what the cluster hands back with the certificates (for
/// example bound keypair's join state) goes into <see cref="BotJoinResult.State"/> and is committed
/// in the same atomic write as the identity; what must exist before a request can leave (a newly
/// generated key whose public half is about to be sent) is written with
/// <see cref="IJoinMethodStorage.WriteAsync"/> first. A crash then never loses a key the cluster
/// may have bound, and never pairs an identity with another join's state.
/// </para>
/// <para>
/// Recovery (<see cref="CanRejoinUnattended"/>): a method that can join again without an
/// operator handing over a new secret lets the engine recover on its own from an uncertain
/// renewal, an expired identity or a refused renewal, by joining again.
/// </para>
/// </remarks>
internal interface IBotJoinMethod
{
    /// <summary>The method's name in configuration and on the wire (<c>token</c>, <c>bound_keypair</c>, …).</summary>
    string Name { get; }

    /// <summary>How the engine keeps an identity from this method fresh.</summary>
    BotRenewalKind RenewalKind { get; }

    /// <summary>Whether the engine resolves and guards a single-use join token for the method.</summary>
    JoinSecretUse SecretUse { get; }

    /// <summary>
    /// Whether the method can join again without operator action (no new secret needed): then an
    /// uncertain renewal, an expired identity or a refused renewal is recovered by joining again
    /// instead of waiting for a new token. <see langword="false"/> for <c>token</c>.
    /// </summary>
    bool CanRejoinUnattended { get; }

    /// <summary>Adds a message naming the option for every problem with the method's options.</summary>
    /// <param name="options">The options (already checked for the common rules).</param>
    /// <param name="errors">Where to add problems.</param>
    void Validate(MachineIdOptions options, ICollection<string> errors);

    /// <summary>
    /// Joins and returns the new key, its certificates and the method state to commit with them.
    /// Throw <see cref="TeleportJoinException"/> when the cluster refuses,
    /// <see cref="TeleportConnectionException"/> when it cannot be reached.
    /// </summary>
    /// <param name="context">What the join may use.</param>
    /// <param name="cancellationToken">Cancels the join.</param>
    /// <returns>The result; the engine owns its key.</returns>
    Task<BotJoinResult> JoinAsync(BotJoinContext context, CancellationToken cancellationToken);
}

/// <summary>How identities from a join method are renewed.</summary>
internal enum BotRenewalKind
{
    /// <summary>
    /// Renewable identities (<c>token</c>): <c>GenerateUserCerts</c> on the current identity, one
    /// generation at a time, guarded by the in-flight record.
    /// </summary>
    GenerateUserCerts = 0,

    /// <summary>
    /// Non-renewable identities (every delegated method): join again at each renewal, presenting
    /// the current identity while it is valid so the cluster keeps the bot instance.
    /// </summary>
    Rejoin = 1,
}

/// <summary>What the engine does about a join secret for a method.</summary>
internal enum JoinSecretUse
{
    /// <summary>The method finds what it presents itself (ID token, bound key, registration secret).</summary>
    None = 0,

    /// <summary>
    /// A single-use join token from <see cref="MachineIdOptions.Token"/>, <see cref="MachineIdOptions.TokenFile"/> or
    /// <see cref="MachineIdOptions.TokenEnvironmentVariable"/>: the engine resolves it for each join and never
    /// presents again the token that produced the stored identity (its hash is stored with it).
    /// </summary>
    SingleUseToken = 1,
}
