using System.Globalization;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// Issues impersonated identities with a <see cref="LocalCertificateAuthority"/>, shaped like the
/// ones Teleport's Auth Service issues to a bot's identity output: user <c>bot-&lt;name&gt;</c>,
/// the requested roles, their logins as principals (plus <c>-teleport-internal-join</c>),
/// <c>impersonator</c>, <c>disallow-reissue</c> unless reissue is allowed, valid from one minute ago.
/// </summary>
/// <remarks>No network; safe for concurrent use. The authority is not disposed by this signer.</remarks>
public sealed class LocalSshCertificateSigner : ISshCertificateSigner, IOutputBackend
{
    private const string InternalJoinPrincipal = "-teleport-internal-join";
    private readonly LocalCertificateAuthority _authority;
    private readonly TimeProvider _time;

    /// <summary>Creates the signer.</summary>
    /// <param name="authority">The certificate authorities to sign with.</param>
    /// <param name="timeProvider">The clock for validity; the system clock when <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="authority"/> is <see langword="null"/>.</exception>
    public LocalSshCertificateSigner(LocalCertificateAuthority authority, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(authority);
        _authority = authority;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The authority this signer uses.</summary>
    public LocalCertificateAuthority Authority => _authority;

    ISshCertificateSigner IOutputBackend.Signer => this;

    IBotIdentityProvider? IOutputBackend.Bot => null;

    /// <inheritdoc />
    public Task<SignedCertificates> SignAsync(SshCertificateSigningRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.PublicKey, nameof(request));
        if (request.Ttl <= TimeSpan.Zero)
        {
            throw new ArgumentException("The requested lifetime must be positive.", nameof(request));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var roles = request.Roles.Count > 0 ? request.Roles.Distinct(StringComparer.Ordinal).ToArray() : [.. _authority.RoleLogins.Keys];
        if (roles.Length == 0)
        {
            throw new TeleportAccessDeniedException(
                $"No role to impersonate: the request names none and the local authority grants {_authority.Username} none.");
        }

        var logins = new List<string>();
        foreach (var role in roles)
        {
            if (!_authority.RoleLogins.TryGetValue(role, out var roleLogins))
            {
                throw new TeleportAccessDeniedException($"{_authority.Username} may not impersonate the role '{role}'.");
            }

            foreach (var login in roleLogins)
            {
                if (!logins.Contains(login, StringComparer.Ordinal))
                {
                    logins.Add(login);
                }
            }
        }

        if (logins.Count == 0)
        {
            logins.Add("-teleport-nologin-" + Guid.NewGuid().ToString("D", CultureInfo.InvariantCulture));
        }

        logins.Add(InternalJoinPrincipal);
        var now = _time.GetUtcNow();
        var notBefore = now.AddMinutes(-1);
        var notAfter = now + (request.Ttl < _authority.MaxTtl ? request.Ttl : _authority.MaxTtl);
        var cluster = _authority.ClusterName;
        var route = string.IsNullOrEmpty(request.Cluster) ? cluster : request.Cluster;
        if (!string.Equals(route, cluster, StringComparison.Ordinal))
        {
            throw new TeleportNotFoundException($"The local authority of '{cluster}' knows no leaf cluster '{route}'.");
        }

        var username = _authority.Username;
        var ssh = new SshCertificateBuilder
        {
            PublicKey = request.PublicKey,
            Type = SshCertificateType.User,
            KeyId = username,
            ValidAfter = notBefore,
            ValidBefore = notAfter,
        };
        foreach (var login in logins)
        {
            ssh.Principals.Add(login);
        }

        ssh.Extensions[TeleportSshCertificateInfo.PermitPtyExtension] = string.Empty;
        ssh.Extensions[TeleportSshCertificateInfo.PermitPortForwardingExtension] = string.Empty;
        ssh.Extensions[TeleportSshCertificateInfo.RolesExtension] = TeleportSshCertificateInfo.EncodeRoles(roles);
        ssh.Extensions[TeleportSshCertificateInfo.RouteToClusterExtension] = route;
        ssh.Extensions[TeleportSshCertificateInfo.ImpersonatorExtension] = username;
        ssh.Extensions[TeleportSshCertificateInfo.BotNameExtension] = _authority.BotName;
        if (!request.AllowReissue)
        {
            ssh.Extensions[TeleportSshCertificateInfo.DisallowReissueExtension] = string.Empty;
        }

        var sshCertificate = ssh.Sign(_authority.UserCaSshKey);

        var tls = new TeleportTlsCertificateBuilder
        {
            Username = username,
            RouteToCluster = route,
            TeleportCluster = cluster,
            Impersonator = username,
            DisallowReissue = !request.AllowReissue,
            BotName = _authority.BotName,
        };
        foreach (var role in roles)
        {
            tls.Roles.Add(role);
        }

        foreach (var login in logins)
        {
            tls.Principals.Add(login);
        }

        var tlsCertificate = tls.Issue(request.PublicKey.ExportSubjectPublicKeyInfo(), _authority.UserCaTlsCertificate,
            _authority.UserCaTlsKey.GetAsymmetricAlgorithm(), notBefore, notAfter);
        var result = new SignedCertificates(
            sshCertificate,
            tlsCertificate,
            [_authority.UserCaTlsCertificate, .. _authority.HostCaTlsCertificates],
            [_authority.UserCaSshKey.PublicKey, .. _authority.HostCaSshKeys]);
        return Task.FromResult(result);
    }

    Task<OutputClusterInfo> IOutputClusterSource.GetClusterInfoAsync(CancellationToken cancellationToken)
    {
        var proxy = Wire.HostPort.Parse(_authority.ProxyAddress, TeleportDefaults.ProxyPort);
        return Task.FromResult(new OutputClusterInfo(_authority.ClusterName, proxy.Host, proxy.Port, _authority.TlsRoutingEnabled, _authority.SignatureAlgorithmSuite));
    }

    Task<IReadOnlyList<CertificateAuthorityMaterial>> IOutputClusterSource.GetCertificateAuthoritiesAsync(string type, CancellationToken cancellationToken)
    {
        IReadOnlyList<CertificateAuthorityMaterial> result = type switch
        {
            Wire.Calls.CertAuthorityTypes.Host => [new(_authority.ClusterName, _authority.HostCaTlsCertificates, _authority.HostCaSshKeys)],
            Wire.Calls.CertAuthorityTypes.User => [new(_authority.ClusterName, [_authority.UserCaTlsCertificate], [_authority.UserCaSshKey.PublicKey])],
            Wire.Calls.CertAuthorityTypes.Database => [new(_authority.ClusterName, _authority.DatabaseCaTlsCertificates, [])],
            _ => [],
        };
        return Task.FromResult(result);
    }
}
