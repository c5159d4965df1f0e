using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Wire.Join;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>
/// The OIDC-style delegated methods (<c>github</c>, <c>gitlab</c>, <c>kubernetes</c>): the platform
/// proves who the machine is with an ID token, presented with the token resource's name over
/// <c>RegisterUsingToken</c>, as tbot 18 does. Identities are not renewable: each renewal is a new
/// join with a fresh ID token, presenting the current identity so the cluster keeps the bot instance;
/// an expired identity is recovered by joining again (a new instance), with no operator involved.
/// </summary>
internal sealed class IdTokenJoinMethod : IBotJoinMethod
{
    private readonly Func<MachineIdOptions, IIdTokenSource> _source;

    private IdTokenJoinMethod(string name, Func<MachineIdOptions, IIdTokenSource> source)
    {
        Name = name;
        _source = source;
    }

    public string Name { get; }

    public BotRenewalKind RenewalKind => BotRenewalKind.Rejoin;

    public JoinSecretUse SecretUse => JoinSecretUse.None;

    public bool CanRejoinUnattended => true;

    /// <summary><c>github</c>: the ID token from the Actions runner (<c>ACTIONS_ID_TOKEN_REQUEST_URL</c>/<c>_TOKEN</c>).</summary>
    public static IdTokenJoinMethod GitHub(Func<string, string?>? environment = null, HttpMessageHandler? handler = null) =>
        new(MachineIdOptions.GitHubJoinMethod, _ => new GitHubActionsIdTokenSource(environment ?? Environment.GetEnvironmentVariable, handler));

    /// <summary><c>gitlab</c>: the ID token from <c>TBOT_GITLAB_JWT</c> or the configured variable.</summary>
    public static IdTokenJoinMethod GitLab(Func<string, string?>? environment = null) =>
        new(MachineIdOptions.GitLabJoinMethod, options => new GitLabIdTokenSource(environment ?? Environment.GetEnvironmentVariable, options.GitLab.TokenEnvironmentVariable));

    /// <summary><c>kubernetes</c>: the service account token file (<c>token_path</c>, <c>KUBERNETES_TOKEN_PATH</c>, default path).</summary>
    public static IdTokenJoinMethod Kubernetes(Func<string, string?>? environment = null) =>
        new(MachineIdOptions.KubernetesJoinMethod, options => new KubernetesTokenSource(environment ?? Environment.GetEnvironmentVariable, options.Kubernetes.TokenPath));

    public void Validate(MachineIdOptions options, ICollection<string> errors) => JoinTokenName.Validate(Name, options, errors);

