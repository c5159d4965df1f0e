using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster.Joins;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>A Teleport user (the emulator has only bot users).</summary>
internal sealed record UserRecord(string Name, IReadOnlyList<string> Roles, string? BotName);

/// <summary>A bot instance's mutable history; guarded by the <see cref="ClusterState"/> lock.</summary>
internal sealed class BotInstanceState
{
    public BotInstanceState(string botName, string instanceId, string? previousInstanceId = null)
    {
        BotName = botName;
        InstanceId = instanceId;
        PreviousInstanceId = previousInstanceId;
    }

    public string BotName { get; }

    public string InstanceId { get; }

    public string? PreviousInstanceId { get; }

    public int Generation { get; set; }

    public List<BotAuthenticationInfo> Authentications { get; } = [];

    public List<BotHeartbeatInfo> Heartbeats { get; } = [];

    public BotInstanceInfo Snapshot() => new()
    {
        BotName = BotName,
        InstanceId = InstanceId,
        Generation = Generation,
        PreviousInstanceId = PreviousInstanceId,
        Authentications = Authentications.ToArray(),
        Heartbeats = Heartbeats.ToArray(),
    };
}

/// <summary>
/// The cluster's resources and records (roles, users, bots, tokens, bot instances, locks, nodes,
/// TCP targets, issued certificates, audit events). Every member is thread-safe: one lock guards
/// everything, and callers get immutable snapshots.
/// </summary>
internal sealed class ClusterState
{
    private readonly object _gate = new();
    private readonly Dictionary<string, EmulatorRole> _roles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UserRecord> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EmulatorBot> _bots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EmulatorJoinToken> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BoundKeypairStatusState> _boundKeypairStatus = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BotInstanceState> _instances = new(StringComparer.Ordinal);
    private readonly List<EmulatorLock> _locks = [];
    private readonly Dictionary<string, EmulatorNode> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EmulatorTcpTarget> _tcpTargets = new(StringComparer.Ordinal);
    private readonly List<IssuedCertificate> _issued = [];
    private readonly List<EmulatorAuditEvent> _audit = [];
    private readonly TimeProvider _clock;

    public ClusterState(TimeProvider clock) => _clock = clock;

    // ---- roles and users ----

    public void UpsertRole(EmulatorRole role)
    {
        lock (_gate)
        {
            _roles[role.Name] = role;
        }
    }

    public EmulatorRole? GetRole(string name)
    {
        lock (_gate)
        {
            return _roles.GetValueOrDefault(name);
        }
    }

    public IReadOnlyList<EmulatorRole> Roles()
    {
        lock (_gate)
        {
            return _roles.Values.ToArray();
        }
    }

    /// <summary>The roles with these names; unknown names are an error, as <c>FetchRoleList</c> fails in Teleport.</summary>
    /// <exception cref="TraceException">A role does not exist (NotFound).</exception>
    public List<EmulatorRole> ResolveRoles(IEnumerable<string> names)
    {
        lock (_gate)
        {
            var result = new List<EmulatorRole>();
            foreach (var name in names)
            {
                if (!_roles.TryGetValue(name, out var role))
                {
                    throw TraceException.NotFound($"role {name} is not found");
                }

                result.Add(role);
            }

            return result;
        }
    }

    public UserRecord? GetUser(string name)
    {
        lock (_gate)
        {
            return _users.GetValueOrDefault(name);
        }
    }

    // ---- bots ----

    /// <exception cref="TraceException">The bot, its user or its role already exists (AlreadyExists).</exception>
    public void AddBot(EmulatorBot bot)
    {
        lock (_gate)
        {
            var resourceName = bot.UserName;
            if (_bots.ContainsKey(bot.Name))
            {
                throw TraceException.AlreadyExists($"bot \"{bot.Name}\" already exists");
            }

            if (_roles.ContainsKey(resourceName))
            {
                throw TraceException.AlreadyExists($"cannot add bot: role \"{resourceName}\" already exists");
            }

            if (_users.ContainsKey(resourceName))
            {
                throw TraceException.AlreadyExists($"cannot add bot: user \"{resourceName}\" already exists");
            }

            _bots[bot.Name] = bot;
            _roles[resourceName] = RoleEvaluation.BotRole(bot);
            _users[resourceName] = new UserRecord(resourceName, [resourceName], bot.Name);
        }
    }

