namespace Teleport.MachineId.Testing.Cluster;

/// <summary>Teleport's role-set rules the emulator needs: logins, TTL caps, impersonation, node access, resource rules.</summary>
internal static class RoleEvaluation
{
    /// <summary>A role without <c>max_session_ttl</c> allows 30 hours (Teleport's <c>MaxCertDuration</c>).</summary>
    public static readonly TimeSpan DefaultMaxSessionTtl = TimeSpan.FromHours(30);

    /// <summary>A bot role's default <c>max_session_ttl</c>.</summary>
    public static readonly TimeSpan DefaultBotMaxSessionTtl = TeleportDefaults.BotMaxSessionTtl;

    /// <summary>Longest renewable certificate (v18: 7 days).</summary>
    public static readonly TimeSpan MaxRenewableCertTtl = TeleportDefaults.MaxRenewableCertTtl;

    /// <summary>Default expiry of a bot join when the client asks for none.</summary>
    public static readonly TimeSpan DefaultRenewableCertTtl = TimeSpan.FromHours(1);

    /// <summary>The principal every user certificate carries for joining sessions.</summary>
    public const string SessionJoinPrincipal = "-teleport-internal-join";

    /// <summary>Distinct literal logins of the roles; template logins (<c>{{…}}</c>) have no value for bots and are dropped.</summary>
    public static List<string> Logins(IEnumerable<EmulatorRole> roles)
    {
        var logins = new List<string>();
        foreach (var role in roles)
        {
            foreach (var login in role.Logins)
            {
                if (!string.IsNullOrEmpty(login) && !login.Contains("{{", StringComparison.Ordinal) && !logins.Contains(login, StringComparer.Ordinal))
                {
                    logins.Add(login);
                }
            }
        }

        return logins;
    }

    /// <summary>SSH principals: the logins or a no-login placeholder, then the session-join principal.</summary>
    public static List<string> Principals(IEnumerable<EmulatorRole> roles)
    {
        var principals = Logins(roles);
        if (principals.Count == 0)
        {
            principals.Add("-teleport-nologin-" + Guid.NewGuid().ToString("D"));
        }

        principals.Add(SessionJoinPrincipal);
        return principals;
    }

    /// <summary>The smallest <c>max_session_ttl</c> of the roles.</summary>
    public static TimeSpan MaxSessionTtl(IEnumerable<EmulatorRole> roles)
    {
        var result = TimeSpan.MaxValue;
        foreach (var role in roles)
        {
            var ttl = role.MaxSessionTtl is { } value && value > TimeSpan.Zero ? value : DefaultMaxSessionTtl;
            if (ttl < result)
            {
                result = ttl;
            }
        }

        return result == TimeSpan.MaxValue ? DefaultMaxSessionTtl : result;
    }

    public static bool CanImpersonate(IEnumerable<EmulatorRole> callerRoles, string role) =>
        callerRoles.Any(r => r.ImpersonateRoles.Contains(role, StringComparer.Ordinal) || r.ImpersonateRoles.Contains("*", StringComparer.Ordinal));

    public static bool PermitPortForwarding(IReadOnlyCollection<EmulatorRole> roles) => roles.All(r => r.PortForwarding);

    public static bool PermitAgentForwarding(IEnumerable<EmulatorRole> roles) => roles.Any(r => r.ForwardAgent);

    public static bool PermitX11Forwarding(IEnumerable<EmulatorRole> roles) => roles.Any(r => r.PermitX11Forwarding);

    public static bool StandardFormat(IEnumerable<EmulatorRole> roles) =>
        !roles.Any(r => string.Equals(r.CertificateFormat, "oldssh", StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether any role's <c>node_labels</c> selects a resource with these labels.</summary>
    public static bool MatchesNode(IEnumerable<EmulatorRole> roles, IReadOnlyDictionary<string, string> labels)
    {
        foreach (var role in roles)
        {
            if (role.NodeLabels.Count == 0)
            {
                continue;
            }

            var all = true;
            foreach (var (key, values) in role.NodeLabels)
            {
                if (key == "*" && values.Contains("*", StringComparer.Ordinal))
                {
                    continue;
                }

                if (!labels.TryGetValue(key, out var value)
                    || !(values.Contains("*", StringComparer.Ordinal) || values.Contains(value, StringComparer.Ordinal)))
                {
                    all = false;
                    break;
                }
            }

            if (all)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a rule of the roles allows <paramref name="verb"/> on <paramref name="resource"/>. A rule
    /// with a <c>where</c> condition matches only when <paramref name="hostCert"/> is given and satisfies it.
    /// </summary>
    public static bool Allows(IEnumerable<EmulatorRole> roles, string resource, string verb, RulePredicate.HostCertRuleContext? hostCert = null) =>
        roles.Any(role => role.Rules.Any(rule =>
            (rule.Resources.Contains(resource, StringComparer.Ordinal) || rule.Resources.Contains("*", StringComparer.Ordinal))
            && (rule.Verbs.Contains(verb, StringComparer.Ordinal) || rule.Verbs.Contains("*", StringComparer.Ordinal))
            && (rule.Predicate is null || (hostCert is not null && rule.Predicate.Evaluate(hostCert)))));

    /// <summary>The role <c>tctl bots add</c> generates for a bot.</summary>
    public static EmulatorRole BotRole(EmulatorBot bot) => new()
    {
        Name = bot.UserName,
        Description = "Automatically generated role for bot " + bot.Name,
        Labels = new Dictionary<string, string> { ["teleport.internal/bot"] = bot.Name },
        MaxSessionTtl = bot.MaxSessionTtl ?? DefaultBotMaxSessionTtl,
        ImpersonateRoles = bot.Roles.ToArray(),
        Rules = [new EmulatorRoleRule { Resources = ["cert_authority"], Verbs = ["readnosecrets"] }],
    };
}
