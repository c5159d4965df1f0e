using System.Globalization;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster.Joins;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>A bot join request, whichever API it came through.</summary>
internal sealed class BotJoinRequest
{
    public required string Token { get; init; }

    public required string Role { get; init; }

    public string NodeName { get; init; } = string.Empty;

    public string HostId { get; init; } = string.Empty;

    public PublicKeyInfo? TlsPublicKey { get; init; }

    public PublicKeyInfo? SshPublicKey { get; init; }

    /// <summary>Why the public keys could not be read (reported after the token checks, as Teleport orders them).</summary>
    public string? KeyError { get; init; }

    public DateTimeOffset? Expires { get; init; }

    public string RemoteAddress { get; init; } = string.Empty;

    /// <summary>The OIDC-style ID token (<c>IDToken</c>) for the github, gitlab and kubernetes methods.</summary>
    public string IdToken { get; init; } = string.Empty;

    /// <summary>
    /// The caller's verified identity when the join arrived on an authenticated Auth connection (a
    /// bot re-joining with its current identity keeps its bot instance); null otherwise.
    /// </summary>
    public CallerIdentity? Caller { get; init; }

    /// <summary>Which API served the join, for logs and audit events.</summary>
    public required string Api { get; init; }
}

/// <summary>A <c>GenerateUserCerts</c> request (the fields the emulator honours).</summary>
internal sealed class GenerateUserCertsRequest
{
    public string Username { get; init; } = string.Empty;

    public DateTimeOffset? Expires { get; init; }

    public string Format { get; init; } = string.Empty;

    public string RouteToCluster { get; init; } = string.Empty;

    public IReadOnlyList<string> RoleRequests { get; init; } = [];

    public bool UseRoleRequests { get; init; }

    public bool ReissuableRoleImpersonation { get; init; }

    public int Usage { get; init; }

    public PublicKeyInfo? SshPublicKey { get; init; }

    public PublicKeyInfo? TlsPublicKey { get; init; }

    public string RemoteAddress { get; init; } = string.Empty;
}

/// <summary>
/// The Auth service's certificate rules: token joins for bots (§3.7) and <c>GenerateUserCerts</c>
/// (renewal with the generation check, role impersonation, TTL caps, §4.1, §5.1), plus locks.
/// Transport-independent: the gRPC and HTTP layers call it and map <see cref="TraceException"/>.
/// </summary>
internal sealed partial class AuthServer
{
    private const string TokenJoinAttributesJson = "{\"meta\":{\"join_method\":\"token\"}}";
    private static readonly string[] KnownSystemRoles =
        ["Auth", "Node", "Proxy", "Admin", "ProvisionToken", "Trusted_cluster", "Signup", "Nop", "RemoteProxy", "Kube", "App", "Db",
         "WindowsDesktop", "Bot", "Instance", "Discovery", "Okta", "MDM", "AccessGraph", "AccessGraphPlugin"];

    private readonly string _clusterName;
    private readonly ClusterState _state;
    private readonly CertificateIssuer _issuer;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly IdTokenValidator _idTokens;

    public AuthServer(string clusterName, ClusterState state, CertificateIssuer issuer, TimeProvider clock, ILogger logger, IdTokenValidator idTokens)
    {
        _clusterName = clusterName;
        _state = state;
        _issuer = issuer;
        _clock = clock;
        _logger = logger;
        _idTokens = idTokens;
    }

    public string ClusterName => _clusterName;

    public ClusterState State => _state;

    public TimeProvider Clock => _clock;

    /// <summary>
    /// Joins a bot through <c>RegisterUsingToken</c> (legacy gRPC or the proxy's HTTP endpoint): the
    /// <c>token</c> method issues the first renewable identity and deletes the token; the
    /// <c>github</c>, <c>gitlab</c> and <c>kubernetes</c> methods check the ID token and issue a
    /// non-renewable identity, keeping the caller's bot instance when it re-joins with its identity.
    /// </summary>
    /// <exception cref="TraceException">The request is invalid or the token is refused.</exception>
    public async Task<UserCertificates> JoinBotAsync(BotJoinRequest request, CancellationToken cancellationToken)
    {
        var method = "token";
        try
        {
            var token = ValidateToken(request.Token, request.Role, request.NodeName, request.HostId);
            method = token.JoinMethod;
            if (token.JoinMethod == EmulatorJoinMethods.Token)
            {
                return JoinBotCore(request);
            }

            if (!EmulatorJoinMethods.UsesIdToken(token.JoinMethod))
            {
                throw TraceException.BadParameter($"join method \"{token.JoinMethod}\" requires its own join flow, not RegisterUsingToken");
            }

            var proven = await _idTokens.ValidateAsync(token, request.IdToken, cancellationToken).ConfigureAwait(false);
            return IssueDelegatedBotIdentity(token, request, request.Caller, previousInstanceId: null, proven.Claims);
        }
        catch (TraceException ex)
        {
            _state.Audit("bot.join", success: false, user: null, ex.Message, ("method", method), ("api", request.Api),
                ("token_name", TokenNameForAudit(request.Token)));
            Log.JoinRefused(_logger, request.Api, ex.Message);
            throw;
        }
    }

