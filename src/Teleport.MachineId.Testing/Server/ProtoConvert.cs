using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;
using Teleport.MachineId.Testing.Proto.Legacy.Client;
using Teleport.MachineId.Testing.Proto.Legacy.Types;
using Teleport.MachineId.Testing.Proto.Legacy.Wrappers;
using JoinV1 = Teleport.MachineId.Testing.Proto.Join.V1;
using MachineIdV1 = Teleport.MachineId.Testing.Proto.MachineId.V1;

namespace Teleport.MachineId.Testing.Server;

/// <summary>Converts emulator objects to the wire messages Teleport sends.</summary>
internal static class ProtoConvert
{
    /// <summary><c>proto.Certs</c>: SSH certificate as an authorized_keys line, TLS as PEM, CAs as PEM / authorized_keys lines.</summary>
    public static Certs ToCerts(UserCertificates certificates)
    {
        var certs = new Certs();
        if (certificates.Ssh is not null)
        {
            certs.SSH = ByteString.CopyFromUtf8(certificates.Ssh.ToAuthorizedKey() + "\n");
        }

        if (certificates.Tls is not null)
        {
            certs.TLS = ByteString.CopyFromUtf8(certificates.Tls.ExportCertificatePem() + "\n");
        }

        certs.TLSCACerts.AddRange(certificates.TlsCertificateAuthorities.Select(k => ByteString.CopyFromUtf8(k.TlsCertificatePem)));
        certs.SSHCACerts.AddRange(certificates.SshCaLines.Select(ByteString.CopyFromUtf8));
        return certs;
    }

    /// <summary><c>teleport.join.v1.Certificates</c>: DER and SSH wire forms.</summary>
    public static JoinV1.Certificates ToJoinCertificates(UserCertificates certificates)
    {
        var result = new JoinV1.Certificates();
        if (certificates.Tls is not null)
        {
            result.TlsCert = ByteString.CopyFrom(certificates.Tls.RawData);
        }

        if (certificates.Ssh is not null)
        {
            result.SshCert = ByteString.CopyFrom(certificates.Ssh.ToWire());
        }

        result.TlsCaCerts.AddRange(certificates.TlsCertificateAuthorities.Select(k => ByteString.CopyFrom(k.TlsCertificate.RawData)));
        result.SshCaKeys.AddRange(certificates.SshCaLines.Select(line => ByteString.CopyFrom(PublicKeyInfo.ParseAuthorizedKey(line).ToSshWire())));
        return result;
    }

    /// <summary>A CA as <c>types.CertAuthorityV2</c>, public parts only: the emulator never sends CA private keys.</summary>
    public static CertAuthorityV2 ToCertAuthority(CaSnapshot snapshot)
    {
        var spec = new CertAuthoritySpecV2
        {
            Type = snapshot.TypeName,
            ClusterName = snapshot.ClusterName,
            ActiveKeys = ToKeySet(snapshot.Active),
            AdditionalTrustedKeys = ToKeySet(snapshot.AdditionalTrusted),
            Rotation = new Rotation
            {
                State = snapshot.RotationState,
                Phase = snapshot.PhaseName,
                Mode = snapshot.RotationState == "in_progress" ? "manual" : string.Empty,
                CurrentID = snapshot.CurrentId,
            },
        };
        if (snapshot.Started is { } started)
        {
            spec.Rotation.Started = Timestamp.FromDateTimeOffset(started);
        }

        if (snapshot.LastRotated is { } last)
        {
            spec.Rotation.LastRotated = Timestamp.FromDateTimeOffset(last);
        }

        return new CertAuthorityV2
        {
            Kind = "cert_authority",
            SubKind = snapshot.TypeName,
            Version = "v2",
            Metadata = new Metadata { Name = snapshot.ClusterName, Namespace = "default" },
            Spec = spec,
        };
    }