    public EmulatorBot? GetBot(string name)
    {
        lock (_gate)
        {
            return _bots.GetValueOrDefault(name);
        }
    }

    /// <summary><c>tctl bots update --add-roles</c>: adds impersonable roles to the bot and its role.</summary>
    /// <exception cref="TraceException">The bot does not exist (NotFound).</exception>
    public EmulatorBot AddBotRoles(string botName, IEnumerable<string> roles)
    {
        lock (_gate)
        {
            if (!_bots.TryGetValue(botName, out var bot))
            {
                throw TraceException.NotFound($"bot \"{botName}\" not found");
            }

            var merged = bot.Roles.Concat(roles).Distinct(StringComparer.Ordinal).ToArray();
            var updated = new EmulatorBot { Name = bot.Name, Roles = merged, MaxSessionTtl = bot.MaxSessionTtl };
            _bots[botName] = updated;
            var existing = _roles.GetValueOrDefault(bot.UserName) ?? RoleEvaluation.BotRole(updated);
            _roles[bot.UserName] = new EmulatorRole
            {
                Name = existing.Name,
                Description = existing.Description,
                Labels = existing.Labels,
                Logins = existing.Logins,
                NodeLabels = existing.NodeLabels,
                MaxSessionTtl = existing.MaxSessionTtl,
                ImpersonateRoles = existing.ImpersonateRoles.Concat(roles).Distinct(StringComparer.Ordinal).ToArray(),
                Rules = existing.Rules,
                ForwardAgent = existing.ForwardAgent,
                PortForwarding = existing.PortForwarding,
                PermitX11Forwarding = existing.PermitX11Forwarding,
                CertificateFormat = existing.CertificateFormat,
            };
            return updated;
        }
    }

    // ---- join tokens ----

    /// <exception cref="TraceException">A token with that name exists (AlreadyExists), the bot does not (NotFound), or the spec is invalid (BadParameter).</exception>
    public void AddToken(EmulatorJoinToken token)
    {
        JoinTokenRules.Validate(token);
        lock (_gate)
        {
            if (!_bots.ContainsKey(token.BotName))
            {
                throw TraceException.NotFound($"bot \"{token.BotName}\" not found");
            }

            if (!_tokens.TryAdd(token.Name, token))
            {
                throw TraceException.AlreadyExists($"token {token.SafeName} already exists");
            }

            if (token.JoinMethod == EmulatorJoinMethods.BoundKeypair)
            {
                _boundKeypairStatus[token.Name] = BoundKeypairStatusState.Create(token.BoundKeypair!);
            }
        }
    }

    /// <summary>Replaces a token's spec (<c>tctl edit</c>), keeping its status (bound key, recovery count).</summary>
    /// <exception cref="TraceException">No such token (NotFound), another bot or method (BadParameter), or an invalid spec.</exception>
    public void UpdateToken(EmulatorJoinToken token)
    {
        JoinTokenRules.Validate(token);
        lock (_gate)
        {
            var existing = FindValidTokenLocked(token.Name) ?? throw TraceException.NotFound($"token {token.SafeName} not found");
            if (existing.JoinMethod != token.JoinMethod || existing.BotName != token.BotName)
            {
                throw TraceException.BadParameter("the join method and bot of a token cannot change; create a new token");
            }

            _tokens[token.Name] = token;
            if (token.JoinMethod == EmulatorJoinMethods.BoundKeypair && _boundKeypairStatus.TryGetValue(token.Name, out var status))
            {
                status.PopulateRegistrationSecret(token.BoundKeypair!);
            }
        }
    }

    /// <summary>A bound keypair token's status, or null.</summary>
    public EmulatorBoundKeypairStatus? BoundKeypairStatus(string tokenName)
    {
        lock (_gate)
        {
            return _boundKeypairStatus.TryGetValue(tokenName, out var status) ? status.Snapshot() : null;
        }
    }