    /// <summary>
    /// Issues a non-renewable bot identity for a delegated or bound keypair join. A caller presenting a
    /// valid identity of the same bot keeps its instance (generation + 1); otherwise a new instance
    /// starts at generation 1 (linked to <paramref name="previousInstanceId"/> after a recovery).
    /// </summary>
    /// <exception cref="TraceException">The keys or expiry are invalid, or the caller belongs to another bot.</exception>
    internal UserCertificates IssueDelegatedBotIdentity(
        EmulatorJoinToken token, BotJoinRequest request, CallerIdentity? caller, string? previousInstanceId, IReadOnlyDictionary<string, string> attributes) =>
        IssueDelegatedBotIdentity(token, request, caller, previousInstanceId, attributes, out _);

    /// <inheritdoc cref="IssueDelegatedBotIdentity(EmulatorJoinToken, BotJoinRequest, CallerIdentity?, string?, IReadOnlyDictionary{string, string})"/>
    internal UserCertificates IssueDelegatedBotIdentity(
        EmulatorJoinToken token, BotJoinRequest request, CallerIdentity? caller, string? previousInstanceId,
        IReadOnlyDictionary<string, string> attributes, out string botInstanceId)
    {
        if (request.KeyError is not null)
        {
            throw TraceException.BadParameter(request.KeyError);
        }

        if (request.TlsPublicKey is null && request.SshPublicKey is null)
        {
            throw TraceException.BadParameter("at least one of the public keys (TLS or SSH) is required");
        }

        var bot = _state.GetBot(token.BotName) ?? throw TraceException.AccessDenied("access denied: the token's bot does not exist");
        var botRole = _state.GetRole(bot.UserName) ?? RoleEvaluation.BotRole(bot);
        var now = _clock.GetUtcNow();
        var expires = CappedExpiry(request.Expires, botRole, now);
        var authentication = new BotAuthenticationInfo
        {
            AuthenticatedAt = now,
            Generation = 1,
            JoinMethod = token.JoinMethod,
            JoinToken = token.SafeName,
            JoinAttributes = attributes,
            PublicKeyFingerprint = (request.TlsPublicKey ?? request.SshPublicKey)?.Sha256Fingerprint,
        };

        // A re-join presenting the current identity keeps the bot instance (tbot's renewal for
        // non-token methods); Teleport takes the instance and generation from the caller's certificate.
        var keep = caller?.Identity is { BotInstanceId: { Length: > 0 } id } identity && !caller.IsHost ? (Id: id, identity.BotName) : default;
        if (keep.Id is not null && !string.Equals(keep.BotName, bot.Name, StringComparison.Ordinal))
        {
            throw TraceException.AccessDenied($"the presented identity belongs to bot \"{keep.BotName}\", not \"{bot.Name}\"");
        }

        var generation = keep.Id is null ? 0 : _state.WithBotInstance(keep.Id, instance =>
        {
            if (instance is null)
            {
                return 0;
            }

            instance.Generation++;
            instance.Authentications.Add(new BotAuthenticationInfo
            {
                AuthenticatedAt = authentication.AuthenticatedAt,
                Generation = instance.Generation,
                JoinMethod = authentication.JoinMethod,
                JoinToken = authentication.JoinToken,
                JoinAttributes = authentication.JoinAttributes,
                PublicKeyFingerprint = authentication.PublicKeyFingerprint,
            });
            return instance.Generation;
        });
        if (generation == 0)
        {
            botInstanceId = _state.CreateBotInstance(bot.Name, authentication, previousInstanceId).InstanceId;
            generation = 1;
        }
        else
        {
            botInstanceId = keep.Id!;
        }

        var certificates = Issue(bot, botRole, request, expires, renewable: false, generation, botInstanceId, JoinAttributesJson(token.JoinMethod, attributes), now);
        _state.Audit("bot.join", success: true, bot.UserName,
            $"Bot \"{bot.Name}\" (instance {botInstanceId}) has joined the cluster with the {token.JoinMethod} join method.",
            ("bot_name", bot.Name), ("bot_instance_id", botInstanceId), ("token_name", token.SafeName), ("method", token.JoinMethod),
            ("api", request.Api), ("generation", generation.ToString(CultureInfo.InvariantCulture)),
            ("subject", attributes.GetValueOrDefault("sub")));
        Log.BotJoined(_logger, bot.Name, botInstanceId, request.Api, expires);
        return certificates;
    }

