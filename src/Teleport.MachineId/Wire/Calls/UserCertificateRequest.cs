using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Wire.Calls;

/// <summary>
/// A request to <c>proto.AuthService/GenerateUserCerts</c>, limited to the fields tbot sets:
/// 2 Username, 3 Expires, 5 RouteToCluster, 12 RoleRequests, 14 UseRoleRequests, 22 SSHPublicKey,
/// 23 TLSPublicKey, 27 ReissuableRoleImpersonation. Leave out a public key to get only the other certificate.
/// </summary>
internal sealed record UserCertificateRequest
{
    /// <summary>The user to issue for: the bot user of the calling identity (<c>bot-&lt;name&gt;</c>).</summary>
    public required string Username { get; init; }

    /// <summary>Requested expiry (the server may shorten it).</summary>
    public required DateTimeOffset Expires { get; init; }

    /// <summary>Cluster to route to (the bot's own or a leaf); <see langword="null"/> for the local cluster.</summary>
    public string? RouteToCluster { get; init; }

    /// <summary>Roles to impersonate.</summary>
    public IReadOnlyList<string> RoleRequests { get; init; } = [];

    /// <summary>Whether this is an impersonation request (true for outputs, even with an empty role list).</summary>
    public bool UseRoleRequests { get; init; }

    /// <summary>Whether the impersonated certificates may be reissued (output <c>allow_reissue</c>).</summary>
    public bool ReissuableRoleImpersonation { get; init; }

    /// <summary>Public key for the SSH certificate, or <see langword="null"/> for none.</summary>
    public PublicKeyInfo? SshPublicKey { get; init; }

    /// <summary>Public key for the TLS certificate, or <see langword="null"/> for none.</summary>
    public PublicKeyInfo? TlsPublicKey { get; init; }

    /// <summary>
    /// A bot identity renewal as tbot does it: the same user, a new key for both certificates,
    /// nothing else (the server keeps the identity renewable and increments its generation).
    /// </summary>
    /// <param name="username">The bot user (<c>bot-&lt;name&gt;</c>, the current certificate's CN).</param>
    /// <param name="newKey">The public half of the freshly generated key.</param>
    /// <param name="expires">Requested expiry.</param>
    /// <returns>The request.</returns>
    public static UserCertificateRequest ForBotRenewal(string username, PublicKeyInfo newKey, DateTimeOffset expires) => new()
    {
        Username = username,
        Expires = expires,
        SshPublicKey = newKey,
        TlsPublicKey = newKey,
    };

    /// <summary>An impersonated identity for an output, as tbot's identity service requests it.</summary>
    /// <param name="username">The bot user.</param>
    /// <param name="key">The public half of the output's key.</param>
    /// <param name="expires">Requested expiry.</param>
    /// <param name="roles">Roles to impersonate (all the bot may impersonate when the output names none).</param>
    /// <param name="routeToCluster">The cluster to route to (the bot's cluster or a leaf).</param>
    /// <param name="reissuable">Output <c>allow_reissue</c>.</param>
    /// <returns>The request.</returns>
    public static UserCertificateRequest ForImpersonation(
        string username, PublicKeyInfo key, DateTimeOffset expires, IReadOnlyList<string> roles, string routeToCluster, bool reissuable = false) => new()
    {
        Username = username,
        Expires = expires,
        RouteToCluster = routeToCluster,
        RoleRequests = roles,
        UseRoleRequests = true,
        ReissuableRoleImpersonation = reissuable,
        SshPublicKey = key,
        TlsPublicKey = key,
    };
}