    /// <summary>
    /// Applies <paramref name="mutate"/> to a bound keypair token's current spec and status under the
    /// state lock (Teleport's <c>PatchToken</c> with status mutators: each may refuse when the state
    /// moved on since it was read).
    /// </summary>
    /// <exception cref="TraceException">The token is gone, or a mutator refused.</exception>
    public EmulatorBoundKeypairStatus PatchBoundKeypairStatus(string tokenName, Action<EmulatorBoundKeypairJoinSpec, BoundKeypairStatusState> mutate)
    {
        lock (_gate)
        {
            var token = FindValidTokenLocked(tokenName);
            if (token?.BoundKeypair is null || !_boundKeypairStatus.TryGetValue(tokenName, out var status))
            {
                throw TraceException.NotFound($"token {tokenName} not found");
            }

            var draft = status.Clone();
            mutate(token.BoundKeypair, draft);
            _boundKeypairStatus[tokenName] = draft;
            return draft.Snapshot();
        }
    }

    /// <summary>Finds a valid token; an expired token is deleted and reported as missing, as Teleport's <c>ValidateToken</c> does.</summary>
    public EmulatorJoinToken? FindValidToken(string name)
    {
        lock (_gate)
        {
            return FindValidTokenLocked(name);
        }
    }

    /// <summary>Atomically validates and deletes a single-use token.</summary>
    public EmulatorJoinToken? ConsumeToken(string name)
    {
        lock (_gate)
        {
            var token = FindValidTokenLocked(name);
            if (token is not null)
            {
                RemoveTokenLocked(name);
            }

            return token;
        }
    }

    public bool TokenExists(string name)
    {
        lock (_gate)
        {
            return FindValidTokenLocked(name) is not null;
        }
    }

    public int CountTokens(string? botName)
    {
        lock (_gate)
        {
            var now = _clock.GetUtcNow();
            return _tokens.Values.Count(t => (botName is null || t.BotName == botName) && !(t.Expires is { } e && e <= now));
        }
    }

    private EmulatorJoinToken? FindValidTokenLocked(string name)
    {
        if (!_tokens.TryGetValue(name, out var token))
        {
            return null;
        }

        if (token.Expires is { } expires && expires <= _clock.GetUtcNow())
        {
            RemoveTokenLocked(name);
            return null;
        }

        return token;
    }

    private void RemoveTokenLocked(string name)
    {
        _tokens.Remove(name);
        _boundKeypairStatus.Remove(name);
    }

    // ---- bot instances ----

    public BotInstanceState CreateBotInstance(string botName, BotAuthenticationInfo initial, string? previousInstanceId = null)
    {
        lock (_gate)
        {
            var instance = new BotInstanceState(botName, Guid.NewGuid().ToString("D"), previousInstanceId) { Generation = initial.Generation };
            instance.Authentications.Add(initial);
            _instances[instance.InstanceId] = instance;
            return instance;
        }
    }

    /// <summary>Runs <paramref name="action"/> on the instance under the state lock (generation checks must be atomic).</summary>
    public T WithBotInstance<T>(string instanceId, Func<BotInstanceState?, T> action)
    {
        lock (_gate)
        {
            return action(_instances.GetValueOrDefault(instanceId));
        }
    }

    public IReadOnlyList<BotInstanceInfo> BotInstances()
    {
        lock (_gate)
        {
            return _instances.Values.Select(i => i.Snapshot()).ToArray();
        }
    }

    // ---- locks ----

    public EmulatorLock AddLock(EmulatorLock candidate)
    {
        if (string.IsNullOrEmpty(candidate.User) && string.IsNullOrEmpty(candidate.BotInstanceId) && string.IsNullOrEmpty(candidate.JoinToken))
        {
            throw TraceException.BadParameter("a lock needs a target: user, bot_instance_id or join_token");
        }

        var created = new EmulatorLock
        {
            Name = string.IsNullOrEmpty(candidate.Name) ? Guid.NewGuid().ToString("D") : candidate.Name,
            User = string.IsNullOrEmpty(candidate.User) ? null : candidate.User,
            BotInstanceId = string.IsNullOrEmpty(candidate.BotInstanceId) ? null : candidate.BotInstanceId,
            JoinToken = string.IsNullOrEmpty(candidate.JoinToken) ? null : candidate.JoinToken,
            Message = candidate.Message,
            Expires = candidate.Expires,
            CreatedAt = _clock.GetUtcNow(),
        };
        lock (_gate)
        {
            _locks.RemoveAll(l => l.Name == created.Name);
            _locks.Add(created);
        }

        return created;
    }