    private string? TokenNameForAudit(string name)
    {
        var token = string.IsNullOrEmpty(name) ? null : _state.FindValidToken(name);
        return token?.SafeName ?? EmulatorJoinToken.MaskTokenName(name);
    }

    /// <summary>Checks a token without consuming it (the unified join's ServerInit step).</summary>
    /// <exception cref="TraceException">The token is missing, expired or does not allow the role.</exception>
    public EmulatorJoinToken ValidateToken(string token, string role, string nodeName, string hostId)
    {
        if (string.IsNullOrEmpty(token))
        {
            throw TraceException.BadParameter("missing parameter Token");
        }

        if (!KnownSystemRoles.Contains(role, StringComparer.Ordinal))
        {
            throw TraceException.BadParameter($"\"{role}\" is not a valid role");
        }

        if (role != "Bot" && string.IsNullOrEmpty(hostId))
        {
            throw TraceException.BadParameter("missing parameter HostID");
        }

        var found = _state.FindValidToken(token)
            ?? throw TraceException.AccessDenied($"\"{nodeName}\" can not join the cluster with role \"{role}\", token expired or not found");
        if (role != "Bot")
        {
            throw TraceException.BadParameter($"node \"{nodeName}\" [{hostId}] can not join the cluster, the token does not allow \"{role}\" role");
        }

        return found;
    }

    private UserCertificates JoinBotCore(BotJoinRequest request)
    {
        var token = ValidateToken(request.Token, request.Role, request.NodeName, request.HostId);
        if (request.KeyError is not null)
        {
            throw TraceException.BadParameter(request.KeyError);
        }

        if (request.TlsPublicKey is null && request.SshPublicKey is null)
        {
            throw TraceException.BadParameter("at least one of the public keys (TLS or SSH) is required");
        }

        var bot = _state.GetBot(token.BotName) ?? throw TraceException.AccessDenied("access denied: the token's bot does not exist");
        var botRole = _state.GetRole(bot.UserName) ?? RoleEvaluation.BotRole(bot);

        var now = _clock.GetUtcNow();
        var expires = CappedExpiry(request.Expires, botRole, now);

        // Single use: whoever removes the token first wins; a concurrent second join is refused.
        if (_state.ConsumeToken(request.Token) is null)
        {
            throw TraceException.AccessDenied($"\"{request.NodeName}\" can not join the cluster with role \"{request.Role}\", token expired or not found");
        }

        var instance = _state.CreateBotInstance(bot.Name, new BotAuthenticationInfo
        {
            AuthenticatedAt = now,
            Generation = 1,
            JoinMethod = token.JoinMethod,
            JoinToken = token.SafeName,
            PublicKeyFingerprint = (request.TlsPublicKey ?? request.SshPublicKey)?.Sha256Fingerprint,
        });

        var certificates = Issue(bot, botRole, request, expires, renewable: true, generation: 1, instance.InstanceId, TokenJoinAttributesJson, now);
        _state.Audit("bot.join", success: true, bot.UserName, $"Bot \"{bot.Name}\" (instance {instance.InstanceId}) has joined the cluster.",
            ("bot_name", bot.Name), ("bot_instance_id", instance.InstanceId), ("token_name", token.SafeName), ("method", "token"), ("api", request.Api));
        Log.BotJoined(_logger, bot.Name, instance.InstanceId, request.Api, expires);
        return certificates;
    }

