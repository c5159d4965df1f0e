namespace Teleport.MachineId.Identity.Joining;

/// <summary>
/// The <c>token</c> join method: a single-use secret registers the bot; the identity is renewable
/// and renewed with <c>GenerateUserCerts</c>. Recovering from an expired identity or an uncertain
/// renewal needs a new token.
/// </summary>
internal sealed class TokenJoinMethod : IBotJoinMethod
{
    public string Name => MachineIdOptions.TokenJoinMethod;

    public BotRenewalKind RenewalKind => BotRenewalKind.GenerateUserCerts;

    public JoinSecretUse SecretUse => JoinSecretUse.SingleUseToken;

    public bool CanRejoinUnattended => false;

    public void Validate(MachineIdOptions options, ICollection<string> errors)
    {
        // The common token-source rules apply; a token is optional while the storage holds an identity.
    }

    public async Task<BotJoinResult> JoinAsync(BotJoinContext context, CancellationToken cancellationToken)
    {
        var token = context.Secret ?? throw new InvalidOperationException("The token join method needs a token.");

        // A token join makes a new bot instance; the current identity is not presented.
        return await context.Client.JoinWithTokenAsync(token, context.CredentialTtl, cancellationToken).ConfigureAwait(false);
    }
}
