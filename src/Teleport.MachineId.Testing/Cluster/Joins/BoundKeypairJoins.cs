using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Testing.Cluster.Joins;

/// <summary>The mutable <c>status.bound_keypair</c> of a token; changed only through <see cref="ClusterState.PatchBoundKeypairStatus"/>.</summary>
internal sealed class BoundKeypairStatusState
{
    public string? RegistrationSecret { get; set; }

    public string? BoundPublicKey { get; set; }

    public string? BoundBotInstanceId { get; set; }

    public int RecoveryCount { get; set; }

    public DateTimeOffset? LastRecoveredAt { get; set; }

    public DateTimeOffset? LastRotatedAt { get; set; }

    /// <summary>Teleport's <c>populateRegistrationSecret</c> at creation.</summary>
    public static BoundKeypairStatusState Create(EmulatorBoundKeypairJoinSpec spec)
    {
        var status = new BoundKeypairStatusState();
        status.PopulateRegistrationSecret(spec);
        return status;
    }

    /// <summary>Sets the registration secret when no key is bound or pre-registered: the spec's, else a random one.</summary>
    public void PopulateRegistrationSecret(EmulatorBoundKeypairJoinSpec spec)
    {
        if (!string.IsNullOrEmpty(BoundPublicKey) || !string.IsNullOrEmpty(spec.InitialPublicKey) || !string.IsNullOrEmpty(RegistrationSecret))
        {
            return;
        }

        RegistrationSecret = !string.IsNullOrEmpty(spec.RegistrationSecret)
            ? spec.RegistrationSecret
            : Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
    }

    public BoundKeypairStatusState Clone() => (BoundKeypairStatusState)MemberwiseClone();

    public EmulatorBoundKeypairStatus Snapshot() => new()
    {
        RegistrationSecret = RegistrationSecret,
        BoundPublicKey = BoundPublicKey,
        BoundBotInstanceId = BoundBotInstanceId,
        RecoveryCount = RecoveryCount,
        LastRecoveredAt = LastRecoveredAt,
        LastRotatedAt = LastRotatedAt,
    };
}

/// <summary>The client side of the join stream as the bound keypair flow sees it.</summary>
internal interface IBoundKeypairChannel
{
    /// <summary>Sends a challenge for <paramref name="publicKey"/> (authorized_keys form) and returns the client's compact JWS.</summary>
    Task<string> SolveChallengeAsync(string publicKey, string challenge, CancellationToken cancellationToken);

    /// <summary>Asks for a new key for the suite and returns its public key (authorized_keys form).</summary>
    Task<string> RotateAsync(string suite, CancellationToken cancellationToken);
}

/// <summary>A bound keypair join request (BoundKeypairInit after ClientInit).</summary>
internal sealed class BoundKeypairJoinRequest
{
    public required BotJoinRequest Join { get; init; }

    public string InitialJoinSecret { get; init; } = string.Empty;

    public string PreviousJoinState { get; init; } = string.Empty;
}

/// <summary>The outcome: certificates, the key now bound, and the join state to present next time.</summary>
internal sealed record BoundKeypairJoinResult(UserCertificates Certificates, string BoundPublicKey, string JoinState);

/// <summary>
/// Teleport's bound keypair join (<c>lib/auth/join_bound_keypair.go</c>, <c>lib/boundkeypair</c>):
/// challenges signed with the bound key, the registration secret, recovery counting, join state
/// documents signed by the cluster's bound keypair CA, keypair rotation, token locks and audit events.
/// </summary>
internal sealed class BoundKeypairJoins : IDisposable
{
    private static readonly TimeSpan ChallengeLifetime = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan NotBeforeOffset = TimeSpan.FromSeconds(-10);
    private static readonly TimeSpan Leeway = TimeSpan.FromMinutes(1);

    private readonly AuthServer _auth;
    private readonly Func<string> _suite;
    private readonly ECDsa _joinStateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly string _joinStateKeyId;

    public BoundKeypairJoins(AuthServer auth, Func<string> suite)
    {
        _auth = auth;
        _suite = suite;
        _joinStateKeyId = JwtKeys.KeyId(_joinStateKey.ExportSubjectPublicKeyInfo());
    }