    public bool RemoveLock(string name)
    {
        lock (_gate)
        {
            return _locks.RemoveAll(l => l.Name == name) > 0;
        }
    }

    public IReadOnlyList<EmulatorLock> Locks()
    {
        lock (_gate)
        {
            var now = _clock.GetUtcNow();
            return _locks.Where(l => !(l.Expires is { } e && e <= now)).ToArray();
        }
    }

    /// <summary>The lock in force for this user, bot instance or join token, if any.</summary>
    public EmulatorLock? FindLock(string? user, string? botInstanceId, string? joinToken = null)
    {
        lock (_gate)
        {
            var now = _clock.GetUtcNow();
            foreach (var candidate in _locks)
            {
                if (candidate.Expires is { } e && e <= now)
                {
                    continue;
                }

                if ((candidate.User is not null && candidate.User == user)
                    || (candidate.BotInstanceId is not null && candidate.BotInstanceId == botInstanceId)
                    || (candidate.JoinToken is not null && candidate.JoinToken == joinToken))
                {
                    return candidate;
                }
            }

            return null;
        }
    }

    // ---- nodes and targets ----

    public void UpsertNode(EmulatorNode node)
    {
        lock (_gate)
        {
            _nodes[node.Name] = node;
        }
    }

    public void UpsertTcpTarget(EmulatorTcpTarget target)
    {
        lock (_gate)
        {
            _tcpTargets[target.Name] = target;
        }
    }

    public bool RemoveNode(string name)
    {
        lock (_gate)
        {
            return _nodes.Remove(name) | _tcpTargets.Remove(name);
        }
    }

    /// <summary>Resolves a dial target by name, then by exact address: (address, labels, is node).</summary>
    public (string Address, IReadOnlyDictionary<string, string> Labels, string Name)? ResolveTarget(string host, string hostPort)
    {
        lock (_gate)
        {
            if (_nodes.TryGetValue(host, out var node))
            {
                return (node.Address, node.Labels, node.Name);
            }

            if (_tcpTargets.TryGetValue(host, out var target))
            {
                return (target.Address, target.Labels, target.Name);
            }

            var byAddress = _nodes.Values.FirstOrDefault(n => n.Address == hostPort);
            if (byAddress is not null)
            {
                return (byAddress.Address, byAddress.Labels, byAddress.Name);
            }

            var targetByAddress = _tcpTargets.Values.FirstOrDefault(t => t.Address == hostPort);
            return targetByAddress is null ? null : (targetByAddress.Address, targetByAddress.Labels, targetByAddress.Name);
        }
    }

    public IReadOnlyList<EmulatorNode> Nodes()
    {
        lock (_gate)
        {
            return _nodes.Values.ToArray();
        }
    }

    // ---- records ----

    public void RecordIssued(IssuedCertificate certificate)
    {
        lock (_gate)
        {
            _issued.Add(certificate);
        }
    }

    public IReadOnlyList<IssuedCertificate> Issued()
    {
        lock (_gate)
        {
            return _issued.ToArray();
        }
    }

    public void Audit(string type, bool success, string? user, string message, params (string Key, string? Value)[] fields)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            if (value is not null)
            {
                map[key] = value;
            }
        }

        var entry = new EmulatorAuditEvent
        {
            Type = type,
            Time = _clock.GetUtcNow(),
            Success = success,
            User = user,
            Message = message,
            Fields = map,
        };
        lock (_gate)
        {
            _audit.Add(entry);
        }
    }

    public IReadOnlyList<EmulatorAuditEvent> AuditEvents()
    {
        lock (_gate)
        {
            return _audit.ToArray();
        }
    }
}
