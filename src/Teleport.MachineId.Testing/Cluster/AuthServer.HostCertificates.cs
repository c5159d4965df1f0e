using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>What <c>TrustService.GenerateHostCert</c> asks for.</summary>
internal sealed record HostCertificateRequest(
    string PublicKey, string HostId, string NodeName, IReadOnlyList<string> Principals, string ClusterName, string Role, TimeSpan Ttl);

internal sealed partial class AuthServer
{
    /// <summary>
    /// Teleport's <c>GenerateHostCert</c>: the caller's roles need a rule allowing <c>create</c> on
    /// <c>host_cert</c> whose <c>where</c> (if any) accepts the request's fields; the role must be a system
    /// role; the host CA of <c>cluster_name</c> signs. Principals: with a host id, <c>&lt;id&gt;.&lt;cluster&gt;</c>,
    /// <c>&lt;id&gt;</c>, the node name (both forms) and the loopback names, then the requested ones; without one,
    /// exactly the requested ones. A zero TTL never expires.
    /// </summary>
    /// <exception cref="TraceException">Access denied, a bad parameter, or an unknown cluster.</exception>
    public SshCertificate GenerateHostCert(CallerIdentity caller, HostCertificateRequest request)
    {
        var roles = _state.ResolveRoles(caller.Roles.Where(r => _state.GetRole(r) is not null));
        var context = new RulePredicate.HostCertRuleContext(request.HostId, request.NodeName, request.Principals, request.ClusterName, request.Role);
        if (!RoleEvaluation.Allows(roles, "host_cert", "create", context))
        {
            _state.Audit("cert.create", success: false, caller.Username, "host certificate refused: no rule allows create on host_cert",
                ("principals", string.Join(",", request.Principals)));
            throw TraceException.AccessDenied("access denied to perform action \"create\" on \"host_cert\"");
        }

        if (!KnownSystemRoles.Contains(request.Role, StringComparer.Ordinal))
        {
            throw TraceException.BadParameter($"role {request.Role} is not registered");
        }

        if (request.Ttl < TimeSpan.Zero)
        {
            throw TraceException.BadParameter("ttl must not be negative");
        }

        PublicKeyInfo key;
        try
        {
            key = PublicKeyInfo.ParseAuthorizedKey(request.PublicKey.Trim());
        }
        catch (TeleportFormatException ex)
        {
            throw TraceException.BadParameter("failed to parse the SSH public key: " + ex.Message);
        }

        if (!string.Equals(request.ClusterName, _clusterName, StringComparison.Ordinal))
        {
            throw TraceException.NotFound($"cert authority host {request.ClusterName} is not found");
        }

        var principals = new List<string>();
        if (request.HostId.Length > 0)
        {
            principals.Add(request.HostId + "." + request.ClusterName);
            principals.Add(request.HostId);
            if (request.NodeName.Length > 0)
            {
                principals.Add(request.NodeName + "." + request.ClusterName);
                principals.Add(request.NodeName);
            }

            principals.AddRange(["localhost", "127.0.0.1", "::1"]);
        }

        principals.AddRange(request.Principals);
        principals = [.. principals.Where(p => p.Length > 0).Distinct(StringComparer.Ordinal)];
        if (principals.Count == 0)
        {
            throw TraceException.BadParameter("at least one principal is required");
        }

        var now = _clock.GetUtcNow();
        var certificate = _issuer.IssueHost(key, principals, now, request.Ttl, request.Role,
            keyId: request.HostId.Length > 0 ? request.HostId + "." + request.ClusterName : principals[0]);
        _state.RecordIssued(new IssuedCertificate
        {
            Kind = IssuedCertificateKind.HostCertificate,
            Username = caller.Username,
            Roles = [.. caller.Roles],
            Principals = principals,
            IssuedAt = now,
            Expires = certificate.ValidBefore,
            HasSshCertificate = true,
        });
        _state.Audit("cert.create", success: true, caller.Username, $"host certificate for [{string.Join(", ", principals)}]",
            ("principals", string.Join(",", principals)));
        return certificate;
    }
}