    private ClusterState State => _auth.State;

    private string ClusterName => _auth.ClusterName;

    public void Dispose() => _joinStateKey.Dispose();

    /// <summary>
    /// Runs the join for either join service (the unified stream or the legacy
    /// <c>RegisterUsingBoundKeypairMethod</c>; only <paramref name="channel"/> differs) and audits a refusal
    /// as a failed <c>bot.join</c> of the request's API.
    /// </summary>
    /// <exception cref="TraceException">The join is refused (Teleport's messages).</exception>
    public async Task<BoundKeypairJoinResult> JoinAuditedAsync(
        EmulatorJoinToken token, BoundKeypairJoinRequest request, IBoundKeypairChannel channel, CancellationToken cancellationToken)
    {
        try
        {
            return await JoinAsync(token, request, channel, cancellationToken).ConfigureAwait(false);
        }
        catch (TraceException ex)
        {
            State.Audit("bot.join", success: false, user: null, ex.Message, ("method", token.JoinMethod), ("api", request.Join.Api), ("token_name", token.SafeName));
            throw;
        }
    }

    /// <summary>Runs the join; <paramref name="token"/> was checked to exist and to be a bound keypair token.</summary>
    /// <exception cref="TraceException">The join is refused (Teleport's messages).</exception>
    public async Task<BoundKeypairJoinResult> JoinAsync(
        EmulatorJoinToken token, BoundKeypairJoinRequest request, IBoundKeypairChannel channel, CancellationToken cancellationToken)
    {
        if (request.Join.Role != "Bot")
        {
            throw TraceException.BadParameter("bound keypair joining is only supported for bots");
        }

        var spec = token.BoundKeypair ?? throw TraceException.BadParameter("bound_keypair token requires non-nil spec.bound_keypair");
        var status = State.BoundKeypairStatus(token.Name) ?? throw TraceException.NotFound($"token {token.Name} not found");
        var caller = request.Join.Caller;
        var incomingInstance = caller is { IsHost: false } ? caller.Identity.BotInstanceId : null;
        var hasBoundKey = !string.IsNullOrEmpty(status.BoundPublicKey);
        var hasBoundInstance = !string.IsNullOrEmpty(status.BoundBotInstanceId);
        var hasIncomingInstance = !string.IsNullOrEmpty(incomingInstance);
        var joinsRemaining = status.RecoveryCount < spec.RecoveryLimit;
        var mode = spec.RecoveryMode;
        var mutators = new List<Action<EmulatorBoundKeypairJoinSpec, BoundKeypairStatusState>>();
        var boundKey = status.BoundPublicKey ?? string.Empty;
        var recoveryCount = status.RecoveryCount;
        var newInstanceExpected = false;
        string? previousInstanceId = null;
        var now = _auth.Clock.GetUtcNow();

        if (!hasBoundKey && !hasIncomingInstance)
        {
            // Initial join: consumes a recovery.
            if (mode == "standard" && !joinsRemaining)
            {
                throw TraceException.AccessDenied("no recovery attempts remaining");
            }

            if (!string.IsNullOrEmpty(spec.InitialPublicKey))
            {
                try
                {
                    await IssueChallengeAsync(spec.InitialPublicKey, channel, cancellationToken).ConfigureAwait(false);
                }
                catch (TraceException ex)
                {
                    AuditRecovery(token, request, spec.InitialPublicKey, 0, ex.Message);
                    throw TraceException.AccessDenied("failed to complete challenge");
                }

                var initial = spec.InitialPublicKey;
                mutators.Add((_, s) => ExpectThen(s.BoundPublicKey ?? string.Empty, string.Empty, () => s.BoundPublicKey = initial));
                boundKey = initial;
            }
            else if (!string.IsNullOrEmpty(status.RegistrationSecret))
            {
                const string refused = "a valid registration secret is required";
                if (string.IsNullOrEmpty(request.InitialJoinSecret))
                {
                    AuditRecovery(token, request, string.Empty, 0, "no registration secret was provided");
                    throw TraceException.AccessDenied(refused);
                }

                if (spec.MustRegisterBefore is { } deadline && now > deadline)
                {
                    throw TraceException.AccessDenied(refused);
                }

                if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(status.RegistrationSecret), Encoding.UTF8.GetBytes(request.InitialJoinSecret)))
                {
                    AuditRecovery(token, request, string.Empty, 0, "registration secret comparison failed");
                    throw TraceException.AccessDenied(refused);
                }

                string newKey;
                try
                {
                    newKey = await RequestRotationAsync(channel, cancellationToken).ConfigureAwait(false);
                }
                catch (TraceException ex)
                {
                    AuditRecovery(token, request, string.Empty, 0, ex.Message);
                    throw;
                }

                var secret = status.RegistrationSecret;
                mutators.Add((_, s) => ExpectThen(s.BoundPublicKey ?? string.Empty, string.Empty, () => s.BoundPublicKey = newKey));
                mutators.Add((_, s) => ExpectThen(s.RegistrationSecret ?? string.Empty, secret, () => s.RegistrationSecret = null));
                boundKey = newKey;
            }
            else
            {
                throw TraceException.BadParameter("either an initial public key or registration secret is required");
            }