    public static RoleV6 ToRole(EmulatorRole role)
    {
        var allow = new RoleConditions { Impersonate = new ImpersonateConditions() };
        allow.Logins.AddRange(role.Logins);
        allow.Namespaces.Add("default");
        if (role.NodeLabels.Count > 0)
        {
            allow.NodeLabels = new LabelValues();
            foreach (var (key, values) in role.NodeLabels)
            {
                var list = new StringValues();
                list.Values.AddRange(values);
                allow.NodeLabels.Values[key] = list;
            }
        }

        foreach (var rule in role.Rules)
        {
            var wire = new Rule();
            wire.Resources.AddRange(rule.Resources);
            wire.Verbs.AddRange(rule.Verbs);
            wire.Where = rule.Where ?? string.Empty;
            allow.Rules.Add(wire);
        }

        allow.Impersonate.Roles.AddRange(role.ImpersonateRoles);
        var metadata = new Metadata { Name = role.Name, Namespace = "default", Description = role.Description ?? string.Empty };
        foreach (var (key, value) in role.Labels)
        {
            metadata.Labels[key] = value;
        }

        return new RoleV6
        {
            Kind = "role",
            Version = "v6",
            Metadata = metadata,
            Spec = new RoleSpecV6
            {
                Options = new RoleOptions
                {
                    MaxSessionTTL = (long)((role.MaxSessionTtl ?? RoleEvaluation.DefaultMaxSessionTtl).Ticks * 100),
                    ForwardAgent = role.ForwardAgent,
                    PortForwarding = new Proto.Legacy.Types.BoolValue { Value = role.PortForwarding },
                    PermitX11Forwarding = role.PermitX11Forwarding,
                    CertificateFormat = role.CertificateFormat,
                },
                Allow = allow,
                Deny = new RoleConditions(),
            },
        };
    }

    public static MachineIdV1.BotInstance ToBotInstance(BotInstanceInfo info)
    {
        var status = new MachineIdV1.BotInstanceStatus();
        var authentications = info.Authentications.Select(a => new MachineIdV1.BotInstanceStatusAuthentication
        {
            AuthenticatedAt = Timestamp.FromDateTimeOffset(a.AuthenticatedAt),
            JoinMethod = a.JoinMethod,
            Generation = a.Generation,
        }).ToList();
        if (authentications.Count > 0)
        {
            status.InitialAuthentication = authentications[0];
            status.LatestAuthentications.AddRange(authentications.TakeLast(10));
        }

        var heartbeats = info.Heartbeats.Select(h =>
        {
            var heartbeat = new MachineIdV1.BotInstanceStatusHeartbeat
            {
                IsStartup = h.IsStartup,
                OneShot = h.OneShot,
                Version = h.Version ?? string.Empty,
                Hostname = h.Hostname ?? string.Empty,
                JoinMethod = h.JoinMethod ?? string.Empty,
                RecordedAt = Timestamp.FromDateTimeOffset(h.RecordedAt ?? h.ReceivedAt),
            };
            return heartbeat;
        }).ToList();
        if (heartbeats.Count > 0)
        {
            status.InitialHeartbeat = heartbeats[0];
            status.LatestHeartbeats.AddRange(heartbeats.TakeLast(10));
        }

        return new MachineIdV1.BotInstance
        {
            Kind = "bot_instance",
            Version = "v1",
            Metadata = new Proto.Header.V1.Metadata { Name = info.InstanceId },
            Spec = new MachineIdV1.BotInstanceSpec { BotName = info.BotName, InstanceId = info.InstanceId },
            Status = status,
        };
    }

    private static CAKeySet ToKeySet(IEnumerable<CaKey> keys)
    {
        var set = new CAKeySet();
        foreach (var key in keys)
        {
            if (key.SshAuthorizedKey is not null)
            {
                set.SSH.Add(new SSHKeyPair
                {
                    PublicKey = ByteString.CopyFrom(Encoding.UTF8.GetBytes(key.SshAuthorizedKey + "\n")),
                });
            }

            set.TLS.Add(new TLSKeyPair
            {
                Cert = ByteString.CopyFromUtf8(key.TlsCertificatePem),
            });
        }

        return set;
    }
}
