using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>What goes into a user (or bot) certificate pair.</summary>
internal sealed class UserCertificateRequest
{
    public required string Username { get; init; }

    public required IReadOnlyList<string> Roles { get; init; }

    public required IReadOnlyList<string> Principals { get; init; }

    public required DateTimeOffset Expires { get; init; }

    public PublicKeyInfo? SshPublicKey { get; init; }

    public PublicKeyInfo? TlsPublicKey { get; init; }

    public bool Renewable { get; init; }

    public int Generation { get; init; }

    public string? BotName { get; init; }

    public string? BotInstanceId { get; init; }

    public string? Impersonator { get; init; }

    public bool DisallowReissue { get; init; }

    public required string RouteToCluster { get; init; }

    public string? LoginIp { get; init; }

    public string? JoinAttributesJson { get; init; }

    public bool PermitAgentForwarding { get; init; }

    public bool PermitPortForwarding { get; init; } = true;

    public bool PermitX11Forwarding { get; init; }

    public bool StandardFormat { get; init; } = true;

    public IReadOnlyList<string> Usage { get; init; } = [];

    /// <summary>Bot identities get the host CA in their CA lists; impersonated identities only the user CA.</summary>
    public bool IncludeHostCa { get; init; }
}

/// <summary>The certificates issued for one request, with the CA material that goes with them.</summary>
internal sealed class UserCertificates
{
    public SshCertificate? Ssh { get; init; }

    public X509Certificate2? Tls { get; init; }

    public required IReadOnlyList<CaKey> TlsCertificateAuthorities { get; init; }

    /// <summary>SSH CA public keys, authorized_keys lines with a trailing newline (as Teleport stores them).</summary>
    public required IReadOnlyList<string> SshCaLines { get; init; }
}

/// <summary>Signs certificates the way Teleport's Auth service does (teleport-protocol.md §8.1, §8.2).</summary>
internal sealed class CertificateIssuer
{
    private static readonly TimeSpan Backdate = TimeSpan.FromMinutes(1);
    private readonly string _clusterName;
    private readonly CertificateAuthorities _authorities;

    public CertificateIssuer(string clusterName, CertificateAuthorities authorities)
    {
        _clusterName = clusterName;
        _authorities = authorities;
    }

    public UserCertificates IssueUser(UserCertificateRequest request, DateTimeOffset now)
    {
        var userCa = _authorities[CertificateAuthorityType.User];
        var signer = userCa.Signer;
        SshCertificate? ssh = null;
        if (request.SshPublicKey is not null)
        {
            ssh = BuildSsh(request, now).Sign(signer.Ssh!);
        }

        X509Certificate2? tls = null;
        if (request.TlsPublicKey is not null)
        {
            tls = BuildTls(request).Issue(
                request.TlsPublicKey.ExportSubjectPublicKeyInfo(),
                signer.TlsCertificate,
                signer.Tls.GetAsymmetricAlgorithm(),
                now - Backdate,
                request.Expires);
        }

        var cas = new List<CaKey>(userCa.Trusted);
        var sshCas = userCa.Trusted.Select(k => k.SshAuthorizedKey + "\n").ToList();
        if (request.IncludeHostCa)
        {
            var hostCa = _authorities[CertificateAuthorityType.Host];
            cas.AddRange(hostCa.Trusted);
            sshCas.AddRange(hostCa.Trusted.Select(k => k.SshAuthorizedKey + "\n"));
        }

        return new UserCertificates { Ssh = ssh, Tls = tls, TlsCertificateAuthorities = cas, SshCaLines = sshCas };
    }

    /// <summary>
    /// An OpenSSH host certificate from the host CA, like <c>tctl auth sign --format=openssh --host=…</c>
    /// or <c>TrustService.GenerateHostCert</c>; a zero <paramref name="ttl"/> never expires (Teleport's rule).
    /// </summary>
    public SshCertificate IssueHost(PublicKeyInfo hostKey, IReadOnlyList<string> principals, DateTimeOffset now, TimeSpan ttl, string systemRole = "Node", string? keyId = null)
    {
        var builder = new SshCertificateBuilder
        {
            PublicKey = hostKey,
            Type = SshCertificateType.Host,
            KeyId = keyId ?? principals[0] + "." + _clusterName,
            ValidAfter = now - Backdate,
            ValidBefore = ttl == TimeSpan.Zero ? DateTimeOffset.MaxValue : now + ttl,
            Extensions =
            {
                [TeleportSshCertificateInfo.SystemRoleExtension] = systemRole,
                [TeleportSshCertificateInfo.AuthorityExtension] = _clusterName,
            },
        };
        foreach (var principal in principals)
        {
            builder.Principals.Add(principal);
        }

        return builder.Sign(_authorities[CertificateAuthorityType.Host].Signer.Ssh!);
    }