    /// <summary><c>proto.AuthService/GenerateUserCerts</c> for an authenticated caller.</summary>
    /// <exception cref="TraceException">The request is refused.</exception>
    public UserCertificates GenerateUserCerts(CallerIdentity caller, GenerateUserCertsRequest request)
    {
        var identity = caller.Identity;
        if (identity.DisallowReissue)
        {
            throw TraceException.AccessDenied("access denied: identity is not allowed to reissue certificates");
        }

        if (!string.Equals(request.Username, caller.Username, StringComparison.Ordinal))
        {
            throw TraceException.AccessDenied("access denied: impersonation is not allowed");
        }

        var requestsRoles = request.UseRoleRequests || request.RoleRequests.Count > 0;
        if (identity.Impersonator is not null && requestsRoles)
        {
            throw TraceException.AccessDenied("access denied: impersonated roles can not request other roles");
        }

        var user = _state.GetUser(request.Username) ?? throw TraceException.AccessDenied("access denied");
        if (request.SshPublicKey is null && request.TlsPublicKey is null)
        {
            throw TraceException.BadParameter("at least one of SSHPublicKey or TLSPublicKey is required");
        }

        var now = _clock.GetUtcNow();
        if (request.Expires is not { } expires || expires < now)
        {
            throw TraceException.AccessDenied("access denied: client credentials have expired, please relogin.");
        }

        var sessionExpires = new DateTimeOffset(caller.Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (expires > sessionExpires)
        {
            expires = identity.IsRenewable ? Min(expires, now + RoleEvaluation.MaxRenewableCertTtl) : sessionExpires;
        }

        var route = string.IsNullOrEmpty(request.RouteToCluster) ? _clusterName : request.RouteToCluster;
        if (!string.Equals(route, _clusterName, StringComparison.Ordinal))
        {
            throw TraceException.NotFound($"cluster \"{route}\" is not found");
        }

        var usage = request.Usage switch
        {
            0 or 1 => Array.Empty<string>(),
            2 => ["usage:kube"],
            3 => ["usage:db"],
            4 => ["usage:apps"],
            5 => ["usage:windows_desktop"],
            _ => throw TraceException.BadParameter($"unsupported cert usage {request.Usage.ToString(CultureInfo.InvariantCulture)}"),
        };

        if (request.UseRoleRequests && request.RoleRequests.Count == 0)
        {
            throw TraceException.BadParameter("at least one role request is required");
        }

        var roleNames = request.RoleRequests.Count == 0
            ? identity.Roles.ToList()
            : request.RoleRequests.Distinct(StringComparer.Ordinal).ToList();
        var roles = _state.ResolveRoles(roleNames);
        if (request.RoleRequests.Count > 0)
        {
            var userRoles = _state.ResolveRoles(user.Roles);
            if (roleNames.Any(r => !RoleEvaluation.CanImpersonate(userRoles, r)))
            {
                var message = $"user \"{user.Name}\" has requested role impersonation for [{string.Join(' ', roleNames)}]";
                _state.Audit("user.login", success: false, user.Name, message, ("method", "client.cert"));
                throw TraceException.AccessDenied(message);
            }
        }

        string? impersonator = null;
        var disallowReissue = false;
        if (requestsRoles)
        {
            impersonator = user.Name;
            disallowReissue = !request.ReissuableRoleImpersonation;
        }
        else if (identity.Impersonator is not null)
        {
            impersonator = identity.Impersonator;
        }

        var renewable = identity.IsRenewable && !requestsRoles && !disallowReissue;
        expires = Min(expires, now + RoleEvaluation.MaxSessionTtl(roles));

        var generation = 0;
        if (renewable)
        {
            generation = CheckAndAdvanceGeneration(caller, user, now, request.TlsPublicKey ?? request.SshPublicKey);
        }

        var certificateRequest = new UserCertificateRequest
        {
            Username = user.Name,
            Roles = roleNames,
            Principals = RoleEvaluation.Principals(roles),
            Expires = expires,
            SshPublicKey = request.SshPublicKey,
            TlsPublicKey = request.TlsPublicKey,
            Renewable = renewable,
            Generation = generation,
            BotName = identity.BotName,
            BotInstanceId = identity.BotInstanceId,
            Impersonator = impersonator,
            DisallowReissue = disallowReissue,
            RouteToCluster = route,
            LoginIp = request.RemoteAddress,
            JoinAttributesJson = identity.JoinAttributesJson,
            PermitAgentForwarding = RoleEvaluation.PermitAgentForwarding(roles),
            PermitPortForwarding = RoleEvaluation.PermitPortForwarding(roles),
            PermitX11Forwarding = RoleEvaluation.PermitX11Forwarding(roles),
            StandardFormat = request.Format switch
            {
                "standard" => true,
                "oldssh" => false,
                _ => RoleEvaluation.StandardFormat(roles),
            },
            Usage = usage,
            IncludeHostCa = renewable,
        };
        var certificates = _issuer.IssueUser(certificateRequest, now);
        var kind = renewable ? IssuedCertificateKind.BotRenewal : requestsRoles ? IssuedCertificateKind.RoleImpersonation : IssuedCertificateKind.Reissue;
        Record(kind, certificateRequest, certificates, now, request.Expires);
        Log.UserCertsIssued(_logger, kind, user.Name, expires);
        return certificates;
    }

    /// <summary>Denies callers targeted by a lock in force.</summary>
    /// <exception cref="TraceException">A lock targets the caller (AccessDenied).</exception>
    public void EnsureNotLocked(CallerIdentity caller) => EnsureNotLocked(caller.Username, caller.Identity.BotInstanceId);

    /// <exception cref="TraceException">A lock targets the user, instance or join token (AccessDenied).</exception>
    public void EnsureNotLocked(string? user, string? botInstanceId, string? joinToken = null)
    {
        var found = _state.FindLock(user, botInstanceId, joinToken);
        if (found is not null)
        {
            throw TraceException.AccessDenied(string.IsNullOrEmpty(found.Message)
                ? $"lock targeting {found} is in force"
                : found.Message);
        }
    }

    private int CheckAndAdvanceGeneration(CallerIdentity caller, UserRecord user, DateTimeOffset now, PublicKeyInfo? key)
    {
        var presented = caller.Identity.Generation;
        var instanceId = caller.Identity.BotInstanceId;
        if (string.IsNullOrEmpty(instanceId))
        {
            throw TraceException.AccessDenied("access denied: renewable certificate has no bot instance");
        }

        var outcome = _state.WithBotInstance(instanceId, instance =>
        {
            if (instance is null)
            {
                return (Ok: false, Stored: 0, Next: 0, Missing: true);
            }

            if (presented == 0 || presented != instance.Generation)
            {
                return (Ok: false, Stored: instance.Generation, Next: 0, Missing: false);
            }

            instance.Generation = presented + 1;
            instance.Authentications.Add(new BotAuthenticationInfo
            {
                AuthenticatedAt = now,
                Generation = instance.Generation,
                JoinMethod = instance.Authentications.Count > 0 ? instance.Authentications[0].JoinMethod : "token",
                PublicKeyFingerprint = key?.Sha256Fingerprint,
            });
            return (Ok: true, Stored: presented, Next: instance.Generation, Missing: false);
        });

        if (outcome.Missing)
        {
            throw TraceException.AccessDenied($"access denied: bot instance {instanceId} not found");
        }

        if (!outcome.Ok)
        {
            var message = $"renewable cert generation mismatch: stored={outcome.Stored.ToString(CultureInfo.InvariantCulture)}, presented={presented.ToString(CultureInfo.InvariantCulture)}";
            var lockMessage = $"The bot user \"{user.Name}\" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate.";
            _state.AddLock(new EmulatorLock { Name = "bot-generation-mismatch-" + Guid.NewGuid().ToString("N")[..8], User = user.Name, Message = lockMessage });
            _state.Audit("cert.generation_mismatch", success: false, user.Name, message,
                ("bot_name", caller.Identity.BotName), ("bot_instance_id", instanceId),
                ("stored_generation", outcome.Stored.ToString(CultureInfo.InvariantCulture)),
                ("presented_generation", presented.ToString(CultureInfo.InvariantCulture)));
            _state.Audit("lock.created", success: true, user.Name, lockMessage, ("target_user", user.Name));
            Log.GenerationMismatch(_logger, user.Name, outcome.Stored, presented);
            throw TraceException.AccessDenied(message);
        }

        return outcome.Next;
    }

    /// <summary>Expiry = requested (default 1 h), capped at 7 days, then at the bot role's <c>max_session_ttl</c>.</summary>
    private static DateTimeOffset CappedExpiry(DateTimeOffset? requested, EmulatorRole botRole, DateTimeOffset now)
    {
        var expires = requested ?? now + RoleEvaluation.DefaultRenewableCertTtl;
        expires = Min(expires, now + RoleEvaluation.MaxRenewableCertTtl);
        expires = Min(expires, now + RoleEvaluation.MaxSessionTtl([botRole]));
        return expires > now ? expires : throw TraceException.BadParameter("the requested expiry is in the past");
    }

    private UserCertificates Issue(
        EmulatorBot bot, EmulatorRole botRole, BotJoinRequest request, DateTimeOffset expires, bool renewable, int generation,
        string botInstanceId, string joinAttributesJson, DateTimeOffset now)
    {
        var roles = new[] { botRole };
        var certificateRequest = new UserCertificateRequest
        {
            Username = bot.UserName,
            Roles = [bot.UserName],
            Principals = RoleEvaluation.Principals(roles),
            Expires = expires,
            SshPublicKey = request.SshPublicKey,
            TlsPublicKey = request.TlsPublicKey,
            Renewable = renewable,
            Generation = generation,
            BotName = bot.Name,
            BotInstanceId = botInstanceId,
            RouteToCluster = _clusterName,
            LoginIp = request.RemoteAddress,
            JoinAttributesJson = joinAttributesJson,
            PermitAgentForwarding = RoleEvaluation.PermitAgentForwarding(roles),
            PermitPortForwarding = RoleEvaluation.PermitPortForwarding(roles),
            PermitX11Forwarding = RoleEvaluation.PermitX11Forwarding(roles),
            StandardFormat = RoleEvaluation.StandardFormat(roles),
            IncludeHostCa = true,
        };
        var certificates = _issuer.IssueUser(certificateRequest, now);
        Record(renewable ? IssuedCertificateKind.BotJoin : IssuedCertificateKind.BotRejoin, certificateRequest, certificates, now, request.Expires);
        return certificates;
    }

    /// <summary>The join attributes Teleport embeds in bot certificates: the method and what it proved.</summary>
    private static string JoinAttributesJson(string method, IReadOnlyDictionary<string, string> attributes)
    {
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("meta");
            writer.WriteString("join_method", method);
            writer.WriteEndObject();
            writer.WriteStartObject(method);
            foreach (var (key, value) in attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private void Record(IssuedCertificateKind kind, UserCertificateRequest request, UserCertificates certificates, DateTimeOffset now, DateTimeOffset? requested) =>
        _state.RecordIssued(new IssuedCertificate
        {
            Kind = kind,
            Username = request.Username,
            Roles = request.Roles,
            Principals = certificates.Ssh?.Principals ?? [],
            IssuedAt = now,
            RequestedExpires = requested,
            Expires = request.Expires,
            TlsSerialNumber = certificates.Tls?.SerialNumber,
            HasSshCertificate = certificates.Ssh is not null,
            Generation = request.Generation,
            BotName = request.BotName,
            BotInstanceId = request.BotInstanceId,
            Impersonator = request.Impersonator,
            Renewable = request.Renewable,
            DisallowReissue = request.DisallowReissue,
        });

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(EventId = 9100, EventName = "EmulatorBotJoined", Level = LogLevel.Information,
            Message = "Bot {BotName} joined as instance {InstanceId} through {Api}; identity expires {Expires:o}")]
        public static partial void BotJoined(ILogger logger, string botName, string instanceId, string api, DateTimeOffset expires);

        [LoggerMessage(EventId = 9101, EventName = "EmulatorJoinRefused", Level = LogLevel.Information,
            Message = "Join through {Api} refused: {Reason}")]
        public static partial void JoinRefused(ILogger logger, string api, string reason);

        [LoggerMessage(EventId = 9102, EventName = "EmulatorUserCertsIssued", Level = LogLevel.Debug,
            Message = "Issued {Kind} certificates for {User}, expiring {Expires:o}")]
        public static partial void UserCertsIssued(ILogger logger, IssuedCertificateKind kind, string user, DateTimeOffset expires);

        [LoggerMessage(EventId = 9103, EventName = "EmulatorGenerationMismatch", Level = LogLevel.Warning,
            Message = "Generation mismatch for {User} (stored {Stored}, presented {Presented}); the bot is locked")]
        public static partial void GenerationMismatch(ILogger logger, string user, int stored, int presented);
    }
}
