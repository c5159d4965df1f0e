using System.Text;
using Google.Protobuf.WellKnownTypes;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Proto.Legacy.Types;
using WireSuite = Teleport.MachineId.Wire.Proto.Legacy.Types.SignatureAlgorithmSuite;

namespace Teleport.MachineId.Wire.Calls;

/// <summary>Turns generated protobuf messages into the wire layer's typed results (and back for requests).</summary>
internal static class ProtoModels
{
    /// <summary>Typed view of a <c>types.CertAuthorityV2</c>; private keys are dropped.</summary>
    /// <exception cref="TeleportProtocolException">A key or certificate is malformed.</exception>
    public static CertAuthority ToCertAuthority(CertAuthorityV2 ca, string source)
    {
        ArgumentNullException.ThrowIfNull(ca);
        var spec = ca.Spec ?? new CertAuthoritySpecV2();
        try
        {
            return new CertAuthority
            {
                Type = spec.Type.Length > 0 ? spec.Type : ca.SubKind,
                ClusterName = spec.ClusterName.Length > 0 ? spec.ClusterName : ca.Metadata?.Name ?? string.Empty,
                ActiveKeys = ToKeySet(spec.ActiveKeys),
                AdditionalTrustedKeys = ToKeySet(spec.AdditionalTrustedKeys),
                Rotation = ToRotation(spec.Rotation),
                Revision = ca.Metadata?.Revision ?? string.Empty,
            };
        }
        catch (TeleportFormatException ex)
        {
            throw new TeleportProtocolException($"{source} returned a certificate authority with a malformed key: {ex.Message}", ex);
        }
    }

    /// <summary>Typed view of a <c>proto.PingResponse</c>.</summary>
    public static AuthPing ToPing(PingResponse ping) => new()
    {
        ClusterName = ping.ClusterName,
        ServerVersion = ping.ServerVersion,
        ProxyPublicAddress = ping.ProxyPublicAddr,
        IsBoring = ping.IsBoring,
        RemoteAddress = ping.RemoteAddr,
        LoadAllCertificateAuthorities = ping.LoadAllCAs,
        SignatureAlgorithmSuite = ToSuite(ping.SignatureAlgorithmSuite),
        LicenseExpiry = ping.LicenseExpiry?.ToDateTimeOffset(),
    };

    /// <summary>Typed view of a <c>types.AuthPreferenceV2</c>.</summary>
    public static AuthPreference ToAuthPreference(AuthPreferenceV2 preference)
    {
        var spec = preference.Spec ?? new AuthPreferenceSpecV2();
        return new AuthPreference
        {
            SignatureAlgorithmSuite = ToSuite(spec.SignatureAlgorithmSuite),
            Type = spec.Type,
            SecondFactor = spec.SecondFactor,
            LockingMode = spec.LockingMode,
            DefaultSessionTtl = spec.DefaultSessionTTL > 0 ? FromNanoseconds(spec.DefaultSessionTTL) : null,
        };
    }

    /// <summary>Typed view of a <c>types.RoleV6</c>.</summary>
    public static RoleInfo ToRole(RoleV6 role, string requestedName)
    {
        var spec = role.Spec ?? new RoleSpecV6();
        var allow = spec.Allow ?? new RoleConditions();
        return new RoleInfo
        {
            Name = role.Metadata?.Name is { Length: > 0 } name ? name : requestedName,
            ImpersonateRoles = [.. allow.Impersonate?.Roles ?? []],
            ImpersonateUsers = [.. allow.Impersonate?.Users ?? []],
            Logins = [.. allow.Logins],
            MaxSessionTtl = spec.Options is { MaxSessionTTL: > 0 } options ? FromNanoseconds(options.MaxSessionTTL) : null,
            CertificateFormat = spec.Options?.CertificateFormat ?? string.Empty,
        };
    }

    /// <summary>The <c>proto.UserCertsRequest</c> for a typed request.</summary>
    public static UserCertsRequest ToProto(UserCertificateRequest request)
    {
        var proto = new UserCertsRequest
        {
            Username = request.Username,
            Expires = Timestamp.FromDateTimeOffset(request.Expires),
            RouteToCluster = request.RouteToCluster ?? string.Empty,
            UseRoleRequests = request.UseRoleRequests,
            ReissuableRoleImpersonation = request.ReissuableRoleImpersonation,
        };
        proto.RoleRequests.AddRange(request.RoleRequests);
        if (request.SshPublicKey is { } ssh)
        {
            // authorized_keys form with a newline, as Go's ssh.MarshalAuthorizedKey writes it.
            proto.SSHPublicKey = Google.Protobuf.ByteString.CopyFromUtf8(ssh.ToAuthorizedKey() + "\n");
        }

        if (request.TlsPublicKey is { } tls)
        {
            proto.TLSPublicKey = Google.Protobuf.ByteString.CopyFromUtf8(tls.ExportPem());
        }

        return proto;
    }

    /// <summary>The heartbeat message for a typed heartbeat.</summary>
    public static Proto.MachineId.V1.BotInstanceStatusHeartbeat ToProto(BotHeartbeat heartbeat) => new()
    {
        RecordedAt = Timestamp.FromDateTimeOffset(heartbeat.RecordedAt),
        IsStartup = heartbeat.IsStartup,
        Version = heartbeat.Version,
        Hostname = heartbeat.Hostname,
        Uptime = Duration.FromTimeSpan(heartbeat.Uptime),
        JoinMethod = heartbeat.JoinMethod,
        OneShot = heartbeat.OneShot,
        Architecture = heartbeat.Architecture,
        Os = heartbeat.OperatingSystem,
    };

    /// <summary>Maps the proto enum (0 unspecified ⇒ legacy).</summary>
    public static Crypto.SignatureAlgorithmSuite ToSuite(WireSuite suite) => Crypto.SignatureAlgorithmSuite.FromProtoValue((int)suite);

    private static TimeSpan FromNanoseconds(long nanoseconds) => TimeSpan.FromTicks(nanoseconds / 100);

    private static CertAuthorityKeySet ToKeySet(CAKeySet? set)
    {
        if (set is null)
        {
            return CertAuthorityKeySet.Empty;
        }

        var ssh = set.SSH.Select(k => PublicKeyInfo.ParseAuthorizedKey(Encoding.UTF8.GetString(k.PublicKey.Span))).ToArray();
        var tls = set.TLS.SelectMany(k => IssuedCertificates.ReadPemCertificates(Encoding.UTF8.GetString(k.Cert.Span), "CA TLS certificate")).ToArray();
        return new CertAuthorityKeySet(ssh, tls);
    }

    private static CertAuthorityRotation ToRotation(Rotation? rotation) => rotation is null
        ? new CertAuthorityRotation()
        : new CertAuthorityRotation
        {
            State = rotation.State,
            Phase = rotation.Phase,
            Mode = rotation.Mode,
            CurrentId = rotation.CurrentID,
            Started = rotation.Started?.ToDateTimeOffset(),
            LastRotated = rotation.LastRotated?.ToDateTimeOffset(),
        };
}