            var expectCount = status.RecoveryCount;
            var expectLimit = spec.RecoveryLimit;
            mutators.Add((current, s) => ConsumeRecovery(current, s, expectCount, expectLimit, now));
            _auth.EnsureNotLocked(null, null, token.Name);
            recoveryCount++;
            newInstanceExpected = true;
            AuditRecovery(token, request, boundKey, recoveryCount, null);
        }
        else if (!hasBoundKey)
        {
            throw TraceException.BadParameter("cannot perform first bound keypair join with existing credentials");
        }
        else if (!hasBoundInstance)
        {
            throw TraceException.BadParameter("bad backend state, please recreate the join token");
        }
        else if (hasIncomingInstance)
        {
            // Standard re-join with a valid identity: no recovery consumed.
            await IssueChallengeAsync(boundKey, channel, cancellationToken).ConfigureAwait(false);
            _auth.EnsureNotLocked(null, null, token.Name);
            VerifyJoinState(token, spec, status, request);
            if (status.BoundBotInstanceId != incomingInstance)
            {
                throw TraceException.AccessDenied("bot instance mismatch");
            }
        }
        else
        {
            // Hard re-join (no valid identity): a recovery.
            try
            {
                await IssueChallengeAsync(boundKey, channel, cancellationToken).ConfigureAwait(false);
            }
            catch (TraceException ex)
            {
                AuditRecovery(token, request, boundKey, recoveryCount, ex.Message);
                throw;
            }

            if (mode == "standard" && !joinsRemaining)
            {
                throw TraceException.AccessDenied("no rejoins remaining");
            }

            _auth.EnsureNotLocked(null, null, token.Name);
            previousInstanceId = VerifyJoinState(token, spec, status, request);
            var expectCount = status.RecoveryCount;
            var expectLimit = spec.RecoveryLimit;
            mutators.Add((current, s) => ConsumeRecovery(current, s, expectCount, expectLimit, now));
            recoveryCount++;
            newInstanceExpected = true;
            AuditRecovery(token, request, boundKey, recoveryCount, null);
        }

        if (spec.RotateAfter is { } rotateAfter && rotateAfter <= now && (status.LastRotatedAt is not { } last || last < rotateAfter))
        {
            string newKey;
            try
            {
                newKey = await RequestRotationAsync(channel, cancellationToken).ConfigureAwait(false);
                if (PublicKeyInfo.ParseAuthorizedKey(newKey) == PublicKeyInfo.ParseAuthorizedKey(boundKey))
                {
                    throw TraceException.BadParameter("public key may not be reused after rotation");
                }
            }
            catch (TraceException ex)
            {
                AuditRotation(token, boundKey, null, ex.Message);
                throw;
            }

            var previousKey = boundKey;
            var previousRotation = status.LastRotatedAt;
            mutators.Add((_, s) => ExpectThen(s.BoundPublicKey ?? string.Empty, previousKey, () => s.BoundPublicKey = newKey));
            mutators.Add((_, s) => ExpectThen(s.LastRotatedAt, previousRotation, () => s.LastRotatedAt = now));
            AuditRotation(token, previousKey, newKey, null);
            boundKey = newKey;
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["public_key"] = boundKey,
            ["recovery_count"] = recoveryCount.ToString(CultureInfo.InvariantCulture),
            ["recovery_mode"] = mode,
        };
        var certificates = _auth.IssueDelegatedBotIdentity(
            token, request.Join, newInstanceExpected ? null : caller, previousInstanceId, attributes, out var botInstanceId);
        if (newInstanceExpected)
        {
            var expectInstance = status.BoundBotInstanceId ?? string.Empty;
            mutators.Add((_, s) => ExpectThen(s.BoundBotInstanceId ?? string.Empty, expectInstance, () => s.BoundBotInstanceId = botInstanceId));
        }

        var final = mutators.Count == 0
            ? status
            : State.PatchBoundKeypairStatus(token.Name, (current, s) => mutators.ForEach(m => m(current, s)));
        return new BoundKeypairJoinResult(certificates, boundKey, IssueJoinState(token, spec, final));
    }

    /// <summary>A join state document for the token's (updated) status (<c>boundkeypair.IssueJoinState</c>).</summary>
    private string IssueJoinState(EmulatorJoinToken token, EmulatorBoundKeypairJoinSpec spec, EmulatorBoundKeypairStatus status)
    {
        var now = _auth.Clock.GetUtcNow();
        var payload = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["iss"] = ClusterName,
            ["sub"] = token.BotName,
            ["aud"] = ClusterName,
            ["nbf"] = (now + NotBeforeOffset).ToUnixTimeSeconds(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["bot_instance_id"] = status.BoundBotInstanceId ?? string.Empty,
            ["host_id"] = string.Empty,
            ["recovery_sequence"] = status.RecoveryCount,
            ["recovery_limit"] = spec.RecoveryLimit,
            ["recovery_mode"] = spec.RecoveryMode,
        };
        var key = new ECDsaSecurityKey(_joinStateKey) { KeyId = _joinStateKeyId };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(
            JsonSerializer.Serialize(payload.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value, p.Value.GetType()), StringComparer.Ordinal)),
            new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
            new Dictionary<string, object> { ["typ"] = "JWT" });
    }

    /// <summary>
    /// Teleport's <c>verifyBoundKeypairJoinState</c>: required once a recovery happened (unless the
    /// mode is insecure); a document that does not verify locks the token. Returns the previous
    /// instance id it carried.
    /// </summary>
    private string? VerifyJoinState(EmulatorJoinToken token, EmulatorBoundKeypairJoinSpec spec, EmulatorBoundKeypairStatus status, BoundKeypairJoinRequest request)
    {
        if (status.RecoveryCount == 0 || spec.RecoveryMode == "insecure")
        {
            return null;
        }

        if (string.IsNullOrEmpty(request.PreviousJoinState))
        {
            throw TraceException.AccessDenied("previous join state is required but was not provided");
        }

        try
        {
            var parsed = JwtKeys.ReadUnverified(request.PreviousJoinState, "parsing serialized join state");
            if (string.IsNullOrEmpty(parsed.Kid))
            {
                throw TraceException.BadParameter("required key ID is missing from JWT header");
            }

            if (parsed.Kid != _joinStateKeyId)
            {
                throw TraceException.AccessDenied("join state could not be verified");
            }

            var verified = JwtKeys.VerifySignatureAsync(
                request.PreviousJoinState, [new ECDsaSecurityKey(_joinStateKey) { KeyId = _joinStateKeyId }], "join state").GetAwaiter().GetResult();
            CheckClaims(verified, token.BotName);
            var errors = new List<string>();
            if (!verified.TryGetPayloadValue<long>("recovery_sequence", out var sequence) || sequence != status.RecoveryCount)
            {
                errors.Add("recovery counter mismatch");
            }

            var instance = verified.TryGetPayloadValue<string>("bot_instance_id", out var id) ? id : string.Empty;
            if (instance != (status.BoundBotInstanceId ?? string.Empty))
            {
                errors.Add("bot instance mismatch");
            }

            if (errors.Count > 0)
            {
                throw TraceException.AccessDenied(string.Join(", ", errors));
            }

            return instance;
        }
        catch (TraceException ex)
        {
            LockToken(token, request, ex.Message);
            throw TraceException.AccessDenied("join state verification failed");
        }
    }

    private void CheckClaims(JsonWebToken document, string subject)
    {
        var now = _auth.Clock.GetUtcNow();
        if (document.Issuer != ClusterName || !document.Audiences.Contains(ClusterName) || document.Subject != subject)
        {
            throw TraceException.AccessDenied("validating claims: go-jose/go-jose/jwt: validation failed, invalid issuer, audience or subject");
        }

        if (document.TryGetPayloadValue<long>("exp", out var exp) && now - Leeway > DateTimeOffset.FromUnixTimeSeconds(exp))
        {
            throw TraceException.AccessDenied("validating claims: go-jose/go-jose/jwt: validation failed, token is expired (exp)");
        }

        if (document.TryGetPayloadValue<long>("nbf", out var nbf) && now + Leeway < DateTimeOffset.FromUnixTimeSeconds(nbf))
        {
            throw TraceException.AccessDenied("validating claims: go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)");
        }

        if (document.TryGetPayloadValue<long>("iat", out var iat) && now + Leeway < DateTimeOffset.FromUnixTimeSeconds(iat))
        {
            throw TraceException.AccessDenied("validating claims: go-jose/go-jose/jwt: validation failed, token issued in the future (iat)");
        }
    }

    /// <summary>Issues a challenge for <paramref name="publicKey"/> and validates the signed answer (<c>ChallengeValidator</c>).</summary>
    private async Task IssueChallengeAsync(string publicKey, IBoundKeypairChannel channel, CancellationToken cancellationToken)
    {
        PublicKeyInfo key;
        try
        {
            key = PublicKeyInfo.ParseAuthorizedKey(publicKey);
        }
        catch (TeleportFormatException ex)
        {
            throw TraceException.BadParameter("parsing bound public key: " + ex.Message);
        }

        var subject = JwtKeys.KeyId(key.ExportSubjectPublicKeyInfo());
        var now = _auth.Clock.GetUtcNow();
        var issuedAt = now.ToUnixTimeSeconds();
        var notBefore = (now + NotBeforeOffset).ToUnixTimeSeconds();
        var expires = (now + ChallengeLifetime).ToUnixTimeSeconds();
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

        // go-jose's Claims JSON: iss, sub, aud (one audience is a string), exp, nbf, iat, then nonce.
        var challenge =
            $"{{\"iss\":{JsonSerializer.Serialize(ClusterName)},\"sub\":{JsonSerializer.Serialize(subject)},\"aud\":{JsonSerializer.Serialize(ClusterName)}," +
            $"\"exp\":{expires},\"nbf\":{notBefore},\"iat\":{issuedAt},\"nonce\":\"{nonce}\"}}";
        var solution = await channel.SolveChallengeAsync(publicKey, challenge, cancellationToken).ConfigureAwait(false);

        JsonWebToken answer;
        try
        {
            answer = await JwtKeys.VerifySignatureAsync(solution, [JwtKeys.ToSecurityKey(key)], "validating challenge response").ConfigureAwait(false);
        }
        catch (TraceException ex)
        {
            throw TraceException.AccessDenied("validating challenge response: " + ex.Message);
        }

        if (answer.Alg != JwtKeys.AlgorithmFor(key.Algorithm))
        {
            throw TraceException.AccessDenied($"validating challenge response: unexpected signature algorithm {answer.Alg}");
        }

        var when = _auth.Clock.GetUtcNow();
        if (answer.Issuer != ClusterName || answer.Subject != subject || !answer.Audiences.Contains(ClusterName)
            || (answer.TryGetPayloadValue<long>("exp", out var exp) && when - Leeway > DateTimeOffset.FromUnixTimeSeconds(exp))
            || (answer.TryGetPayloadValue<long>("nbf", out var nbf) && when + Leeway < DateTimeOffset.FromUnixTimeSeconds(nbf)))
        {
            throw TraceException.AccessDenied("validating challenge response: validating challenge claims: go-jose/go-jose/jwt: validation failed");
        }

        if (!answer.TryGetPayloadValue<long>("iat", out var iat) || iat != issuedAt
            || !answer.TryGetPayloadValue<long>("exp", out var exp2) || exp2 != expires
            || !answer.TryGetPayloadValue<long>("nbf", out var nbf2) || nbf2 != notBefore)
        {
            throw TraceException.AccessDenied("validating challenge response: invalid challenge document");
        }

        if (!answer.TryGetPayloadValue<string>("nonce", out var echoed)
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(echoed), Encoding.ASCII.GetBytes(nonce)))
        {
            throw TraceException.AccessDenied("validating challenge response: invalid nonce");
        }
    }

    /// <summary>Asks the client for a new key and proves it owns it (<c>requestBoundKeypairRotation</c>).</summary>
    private async Task<string> RequestRotationAsync(IBoundKeypairChannel channel, CancellationToken cancellationToken)
    {
        var publicKey = (await channel.RotateAsync(_suite(), cancellationToken).ConfigureAwait(false)).Trim();
        await IssueChallengeAsync(publicKey, channel, cancellationToken).ConfigureAwait(false);
        return publicKey;
    }

    private static void ConsumeRecovery(EmulatorBoundKeypairJoinSpec current, BoundKeypairStatusState status, int expectCount, int expectLimit, DateTimeOffset now)
    {
        if (status.RecoveryCount != expectCount || current.RecoveryLimit < expectLimit)
        {
            throw TraceException.AccessDenied("committing updated token state, please try again: applying status mutator: unexpected backend state");
        }

        status.RecoveryCount++;
        status.LastRecoveredAt = now;
    }

    private static void ExpectThen<T>(T actual, T expected, Action apply)
    {
        if (!EqualityComparer<T>.Default.Equals(actual, expected))
        {
            throw TraceException.AccessDenied("committing updated token state, please try again: applying status mutator: unexpected backend state");
        }

        apply();
    }

    private void LockToken(EmulatorJoinToken token, BoundKeypairJoinRequest request, string reason)
    {
        State.Audit("bound_keypair.join_state_verification_failed", success: false, user: null, reason,
            ("token_name", token.Name), ("bot_name", token.BotName), ("remote_addr", request.Join.RemoteAddress));
        var message = $"The join token \"{token.Name}\" has been locked by bot \"{token.BotName}\" after a client failed to verify its join state, possibly indicating a stolen keypair.";
        State.AddLock(new EmulatorLock { Name = Guid.NewGuid().ToString("D"), JoinToken = token.Name, Message = message });
        State.Audit("lock.created", success: true, user: null, message, ("target_join_token", token.Name));
    }

    private void AuditRecovery(EmulatorJoinToken token, BoundKeypairJoinRequest request, string publicKey, int count, string? error) =>
        State.Audit("bound_keypair.recovery", success: error is null, user: null, error ?? $"Bot \"{token.BotName}\" recovered with bound keypair token \"{token.Name}\".",
            ("token_name", token.Name), ("bot_name", token.BotName), ("public_key", publicKey),
            ("recovery_count", count.ToString(CultureInfo.InvariantCulture)), ("recovery_mode", token.BoundKeypair!.RecoveryMode),
            ("remote_addr", request.Join.RemoteAddress));

    private void AuditRotation(EmulatorJoinToken token, string previousKey, string? newKey, string? error) =>
        State.Audit("bound_keypair.rotation", success: error is null, user: null, error ?? $"Bound keypair of token \"{token.Name}\" rotated.",
            ("token_name", token.Name), ("bot_name", token.BotName), ("previous_public_key", previousKey), ("new_public_key", newKey));
}