    /// <summary>A TLS server certificate (Auth or Proxy) from the host CA, with the key attached.</summary>
    public X509Certificate2 IssueServer(string systemRole, IEnumerable<string> names, PrivateKey key, DateTimeOffset now)
    {
        var signer = _authorities[CertificateAuthorityType.Host].Signer;
        var builder = TeleportTlsCertificateBuilder.ForServer(_clusterName, Guid.NewGuid().ToString("D"), systemRole, names);
        using var certificate = builder.Issue(
            key.PublicKey.ExportSubjectPublicKeyInfo(),
            signer.TlsCertificate,
            signer.Tls.GetAsymmetricAlgorithm(),
            now - Backdate,
            now + TimeSpan.FromDays(365));
        return key.CopyWithPrivateKey(certificate);
    }

    private static SshCertificateBuilder BuildSsh(UserCertificateRequest request, DateTimeOffset now)
    {
        var builder = new SshCertificateBuilder
        {
            PublicKey = request.SshPublicKey,
            Type = SshCertificateType.User,
            KeyId = request.Username,
            ValidAfter = now - Backdate,
            ValidBefore = request.Expires,
        };
        foreach (var principal in request.Principals)
        {
            builder.Principals.Add(principal);
        }

        var extensions = builder.Extensions;
        extensions[TeleportSshCertificateInfo.PermitPtyExtension] = string.Empty;
        if (request.PermitX11Forwarding)
        {
            extensions[TeleportSshCertificateInfo.PermitX11ForwardingExtension] = string.Empty;
        }

        if (request.PermitAgentForwarding)
        {
            extensions[TeleportSshCertificateInfo.PermitAgentForwardingExtension] = string.Empty;
        }

        if (request.PermitPortForwarding)
        {
            extensions[TeleportSshCertificateInfo.PermitPortForwardingExtension] = string.Empty;
        }

        SetIfPresent(extensions, TeleportSshCertificateInfo.LoginIpExtension, request.LoginIp);
        SetIfPresent(extensions, TeleportSshCertificateInfo.ImpersonatorExtension, request.Impersonator);
        if (request.DisallowReissue)
        {
            extensions[TeleportSshCertificateInfo.DisallowReissueExtension] = string.Empty;
        }

        if (request.Renewable)
        {
            extensions[TeleportSshCertificateInfo.RenewableExtension] = string.Empty;
        }

        if (request.Generation > 0)
        {
            extensions[TeleportSshCertificateInfo.GenerationExtension] =
                request.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        SetIfPresent(extensions, TeleportSshCertificateInfo.BotNameExtension, request.BotName);
        SetIfPresent(extensions, TeleportSshCertificateInfo.BotInstanceIdExtension, request.BotInstanceId);
        extensions[TeleportSshCertificateInfo.PrivateKeyPolicyExtension] = "none";
        if (request.StandardFormat)
        {
            if (request.Roles.Count > 0)
            {
                extensions[TeleportSshCertificateInfo.RolesExtension] = TeleportSshCertificateInfo.EncodeRoles(request.Roles);
            }

            SetIfPresent(extensions, TeleportSshCertificateInfo.RouteToClusterExtension, request.RouteToCluster);
        }

        return builder;
    }

    private TeleportTlsCertificateBuilder BuildTls(UserCertificateRequest request)
    {
        var builder = new TeleportTlsCertificateBuilder
        {
            Username = request.Username,
            RouteToCluster = request.RouteToCluster,
            TeleportCluster = _clusterName,
            IsRenewable = request.Renewable,
            Generation = request.Generation,
            BotName = request.BotName,
            BotInstanceId = request.BotInstanceId,
            Impersonator = request.Impersonator,
            DisallowReissue = request.DisallowReissue,
            LoginIp = request.LoginIp,
            PrivateKeyPolicy = "none",
            UserType = "local",
            JoinAttributesJson = request.JoinAttributesJson,
        };
        foreach (var role in request.Roles)
        {
            builder.Roles.Add(role);
        }

        foreach (var principal in request.Principals)
        {
            builder.Principals.Add(principal);
        }

        foreach (var usage in request.Usage)
        {
            builder.Usage.Add(usage);
        }

        return builder;
    }

    private static void SetIfPresent(IDictionary<string, string> extensions, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            extensions[name] = value;
        }
    }
}