    public async Task<BotJoinResult> JoinAsync(BotJoinContext context, CancellationToken cancellationToken)
    {
        var tokenName = await JoinTokenName.ResolveAsync(Name, context.Options, cancellationToken).ConfigureAwait(false);
        var source = _source(context.Options);
        var idToken = await source.GetIdTokenAsync(cancellationToken).ConfigureAwait(false);
        JoinMethodLog.IdTokenObtained(context.Logger, Name, source.Description);
        return await context.Client.JoinWithIdTokenAsync(tokenName, idToken, context.CredentialTtl, context.Current is not null, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// The <c>bound_keypair</c> method (<c>lib/tbot/bot/boundkeypair</c>): the first join registers a
/// key with the registration secret (or proves a pre-registered one), every later join proves the
/// bound key and presents the last join state. Renewals re-join with the current identity (no
/// recovery consumed); an expired identity is recovered unattended within the token's recovery rules.
/// </summary>
/// <remarks>
/// Storage, crash-safe by construction: the active key (<c>id_bkp</c>, <c>id_bkp.pub</c>) and the join
/// state (<c>bkp_state</c>) are the method state committed with the identity in one atomic write; the
/// key history (<c>bkp_key_history.json</c>) is written ahead, so a key the cluster asked for is
/// durable before its public half leaves. A static key (<c>static_private_key_path</c> or
/// <c>TBOT_BOUND_KEYPAIR_STATIC_KEY</c>) is used as is and never rotated.
/// </remarks>
internal sealed class BoundKeypairJoinMethod(Func<string, string?>? environment = null) : IBotJoinMethod
{
    /// <summary>The registration secret's environment variable (tbot's).</summary>
    public const string RegistrationSecretVariable = "TBOT_REGISTRATION_SECRET";

    /// <summary>A base64-encoded PEM private key used as a static key (tbot's).</summary>
    public const string StaticKeyVariable = "TBOT_BOUND_KEYPAIR_STATIC_KEY";

    private readonly Func<string, string?> _environment = environment ?? Environment.GetEnvironmentVariable;

    public string Name => MachineIdOptions.BoundKeypairJoinMethod;

    public BotRenewalKind RenewalKind => BotRenewalKind.Rejoin;

    public JoinSecretUse SecretUse => JoinSecretUse.None;

    public bool CanRejoinUnattended => true;

    public void Validate(MachineIdOptions options, ICollection<string> errors)
    {
        JoinTokenName.Validate(Name, options, errors);
        if (options.BoundKeypair.RegistrationSecret is not null && options.BoundKeypair.RegistrationSecretPath is not null)
        {
            errors.Add("Set only one of BoundKeypair.RegistrationSecret (registration_secret) and BoundKeypair.RegistrationSecretPath (registration_secret_path).");
        }
    }

    public async Task<BotJoinResult> JoinAsync(BotJoinContext context, CancellationToken cancellationToken)
    {
        var tokenName = await JoinTokenName.ResolveAsync(Name, context.Options, cancellationToken).ConfigureAwait(false);
        using var state = await LoadStateAsync(context, cancellationToken).ConfigureAwait(false);

        // As tbot: the registration secret goes out only while the bot holds no join state.
        var secret = state.JoinState.IsEmpty ? await ResolveRegistrationSecretAsync(context.Options, cancellationToken).ConfigureAwait(false) : null;
        if (!state.HasKeys && secret is null)
        {
            throw new TeleportJoinException(
                $"The bound_keypair join method needs a registration secret for the first join with token '{tokenName}' " +
                $"(BoundKeypair.RegistrationSecret, BoundKeypair.RegistrationSecretPath or {RegistrationSecretVariable}), or a pre-registered static key " +
                $"(BoundKeypair.StaticPrivateKeyPath or {StaticKeyVariable}); the bot's storage ({context.Storage.Description}) holds no bound key yet.");
        }

        BoundKeypairJoinAnswer answer;
        try
        {
            answer = await context.Client.JoinWithBoundKeypairAsync(
                new BoundKeypairJoinParameters(tokenName, secret, state.JoinState, state), context.CredentialTtl, context.Current is not null, cancellationToken).ConfigureAwait(false);
        }
        catch (TeleportJoinException ex) when (ex.Message.Contains("join state", StringComparison.Ordinal))
        {
            throw new TeleportJoinException(ex.Message + " " + JoinStateHint(tokenName, state), ex);
        }
        BoundKeypairCommit commit;
        try
        {
            commit = state.Complete(answer.Outcome);
        }
        catch
        {
            answer.Join.PrivateKey.Dispose();
            throw;
        }

        JoinMethodLog.BoundKeypairJoined(context.Logger, tokenName, answer.Outcome.BoundPublicKey, answer.Outcome.NewKeysRequested);
        var committed = state.IsStatic
            ? context.State.With(BoundKeypairClientState.JoinStateFile, commit.JoinState)
            : context.State
                .With(BoundKeypairClientState.PrivateKeyFile, commit.PrivateKeyPem)
                .With(BoundKeypairClientState.PublicKeyFile, commit.PublicKeyLine)
                .With(BoundKeypairClientState.JoinStateFile, commit.JoinState);
        return answer.Join with { State = committed };
    }

    /// <summary>
    /// Why the cluster may refuse this bot's join state, and what an administrator does about it: a
    /// join the cluster counted as a recovery was cut off before the bot stored its answer, and
    /// Teleport does not let a bot recover from that on its own (it could be a stolen key).
    /// </summary>
    private static string JoinStateHint(string tokenName, BoundKeypairClientState state) => state.JoinState.IsEmpty
        ? $"This bot holds a bound key for token '{tokenName}' but no join state: a join was cut off after the cluster bound the key and before the bot stored the answer. " +
          $"An administrator resets the token's recovery counter (status.bound_keypair.recovery_count, tctl edit token/{tokenName}) or sets spec.bound_keypair.recovery.mode: insecure; then the bot joins again on its own."
        : $"The bot's stored join state is older than the cluster's: a recovery join was cut off after the cluster counted it and before the bot stored the answer. " +
          $"An administrator removes the lock on token '{tokenName}' (tctl get locks, tctl rm lock/<name>) and resets its recovery counter, or sets recovery.mode: insecure.";

    private async Task<BoundKeypairClientState> LoadStateAsync(BotJoinContext context, CancellationToken cancellationToken)
    {
        context.State.TryGet(BoundKeypairClientState.JoinStateFile, out var joinState);
        if (await ReadStaticKeyAsync(context.Options, cancellationToken).ConfigureAwait(false) is { } staticKey)
        {
            return BoundKeypairClientState.Static(staticKey, joinState, context.Time);
        }

        context.State.TryGet(BoundKeypairClientState.PrivateKeyFile, out var privateKey);
        return await BoundKeypairClientState.LoadAsync(privateKey, joinState, context.Storage, context.Time, context.Logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>tbot's <c>StaticPrivateKeyBytes</c>: the configured file, else the base64 PEM in the environment.</summary>
    private async Task<PrivateKey?> ReadStaticKeyAsync(MachineIdOptions options, CancellationToken cancellationToken)
    {
        string pem;
        string source;
        if (options.BoundKeypair.StaticPrivateKeyPath is { } path)
        {
            source = "the static key file " + path;
            try
            {
                pem = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new TeleportJoinException($"Cannot read {source}: {ex.GetType().Name}.", ex);
            }
        }
        else if (_environment(StaticKeyVariable) is { Length: > 0 } encoded)
        {
            source = "the environment variable " + StaticKeyVariable;
            try
            {
                pem = Encoding.UTF8.GetString(Convert.FromBase64String(encoded.Trim()));
            }
            catch (FormatException ex)
            {
                throw new TeleportJoinException($"{StaticKeyVariable} is not base64 (it holds a base64-encoded PEM private key).", ex);
            }
        }
        else
        {
            return null;
        }

        try
        {
            return PrivateKey.ImportPem(pem);
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportJoinException($"The bound keypair static key from {source} is not a PEM private key ({ex.Message}).", ex);
        }
    }

    /// <summary>tbot's <c>RegistrationSecret()</c>: the path, else the value (or the file it names), else the environment.</summary>
    private async Task<string?> ResolveRegistrationSecretAsync(MachineIdOptions options, CancellationToken cancellationToken)
    {
        var settings = options.BoundKeypair;
        var file = settings.RegistrationSecretPath
            ?? (settings.RegistrationSecret is { } value && Path.IsPathFullyQualified(value) && File.Exists(value) ? value : null);
        if (file is not null)
        {
            try
            {
                var content = (await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false)).Trim();
                return content.Length == 0 ? null : content;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new TeleportJoinException($"Cannot read the registration secret file '{file}': {ex.GetType().Name}.", ex);
            }
        }

        if (!string.IsNullOrWhiteSpace(settings.RegistrationSecret))
        {
            return settings.RegistrationSecret.Trim();
        }

        return _environment(RegistrationSecretVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment.Trim() : null;
    }
}

/// <summary>The join token name a non-token method presents (tbot's <c>onboarding.token</c>; not a secret for these methods).</summary>
internal static class JoinTokenName
{
    public static void Validate(string method, MachineIdOptions options, ICollection<string> errors)
    {
        if (!new JoinSecretSource(options).IsConfigured)
        {
            errors.Add($"The {method} join method needs the name of the join token resource in Token (tbot's onboarding.token), TokenFile or TokenEnvironmentVariable.");
        }
    }

    /// <exception cref="TeleportJoinException">The configured source is empty.</exception>
    public static async Task<string> ResolveAsync(string method, MachineIdOptions options, CancellationToken cancellationToken)
    {
        var source = new JoinSecretSource(options);
        return await source.ResolveAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new TeleportJoinException($"The {method} join method needs the join token resource's name, but {source.Description} is empty.");
    }
}
