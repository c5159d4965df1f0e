using Microsoft.Extensions.Logging;
using Teleport.MachineId.Identity.Internal;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>What a join method may use for one join.</summary>
internal sealed class BotJoinContext
{
    /// <summary>The cluster (authenticated calls present <see cref="Current"/> when there is one).</summary>
    public required IBotCredentialClient Client { get; init; }

    /// <summary>The options (a copy; the method reads its own settings from them).</summary>
    public required MachineIdOptions Options { get; init; }

    /// <summary>The single-use token, for methods with <see cref="JoinSecretUse.SingleUseToken"/>; otherwise <see langword="null"/>.</summary>
    public string? Secret { get; init; }

    /// <summary>The lifetime to request.</summary>
    public TimeSpan CredentialTtl => Options.CredentialTtl;

    /// <summary>
    /// The current identity while it is valid, which a re-join presents so the cluster keeps the bot
    /// instance; <see langword="null"/> for a first join or after expiry (the cluster then makes a new instance).
    /// </summary>
    public BotIdentity? Current { get; init; }

    /// <summary>The method state committed with the stored identity (<see cref="JoinMethodState.Empty"/> when none).</summary>
    public required JoinMethodState State { get; init; }

    /// <summary>Durable entries written ahead of a request (see <see cref="IJoinMethodStorage"/>).</summary>
    public required IJoinMethodStorage Storage { get; init; }

    /// <summary>The clock.</summary>
    public required TimeProvider Time { get; init; }

    /// <summary>Where the method logs (never secrets).</summary>
    public required ILogger Logger { get; init; }
}

/// <summary>A join's key and certificates, and the method state to commit with them.</summary>
/// <param name="PrivateKey">The key the certificates were issued for; the engine owns it.</param>
/// <param name="Certificates">The certificates.</param>
/// <param name="State">
/// The method state to store in the same atomic write as the identity, or <see langword="null"/> to
/// keep the state committed before.
/// </param>
internal sealed record BotJoinResult(Crypto.PrivateKey PrivateKey, IssuedBotCertificates Certificates, JoinMethodState? State = null);
