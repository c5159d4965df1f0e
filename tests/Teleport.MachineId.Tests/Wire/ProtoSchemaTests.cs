using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Teleport.MachineId.Wire.Proto.ClusterConfig.V1;
using Teleport.MachineId.Wire.Proto.Join.V1;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Proto.Legacy.Types;
using Teleport.MachineId.Wire.Proto.Legacy.Wrappers;
using Teleport.MachineId.Wire.Proto.MachineId.V1;
using Teleport.MachineId.Wire.Proto.Transport.V1;
using Teleport.MachineId.Wire.Proto.Trust.V1;
using LegacyJoinService = Teleport.MachineId.Wire.Proto.Legacy.Client.JoinService;
using UnifiedJoinService = Teleport.MachineId.Wire.Proto.Join.V1.JoinService;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// Pins the wire facts of our hand-written protos (proto/) against Teleport's: proto packages,
/// gRPC method paths, field numbers and wire types, enum numbers, and a few encodings compared
/// byte for byte with hand-computed protobuf. Expected values come from
/// teleport-protocol.md (section given per row) and gravitational/teleport api/proto.
/// A failure here means a proto edit changed what goes on the wire.
/// </summary>
public sealed class ProtoSchemaTests
{
    private static readonly FileDescriptor[] Files =
    [
        AuthserviceReflection.Descriptor,
        Teleport.MachineId.Wire.Proto.Legacy.Client.JoinserviceReflection.Descriptor,
        Teleport.MachineId.Wire.Proto.Join.V1.JoinserviceReflection.Descriptor,
        TrustServiceReflection.Descriptor,
        TransportServiceReflection.Descriptor,
        BotInstanceServiceReflection.Descriptor,
        ClusterconfigServiceReflection.Descriptor,
    ];

    private static readonly Dictionary<string, MessageDescriptor> MessagesByName = IndexMessages();

    private static Dictionary<string, MessageDescriptor> IndexMessages()
    {
        var result = new Dictionary<string, MessageDescriptor>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<FileDescriptor>(Files);
        while (pending.Count > 0)
        {
            var file = pending.Pop();
            if (!seen.Add(file.Name))
            {
                continue;
            }

            foreach (var dependency in file.Dependencies)
            {
                pending.Push(dependency);
            }

            var messages = new Stack<MessageDescriptor>(file.MessageTypes);
            while (messages.Count > 0)
            {
                var message = messages.Pop();
                result[message.FullName] = message;
                foreach (var nested in message.NestedTypes)
                {
                    messages.Push(nested);
                }
            }
        }

        return result;
    }

    private static MessageDescriptor Message(string fullName) =>
        MessagesByName.TryGetValue(fullName, out var descriptor)
            ? descriptor
            : throw new AssertionException($"message {fullName} is not declared");

    // (message, number, field name, wire type, repeated, type of message/enum fields or null).
    public static IEnumerable<TestCaseData> Fields()
    {
        static TestCaseData F(string message, int number, string name, FieldType type, bool repeated = false, string? typeName = null) =>
            new TestCaseData(message, number, name, type, repeated, typeName).SetArgDisplayNames($"{message}.{number}");

        // §5.2 proto.UserCertsRequest
        yield return F("proto.UserCertsRequest", 2, "Username", FieldType.String);
        yield return F("proto.UserCertsRequest", 3, "Expires", FieldType.Message, typeName: "google.protobuf.Timestamp");
        yield return F("proto.UserCertsRequest", 4, "Format", FieldType.String);
        yield return F("proto.UserCertsRequest", 5, "RouteToCluster", FieldType.String);
        yield return F("proto.UserCertsRequest", 6, "AccessRequests", FieldType.String, repeated: true);
        yield return F("proto.UserCertsRequest", 7, "KubernetesCluster", FieldType.String);
        yield return F("proto.UserCertsRequest", 8, "RouteToDatabase", FieldType.Message, typeName: "proto.RouteToDatabase");
        yield return F("proto.UserCertsRequest", 9, "NodeName", FieldType.String);
        yield return F("proto.UserCertsRequest", 10, "Usage", FieldType.Enum, typeName: "proto.UserCertsRequest.CertUsage");
        yield return F("proto.UserCertsRequest", 11, "RouteToApp", FieldType.Message, typeName: "proto.RouteToApp");
        yield return F("proto.UserCertsRequest", 12, "RoleRequests", FieldType.String, repeated: true);
        yield return F("proto.UserCertsRequest", 13, "RouteToWindowsDesktop", FieldType.Message, typeName: "proto.RouteToWindowsDesktop");
        yield return F("proto.UserCertsRequest", 14, "UseRoleRequests", FieldType.Bool);
        yield return F("proto.UserCertsRequest", 15, "DropAccessRequests", FieldType.String, repeated: true);
        yield return F("proto.UserCertsRequest", 16, "ConnectionDiagnosticID", FieldType.String);
        yield return F("proto.UserCertsRequest", 17, "RequesterName", FieldType.Enum, typeName: "proto.UserCertsRequest.Requester");
        yield return F("proto.UserCertsRequest", 18, "MFAResponse", FieldType.Message, typeName: "proto.MFAAuthenticateResponse");
        yield return F("proto.UserCertsRequest", 19, "SSHLogin", FieldType.String);
        yield return F("proto.UserCertsRequest", 21, "Purpose", FieldType.Enum, typeName: "proto.UserCertsRequest.CertPurpose");
        yield return F("proto.UserCertsRequest", 22, "SSHPublicKey", FieldType.Bytes);
        yield return F("proto.UserCertsRequest", 23, "TLSPublicKey", FieldType.Bytes);
        yield return F("proto.UserCertsRequest", 25, "SSHPublicKeyAttestationStatement", FieldType.Message, typeName: "teleport.attestation.v1.AttestationStatement");
        yield return F("proto.UserCertsRequest", 26, "TLSPublicKeyAttestationStatement", FieldType.Message, typeName: "teleport.attestation.v1.AttestationStatement");
        yield return F("proto.UserCertsRequest", 27, "ReissuableRoleImpersonation", FieldType.Bool);
        yield return F("proto.RouteToDatabase", 5, "Roles", FieldType.String, repeated: true);
        yield return F("proto.RouteToApp", 9, "TargetPort", FieldType.UInt32);
        yield return F("proto.RouteToApp", 10, "AWSCredentialProcessCredentials", FieldType.String);

        // §3.5 proto.Certs
        yield return F("proto.Certs", 1, "SSH", FieldType.Bytes);
        yield return F("proto.Certs", 2, "TLS", FieldType.Bytes);
        yield return F("proto.Certs", 3, "TLSCACerts", FieldType.Bytes, repeated: true);
        yield return F("proto.Certs", 4, "SSHCACerts", FieldType.Bytes, repeated: true);

        // §3.4 / §5.3 / §5.4 small AuthService messages
        yield return F("proto.GetClusterCACertResponse", 1, "TLSCA", FieldType.Bytes);
        yield return F("proto.GetRoleRequest", 1, "Name", FieldType.String);
        yield return F("proto.PingResponse", 1, "ClusterName", FieldType.String);
        yield return F("proto.PingResponse", 2, "ServerVersion", FieldType.String);
        yield return F("proto.PingResponse", 3, "ServerFeatures", FieldType.Message, typeName: "proto.Features");
        yield return F("proto.PingResponse", 4, "ProxyPublicAddr", FieldType.String);
        yield return F("proto.PingResponse", 5, "IsBoring", FieldType.Bool);
        yield return F("proto.PingResponse", 7, "RemoteAddr", FieldType.String);
        yield return F("proto.PingResponse", 8, "LoadAllCAs", FieldType.Bool);
        yield return F("proto.PingResponse", 9, "signature_algorithm_suite", FieldType.Enum, typeName: "types.SignatureAlgorithmSuite");
        yield return F("proto.PingResponse", 10, "LicenseExpiry", FieldType.Message, typeName: "google.protobuf.Timestamp");

        // §4.4 watch / event
        yield return F("proto.Watch", 1, "Kinds", FieldType.Message, repeated: true, typeName: "types.WatchKind");
        yield return F("proto.Watch", 2, "AllowPartialSuccess", FieldType.Bool);
        yield return F("types.WatchKind", 1, "Kind", FieldType.String);
        yield return F("types.WatchKind", 2, "LoadSecrets", FieldType.Bool);
        yield return F("types.WatchKind", 3, "Name", FieldType.String);
        yield return F("types.WatchKind", 4, "Filter", FieldType.Message, repeated: true, typeName: "types.WatchKind.FilterEntry");
        yield return F("types.WatchKind", 5, "SubKind", FieldType.String);
        yield return F("types.WatchKind", 6, "Version", FieldType.String);
        yield return F("proto.Event", 1, "Type", FieldType.Enum, typeName: "proto.Operation");
        yield return F("proto.Event", 2, "ResourceHeader", FieldType.Message, typeName: "types.ResourceHeader");
        yield return F("proto.Event", 3, "CertAuthority", FieldType.Message, typeName: "types.CertAuthorityV2");
        yield return F("proto.Event", 9, "Role", FieldType.Message, typeName: "types.RoleV6");
        yield return F("proto.Event", 22, "AuthPreference", FieldType.Message, typeName: "types.AuthPreferenceV2");
        yield return F("proto.Event", 60, "BotInstance", FieldType.Message, typeName: "teleport.machineid.v1.BotInstance");

        // §3.4 proto.JoinService/RegisterUsingBoundKeypairMethod (legacy bound keypair stream, Teleport 18.0/18.1)
        yield return F("proto.RegisterUsingBoundKeypairInitialRequest", 1, "join_request", FieldType.Message, typeName: "types.RegisterUsingTokenRequest");
        yield return F("proto.RegisterUsingBoundKeypairInitialRequest", 2, "initial_join_secret", FieldType.String);
        yield return F("proto.RegisterUsingBoundKeypairInitialRequest", 3, "previous_join_state", FieldType.Bytes);
        yield return F("proto.RegisterUsingBoundKeypairChallengeResponse", 1, "solution", FieldType.Bytes);
        yield return F("proto.RegisterUsingBoundKeypairRotationResponse", 1, "public_key", FieldType.String);
        yield return F("proto.RegisterUsingBoundKeypairMethodRequest", 1, "init", FieldType.Message, typeName: "proto.RegisterUsingBoundKeypairInitialRequest");
        yield return F("proto.RegisterUsingBoundKeypairMethodRequest", 2, "challenge_response", FieldType.Message, typeName: "proto.RegisterUsingBoundKeypairChallengeResponse");
        yield return F("proto.RegisterUsingBoundKeypairMethodRequest", 3, "rotation_response", FieldType.Message, typeName: "proto.RegisterUsingBoundKeypairRotationResponse");
        yield return F("proto.RegisterUsingBoundKeypairChallenge", 1, "public_key", FieldType.String);
        yield return F("proto.RegisterUsingBoundKeypairChallenge", 2, "challenge", FieldType.String);
        yield return F("proto.RegisterUsingBoundKeypairCertificates", 1, "certs", FieldType.Message, typeName: "proto.Certs");
        yield return F("proto.RegisterUsingBoundKeypairCertificates", 2, "join_state", FieldType.Bytes);
        yield return F("proto.RegisterUsingBoundKeypairCertificates", 3, "public_key", FieldType.String);
        yield return F("proto.RegisterUsingBoundKeypairRotationRequest", 1, "signature_algorithm_suite", FieldType.Enum, typeName: "types.SignatureAlgorithmSuite");
        yield return F("proto.RegisterUsingBoundKeypairMethodResponse", 1, "challenge", FieldType.Message, typeName: "proto.RegisterUsingBoundKeypairChallenge");
        yield return F("proto.RegisterUsingBoundKeypairMethodResponse", 2, "certs", FieldType.Message, typeName: "proto.RegisterUsingBoundKeypairCertificates");
        yield return F("proto.RegisterUsingBoundKeypairMethodResponse", 3, "rotation", FieldType.Message, typeName: "proto.RegisterUsingBoundKeypairRotationRequest");

        // §3.5 types.RegisterUsingTokenRequest
        yield return F("types.RegisterUsingTokenRequest", 1, "HostID", FieldType.String);
        yield return F("types.RegisterUsingTokenRequest", 2, "NodeName", FieldType.String);
        yield return F("types.RegisterUsingTokenRequest", 3, "Role", FieldType.String);
        yield return F("types.RegisterUsingTokenRequest", 4, "Token", FieldType.String);
        yield return F("types.RegisterUsingTokenRequest", 5, "AdditionalPrincipals", FieldType.String, repeated: true);
        yield return F("types.RegisterUsingTokenRequest", 6, "DNSNames", FieldType.String, repeated: true);
        yield return F("types.RegisterUsingTokenRequest", 7, "PublicTLSKey", FieldType.Bytes);
        yield return F("types.RegisterUsingTokenRequest", 8, "PublicSSHKey", FieldType.Bytes);
        yield return F("types.RegisterUsingTokenRequest", 9, "RemoteAddr", FieldType.String);
        yield return F("types.RegisterUsingTokenRequest", 10, "EC2IdentityDocument", FieldType.Bytes);
        yield return F("types.RegisterUsingTokenRequest", 11, "IDToken", FieldType.String);
        yield return F("types.RegisterUsingTokenRequest", 12, "Expires", FieldType.Message, typeName: "google.protobuf.Timestamp");
        yield return F("types.RegisterUsingTokenRequest", 13, "BotInstanceID", FieldType.String);
        yield return F("types.RegisterUsingTokenRequest", 14, "BotGeneration", FieldType.Int32);
        yield return F("types.RegisterUsingTokenRequest", 15, "PreviousBotInstanceID", FieldType.String);

        // §5.3 certificate authorities
        yield return F("types.CertAuthorityV2", 1, "Kind", FieldType.String);
        yield return F("types.CertAuthorityV2", 2, "SubKind", FieldType.String);
        yield return F("types.CertAuthorityV2", 3, "Version", FieldType.String);
        yield return F("types.CertAuthorityV2", 4, "Metadata", FieldType.Message, typeName: "types.Metadata");
        yield return F("types.CertAuthorityV2", 5, "Spec", FieldType.Message, typeName: "types.CertAuthoritySpecV2");
        yield return F("types.CertAuthoritySpecV2", 1, "Type", FieldType.String);
        yield return F("types.CertAuthoritySpecV2", 2, "ClusterName", FieldType.String);
        yield return F("types.CertAuthoritySpecV2", 5, "Roles", FieldType.String, repeated: true);
        yield return F("types.CertAuthoritySpecV2", 6, "RoleMap", FieldType.Message, repeated: true, typeName: "types.RoleMapping");
        yield return F("types.CertAuthoritySpecV2", 8, "Rotation", FieldType.Message, typeName: "types.Rotation");
        yield return F("types.CertAuthoritySpecV2", 9, "SigningAlg", FieldType.Enum, typeName: "types.CertAuthoritySpecV2.SigningAlgType");
        yield return F("types.CertAuthoritySpecV2", 11, "ActiveKeys", FieldType.Message, typeName: "types.CAKeySet");
        yield return F("types.CertAuthoritySpecV2", 12, "AdditionalTrustedKeys", FieldType.Message, typeName: "types.CAKeySet");
        yield return F("types.CAKeySet", 1, "SSH", FieldType.Message, repeated: true, typeName: "types.SSHKeyPair");
        yield return F("types.CAKeySet", 2, "TLS", FieldType.Message, repeated: true, typeName: "types.TLSKeyPair");
        yield return F("types.CAKeySet", 3, "JWT", FieldType.Message, repeated: true, typeName: "types.JWTKeyPair");
        yield return F("types.SSHKeyPair", 1, "PublicKey", FieldType.Bytes);
        yield return F("types.SSHKeyPair", 2, "PrivateKey", FieldType.Bytes);
        yield return F("types.SSHKeyPair", 3, "PrivateKeyType", FieldType.Enum, typeName: "types.PrivateKeyType");
        yield return F("types.TLSKeyPair", 1, "Cert", FieldType.Bytes);
        yield return F("types.TLSKeyPair", 2, "Key", FieldType.Bytes);
        yield return F("types.TLSKeyPair", 3, "KeyType", FieldType.Enum, typeName: "types.PrivateKeyType");
        yield return F("types.TLSKeyPair", 4, "CRL", FieldType.Bytes);
        yield return F("types.JWTKeyPair", 3, "PrivateKeyType", FieldType.Enum, typeName: "types.PrivateKeyType");
        yield return F("types.Metadata", 1, "Name", FieldType.String);
        yield return F("types.Metadata", 2, "Namespace", FieldType.String);
        yield return F("types.Metadata", 3, "Description", FieldType.String);
        yield return F("types.Metadata", 5, "Labels", FieldType.Message, repeated: true, typeName: "types.Metadata.LabelsEntry");
        yield return F("types.Metadata", 6, "Expires", FieldType.Message, typeName: "google.protobuf.Timestamp");
        yield return F("types.Metadata", 8, "Revision", FieldType.String);
        yield return F("types.Rotation", 1, "State", FieldType.String);
        yield return F("types.Rotation", 2, "Phase", FieldType.String);
        yield return F("types.Rotation", 6, "GracePeriod", FieldType.Int64);
        yield return F("types.Rotation", 8, "Schedule", FieldType.Message, typeName: "types.RotationSchedule");

        // §5.1 roles (GetRole -> Spec(5).Allow(2).Impersonate(14).Roles(2))
        yield return F("types.RoleV6", 4, "Metadata", FieldType.Message, typeName: "types.Metadata");
        yield return F("types.RoleV6", 5, "Spec", FieldType.Message, typeName: "types.RoleSpecV6");
        yield return F("types.RoleSpecV6", 1, "Options", FieldType.Message, typeName: "types.RoleOptions");
        yield return F("types.RoleSpecV6", 2, "Allow", FieldType.Message, typeName: "types.RoleConditions");
        yield return F("types.RoleSpecV6", 3, "Deny", FieldType.Message, typeName: "types.RoleConditions");
        yield return F("types.RoleConditions", 1, "Logins", FieldType.String, repeated: true);
        yield return F("types.RoleConditions", 3, "NodeLabels", FieldType.Message, typeName: "wrappers.LabelValues");
        yield return F("types.RoleConditions", 4, "Rules", FieldType.Message, repeated: true, typeName: "types.Rule");
        yield return F("types.RoleConditions", 14, "Impersonate", FieldType.Message, typeName: "types.ImpersonateConditions");
        yield return F("types.ImpersonateConditions", 2, "Roles", FieldType.String, repeated: true);
        yield return F("types.Rule", 1, "Resources", FieldType.String, repeated: true);
        yield return F("types.Rule", 2, "Verbs", FieldType.String, repeated: true);
        yield return F("types.RoleOptions", 1, "ForwardAgent", FieldType.Bool);
        yield return F("types.RoleOptions", 2, "MaxSessionTTL", FieldType.Int64);
        yield return F("types.RoleOptions", 3, "PortForwarding", FieldType.Message, typeName: "types.BoolValue");
        yield return F("types.RoleOptions", 4, "CertificateFormat", FieldType.String);
        yield return F("types.RoleOptions", 8, "PermitX11Forwarding", FieldType.Bool);
        yield return F("types.RoleOptions", 32, "SSHPortForwarding", FieldType.Message, typeName: "types.SSHPortForwarding");
        yield return F("wrappers.LabelValues", 1, "Values", FieldType.Message, repeated: true, typeName: "wrappers.LabelValues.ValuesEntry");
        yield return F("wrappers.StringValues", 1, "Values", FieldType.String, repeated: true);

        // §3.1 / §5.4 auth preference
        yield return F("types.AuthPreferenceV2", 5, "Spec", FieldType.Message, typeName: "types.AuthPreferenceSpecV2");
        yield return F("types.AuthPreferenceSpecV2", 20, "signature_algorithm_suite", FieldType.Enum, typeName: "types.SignatureAlgorithmSuite");

        // §3.6 teleport.join.v1
        yield return F("teleport.join.v1.JoinRequest", 1, "client_init", FieldType.Message, typeName: "teleport.join.v1.ClientInit");
        yield return F("teleport.join.v1.JoinRequest", 2, "token_init", FieldType.Message, typeName: "teleport.join.v1.TokenInit");
        yield return F("teleport.join.v1.JoinRequest", 3, "bound_keypair_init", FieldType.Message, typeName: "teleport.join.v1.BoundKeypairInit");
        yield return F("teleport.join.v1.JoinRequest", 4, "solution", FieldType.Message, typeName: "teleport.join.v1.ChallengeSolution");
        yield return F("teleport.join.v1.JoinRequest", 5, "iam_init", FieldType.Message, typeName: "teleport.join.v1.IAMInit");
        yield return F("teleport.join.v1.JoinRequest", 6, "giving_up", FieldType.Message, typeName: "teleport.join.v1.GivingUp");
        yield return F("teleport.join.v1.JoinRequest", 7, "ec2_init", FieldType.Message, typeName: "teleport.join.v1.EC2Init");
        yield return F("teleport.join.v1.JoinRequest", 9, "oracle_init", FieldType.Message, typeName: "teleport.join.v1.OracleInit");
        yield return F("teleport.join.v1.JoinRequest", 10, "tpm_init", FieldType.Message, typeName: "teleport.join.v1.TPMInit");
        yield return F("teleport.join.v1.JoinRequest", 11, "azure_init", FieldType.Message, typeName: "teleport.join.v1.AzureInit");
        yield return F("teleport.join.v1.ClientInit", 1, "join_method", FieldType.String);
        yield return F("teleport.join.v1.ClientInit", 2, "token_name", FieldType.String);
        yield return F("teleport.join.v1.ClientInit", 3, "system_role", FieldType.String);
        yield return F("teleport.join.v1.ClientInit", 4, "forwarded_by_proxy", FieldType.Bool);
        yield return F("teleport.join.v1.ClientInit", 5, "proxy_supplied_parameters", FieldType.Message, typeName: "teleport.join.v1.ClientInit.ProxySuppliedParams");
        yield return F("teleport.join.v1.ClientInit.ProxySuppliedParams", 1, "remote_addr", FieldType.String);
        yield return F("teleport.join.v1.ClientInit.ProxySuppliedParams", 2, "client_version", FieldType.String);
        yield return F("teleport.join.v1.ServerInit", 1, "join_method", FieldType.String);
        yield return F("teleport.join.v1.ServerInit", 2, "signature_algorithm_suite", FieldType.String);
        yield return F("teleport.join.v1.TokenInit", 1, "client_params", FieldType.Message, typeName: "teleport.join.v1.ClientParams");
        yield return F("teleport.join.v1.ClientParams", 1, "host_params", FieldType.Message, typeName: "teleport.join.v1.HostParams");
        yield return F("teleport.join.v1.ClientParams", 2, "bot_params", FieldType.Message, typeName: "teleport.join.v1.BotParams");
        yield return F("teleport.join.v1.BotParams", 1, "public_keys", FieldType.Message, typeName: "teleport.join.v1.PublicKeys");
        yield return F("teleport.join.v1.BotParams", 2, "expires", FieldType.Message, typeName: "google.protobuf.Timestamp");
        yield return F("teleport.join.v1.HostParams", 1, "public_keys", FieldType.Message, typeName: "teleport.join.v1.PublicKeys");
        yield return F("teleport.join.v1.HostParams", 2, "host_name", FieldType.String);
        yield return F("teleport.join.v1.HostParams", 3, "additional_principals", FieldType.String, repeated: true);
        yield return F("teleport.join.v1.HostParams", 4, "dns_names", FieldType.String, repeated: true);
        yield return F("teleport.join.v1.PublicKeys", 1, "public_tls_key", FieldType.Bytes);
        yield return F("teleport.join.v1.PublicKeys", 2, "public_ssh_key", FieldType.Bytes);
        yield return F("teleport.join.v1.JoinResponse", 1, "init", FieldType.Message, typeName: "teleport.join.v1.ServerInit");
        yield return F("teleport.join.v1.JoinResponse", 2, "challenge", FieldType.Message, typeName: "teleport.join.v1.Challenge");
        yield return F("teleport.join.v1.JoinResponse", 3, "result", FieldType.Message, typeName: "teleport.join.v1.Result");
        yield return F("teleport.join.v1.Result", 1, "host_result", FieldType.Message, typeName: "teleport.join.v1.HostResult");
        yield return F("teleport.join.v1.Result", 2, "bot_result", FieldType.Message, typeName: "teleport.join.v1.BotResult");
        yield return F("teleport.join.v1.BotResult", 1, "certificates", FieldType.Message, typeName: "teleport.join.v1.Certificates");
        yield return F("teleport.join.v1.BotResult", 2, "bound_keypair_result", FieldType.Message, typeName: "teleport.join.v1.BoundKeypairResult");
        yield return F("teleport.join.v1.HostResult", 2, "host_id", FieldType.String);
        yield return F("teleport.join.v1.Certificates", 1, "tls_cert", FieldType.Bytes);
        yield return F("teleport.join.v1.Certificates", 2, "tls_ca_certs", FieldType.Bytes, repeated: true);
        yield return F("teleport.join.v1.Certificates", 3, "ssh_cert", FieldType.Bytes);
        yield return F("teleport.join.v1.Certificates", 4, "ssh_ca_keys", FieldType.Bytes, repeated: true);
        yield return F("teleport.join.v1.GivingUp", 1, "reason", FieldType.Enum, typeName: "teleport.join.v1.GivingUp.Reason");
        yield return F("teleport.join.v1.GivingUp", 2, "msg", FieldType.String);
        yield return F("teleport.join.v1.BoundKeypairInit", 1, "client_params", FieldType.Message, typeName: "teleport.join.v1.ClientParams");
        yield return F("teleport.join.v1.BoundKeypairInit", 2, "initial_join_secret", FieldType.String);
        yield return F("teleport.join.v1.BoundKeypairInit", 3, "previous_join_state", FieldType.Bytes);
        yield return F("teleport.join.v1.BoundKeypairChallenge", 1, "public_key", FieldType.Bytes);
        yield return F("teleport.join.v1.BoundKeypairChallenge", 2, "challenge", FieldType.String);
        yield return F("teleport.join.v1.BoundKeypairChallengeSolution", 1, "solution", FieldType.Bytes);
        yield return F("teleport.join.v1.BoundKeypairRotationRequest", 1, "signature_algorithm_suite", FieldType.String);
        yield return F("teleport.join.v1.BoundKeypairRotationResponse", 1, "public_key", FieldType.Bytes);
        yield return F("teleport.join.v1.BoundKeypairResult", 2, "join_state", FieldType.Bytes);
        yield return F("teleport.join.v1.BoundKeypairResult", 3, "public_key", FieldType.Bytes);
        yield return F("teleport.join.v1.Challenge", 1, "bound_keypair_challenge", FieldType.Message, typeName: "teleport.join.v1.BoundKeypairChallenge");
        yield return F("teleport.join.v1.Challenge", 2, "bound_keypair_rotation_request", FieldType.Message, typeName: "teleport.join.v1.BoundKeypairRotationRequest");
        yield return F("teleport.join.v1.ChallengeSolution", 1, "bound_keypair_challenge_solution", FieldType.Message, typeName: "teleport.join.v1.BoundKeypairChallengeSolution");
        yield return F("teleport.join.v1.ChallengeSolution", 2, "bound_keypair_rotation_response", FieldType.Message, typeName: "teleport.join.v1.BoundKeypairRotationResponse");

        // §5.3 trust service
        yield return F("teleport.trust.v1.GetCertAuthorityRequest", 1, "type", FieldType.String);
        yield return F("teleport.trust.v1.GetCertAuthorityRequest", 2, "domain", FieldType.String);
        yield return F("teleport.trust.v1.GetCertAuthorityRequest", 3, "include_key", FieldType.Bool);
        yield return F("teleport.trust.v1.GetCertAuthoritiesRequest", 1, "type", FieldType.String);
        yield return F("teleport.trust.v1.GetCertAuthoritiesRequest", 2, "include_key", FieldType.Bool);
        yield return F("teleport.trust.v1.GetCertAuthoritiesResponse", 1, "cert_authorities_v2", FieldType.Message, repeated: true, typeName: "types.CertAuthorityV2");

        // §8b transport service
        yield return F("teleport.transport.v1.ProxySSHRequest", 1, "dial_target", FieldType.Message, typeName: "teleport.transport.v1.TargetHost");
        yield return F("teleport.transport.v1.ProxySSHRequest", 2, "ssh", FieldType.Message, typeName: "teleport.transport.v1.Frame");
        yield return F("teleport.transport.v1.ProxySSHRequest", 3, "agent", FieldType.Message, typeName: "teleport.transport.v1.Frame");
        yield return F("teleport.transport.v1.ProxySSHResponse", 1, "details", FieldType.Message, typeName: "teleport.transport.v1.ClusterDetails");
        yield return F("teleport.transport.v1.ProxySSHResponse", 2, "ssh", FieldType.Message, typeName: "teleport.transport.v1.Frame");
        yield return F("teleport.transport.v1.ProxySSHResponse", 3, "agent", FieldType.Message, typeName: "teleport.transport.v1.Frame");
        yield return F("teleport.transport.v1.Frame", 1, "payload", FieldType.Bytes);
        yield return F("teleport.transport.v1.TargetHost", 1, "host_port", FieldType.String);
        yield return F("teleport.transport.v1.TargetHost", 2, "cluster", FieldType.String);
        yield return F("teleport.transport.v1.ClusterDetails", 1, "fips_enabled", FieldType.Bool);
        yield return F("teleport.transport.v1.GetClusterDetailsResponse", 1, "details", FieldType.Message, typeName: "teleport.transport.v1.ClusterDetails");
        yield return F("teleport.transport.v1.ProxyClusterRequest", 1, "cluster", FieldType.String);
        yield return F("teleport.transport.v1.ProxyClusterRequest", 2, "frame", FieldType.Message, typeName: "teleport.transport.v1.Frame");
        yield return F("teleport.transport.v1.ProxyClusterResponse", 1, "frame", FieldType.Message, typeName: "teleport.transport.v1.Frame");

        // §4.3 bot instances and header metadata
        yield return F("teleport.machineid.v1.BotInstance", 4, "metadata", FieldType.Message, typeName: "teleport.header.v1.Metadata");
        yield return F("teleport.machineid.v1.BotInstance", 5, "spec", FieldType.Message, typeName: "teleport.machineid.v1.BotInstanceSpec");
        yield return F("teleport.machineid.v1.BotInstance", 6, "status", FieldType.Message, typeName: "teleport.machineid.v1.BotInstanceStatus");
        yield return F("teleport.machineid.v1.BotInstanceSpec", 1, "bot_name", FieldType.String);
        yield return F("teleport.machineid.v1.BotInstanceSpec", 2, "instance_id", FieldType.String);
        yield return F("teleport.machineid.v1.BotInstanceSpec", 4, "previous_instance_id", FieldType.String);
        yield return F("teleport.machineid.v1.BotInstanceStatus", 2, "latest_authentications", FieldType.Message, repeated: true, typeName: "teleport.machineid.v1.BotInstanceStatusAuthentication");
        yield return F("teleport.machineid.v1.BotInstanceStatus", 4, "latest_heartbeats", FieldType.Message, repeated: true, typeName: "teleport.machineid.v1.BotInstanceStatusHeartbeat");
        yield return F("teleport.machineid.v1.BotInstanceStatusAuthentication", 1, "authenticated_at", FieldType.Message, typeName: "google.protobuf.Timestamp");
        yield return F("teleport.machineid.v1.BotInstanceStatusAuthentication", 4, "metadata", FieldType.Message, typeName: "google.protobuf.Struct");
        yield return F("teleport.machineid.v1.BotInstanceStatusAuthentication", 5, "generation", FieldType.Int32);
        yield return F("teleport.machineid.v1.BotInstanceStatusAuthentication", 6, "public_key", FieldType.Bytes);
        yield return F("teleport.machineid.v1.BotInstanceStatusHeartbeat", 1, "recorded_at", FieldType.Message, typeName: "google.protobuf.Timestamp");
        yield return F("teleport.machineid.v1.BotInstanceStatusHeartbeat", 2, "is_startup", FieldType.Bool);
        yield return F("teleport.machineid.v1.BotInstanceStatusHeartbeat", 5, "uptime", FieldType.Message, typeName: "google.protobuf.Duration");
        yield return F("teleport.machineid.v1.BotInstanceStatusHeartbeat", 7, "one_shot", FieldType.Bool);
        yield return F("teleport.machineid.v1.BotInstanceStatusHeartbeat", 9, "os", FieldType.String);
        yield return F("teleport.machineid.v1.SubmitHeartbeatRequest", 1, "heartbeat", FieldType.Message, typeName: "teleport.machineid.v1.BotInstanceStatusHeartbeat");
        yield return F("teleport.header.v1.Metadata", 1, "name", FieldType.String);
        yield return F("teleport.header.v1.Metadata", 5, "labels", FieldType.Message, repeated: true, typeName: "teleport.header.v1.Metadata.LabelsEntry");
        yield return F("teleport.header.v1.Metadata", 6, "expires", FieldType.Message, typeName: "google.protobuf.Timestamp");
        yield return F("teleport.header.v1.Metadata", 8, "revision", FieldType.String);
    }

    [TestCaseSource(nameof(Fields))]
    public void Field_number_name_and_wire_type_match_upstream(
        string message, int number, string name, FieldType type, bool repeated, string? typeName)
    {
        var field = Message(message).FindFieldByNumber(number);
        Assert.That(field, Is.Not.Null, $"{message} has no field {number}");
        Assert.Multiple(() =>
        {
            Assert.That(field!.Name, Is.EqualTo(name));
            Assert.That(field.FieldType, Is.EqualTo(type));
            Assert.That(field.IsRepeated, Is.EqualTo(repeated));
            var actualTypeName = type switch
            {
                FieldType.Message => field.MessageType.FullName,
                FieldType.Enum => field.EnumType.FullName,
                _ => null,
            };
            Assert.That(actualTypeName, Is.EqualTo(typeName));
        });
    }

    [TestCase("proto.UserCertsRequest", 1)]
    [TestCase("proto.UserCertsRequest", 20)]
    [TestCase("proto.UserCertsRequest", 24)]
    [TestCase("proto.PingResponse", 6)]
    [TestCase("proto.Event", 7)]
    [TestCase("teleport.join.v1.JoinRequest", 8)]
    [TestCase("teleport.machineid.v1.BotInstanceSpec", 3)]
    [TestCase("teleport.machineid.v1.BotInstanceStatusAuthentication", 7)]
    [TestCase("teleport.machineid.v1.BotInstanceStatusAuthentication", 8)]
    public void Removed_or_unmodelled_numbers_are_not_declared(string message, int number) =>
        Assert.That(Message(message).FindFieldByNumber(number), Is.Null);

    [TestCase("proto.Event", "Resource", new[] { 2, 3, 9, 22, 60 })]
    [TestCase("proto.RegisterUsingBoundKeypairMethodRequest", "payload", new[] { 1, 2, 3 })]
    [TestCase("proto.RegisterUsingBoundKeypairMethodResponse", "response", new[] { 1, 2, 3 })]
    [TestCase("teleport.join.v1.JoinRequest", "payload", new[] { 1, 2, 3, 4, 5, 6, 7, 9, 10, 11 })]
    [TestCase("teleport.join.v1.JoinResponse", "payload", new[] { 1, 2, 3 })]
    [TestCase("teleport.join.v1.ClientParams", "payload", new[] { 1, 2 })]
    [TestCase("teleport.join.v1.Result", "payload", new[] { 1, 2 })]
    [TestCase("teleport.transport.v1.ProxySSHRequest", "frame", new[] { 2, 3 })]
    [TestCase("teleport.transport.v1.ProxySSHResponse", "frame", new[] { 2, 3 })]
    public void Oneof_groups_hold_the_upstream_members(string message, string oneof, int[] numbers)
    {
        var group = Message(message).Oneofs.Single(o => o.Name == oneof);
        Assert.That(group.Fields.Select(f => f.FieldNumber), Is.EqualTo(numbers));
    }

    [Test]
    public void Proto3_optional_fields_keep_explicit_presence()
    {
        // join_method, proxy_supplied_parameters and expires are `optional` upstream.
        Assert.Multiple(() =>
        {
            Assert.That(Message("teleport.join.v1.ClientInit").FindFieldByNumber(1).HasPresence, Is.True);
            Assert.That(Message("teleport.join.v1.ClientInit").FindFieldByNumber(1).RealContainingOneof, Is.Null);
            Assert.That(Message("teleport.join.v1.ClientInit").FindFieldByNumber(2).HasPresence, Is.False);
        });
    }

    public static IEnumerable<TestCaseData> Enums()
    {
        static TestCaseData E(string enumName, params (string Name, int Number)[] values) =>
            new TestCaseData(enumName, values).SetArgDisplayNames(enumName);

        // §3.1
        yield return E(
            "types.SignatureAlgorithmSuite",
            ("SIGNATURE_ALGORITHM_SUITE_UNSPECIFIED", 0),
            ("SIGNATURE_ALGORITHM_SUITE_LEGACY", 1),
            ("SIGNATURE_ALGORITHM_SUITE_BALANCED_V1", 2),
            ("SIGNATURE_ALGORITHM_SUITE_FIPS_V1", 3),
            ("SIGNATURE_ALGORITHM_SUITE_HSM_V1", 4));
        // §5.3
        yield return E("types.PrivateKeyType", ("RAW", 0), ("PKCS11", 1), ("GCP_KMS", 2), ("AWS_KMS", 3));
        // §5.2
        yield return E(
            "proto.UserCertsRequest.CertUsage",
            ("All", 0), ("SSH", 1), ("Kubernetes", 2), ("Database", 3), ("App", 4), ("WindowsDesktop", 5));
        yield return E(
            "proto.UserCertsRequest.CertPurpose",
            ("CERT_PURPOSE_UNSPECIFIED", 0), ("CERT_PURPOSE_LOGIN_CERTS", 1), ("CERT_PURPOSE_SINGLE_USE_CERTS", 2));
        yield return E(
            "proto.UserCertsRequest.Requester",
            ("UNSPECIFIED", 0),
            ("TSH_DB_LOCAL_PROXY_TUNNEL", 1),
            ("TSH_KUBE_LOCAL_PROXY", 2),
            ("TSH_KUBE_LOCAL_PROXY_HEADLESS", 3),
            ("TSH_APP_LOCAL_PROXY", 4),
            ("TSH_DB_EXEC", 5),
            ("TSH_APP_AWS_CREDENTIALPROCESS", 6));
        // §4.4
        yield return E("proto.Operation", ("INIT", 0), ("PUT", 1), ("DELETE", 2));
        // §3.6
        yield return E(
            "teleport.join.v1.GivingUp.Reason",
            ("REASON_UNSPECIFIED", 0),
            ("REASON_UNSUPPORTED_JOIN_METHOD", 1),
            ("REASON_UNSUPPORTED_MESSAGE_TYPE", 2),
            ("REASON_CHALLENGE_SOLUTION_FAILED", 3));
    }

    [TestCaseSource(nameof(Enums))]
    public void Enum_values_match_upstream(string enumName, (string Name, int Number)[] expected)
    {
        var lastDot = enumName.LastIndexOf('.');
        var container = enumName[..lastDot];
        var shortName = enumName[(lastDot + 1)..];
        var enumDescriptor = MessagesByName.TryGetValue(container, out var parent)
            ? parent.EnumTypes.Single(e => e.Name == shortName)
            : Files.Concat(Files.SelectMany(f => f.Dependencies))
                .SelectMany(f => f.EnumTypes)
                .First(e => e.FullName == enumName);

        Assert.That(enumDescriptor.Values.Select(v => (v.Name, v.Number)), Is.EqualTo(expected));
    }

    public static IEnumerable<TestCaseData> Methods()
    {
        static TestCaseData M(ServiceDescriptor service, string method, string path, string input, string output, bool clientStreaming = false, bool serverStreaming = false) =>
            new TestCaseData(service, method, path, input, output, clientStreaming, serverStreaming).SetArgDisplayNames(path);

        var auth = AuthService.Descriptor;
        yield return M(auth, "GenerateUserCerts", "/proto.AuthService/GenerateUserCerts", "proto.UserCertsRequest", "proto.Certs");
        yield return M(auth, "GetClusterCACert", "/proto.AuthService/GetClusterCACert", "google.protobuf.Empty", "proto.GetClusterCACertResponse");
        yield return M(auth, "Ping", "/proto.AuthService/Ping", "proto.PingRequest", "proto.PingResponse");
        yield return M(auth, "GetRole", "/proto.AuthService/GetRole", "proto.GetRoleRequest", "types.RoleV6");
        yield return M(auth, "WatchEvents", "/proto.AuthService/WatchEvents", "proto.Watch", "proto.Event", serverStreaming: true);
        yield return M(LegacyJoinService.Descriptor, "RegisterUsingBoundKeypairMethod", "/proto.JoinService/RegisterUsingBoundKeypairMethod",
            "proto.RegisterUsingBoundKeypairMethodRequest", "proto.RegisterUsingBoundKeypairMethodResponse", clientStreaming: true, serverStreaming: true);
        yield return M(LegacyJoinService.Descriptor, "RegisterUsingToken", "/proto.JoinService/RegisterUsingToken", "types.RegisterUsingTokenRequest", "proto.Certs");
        yield return M(UnifiedJoinService.Descriptor, "Join", "/teleport.join.v1.JoinService/Join", "teleport.join.v1.JoinRequest", "teleport.join.v1.JoinResponse", clientStreaming: true, serverStreaming: true);
        yield return M(TrustService.Descriptor, "GetCertAuthority", "/teleport.trust.v1.TrustService/GetCertAuthority", "teleport.trust.v1.GetCertAuthorityRequest", "types.CertAuthorityV2");
        yield return M(TrustService.Descriptor, "GetCertAuthorities", "/teleport.trust.v1.TrustService/GetCertAuthorities", "teleport.trust.v1.GetCertAuthoritiesRequest", "teleport.trust.v1.GetCertAuthoritiesResponse");
        yield return M(TransportService.Descriptor, "ProxySSH", "/teleport.transport.v1.TransportService/ProxySSH", "teleport.transport.v1.ProxySSHRequest", "teleport.transport.v1.ProxySSHResponse", clientStreaming: true, serverStreaming: true);
        yield return M(TransportService.Descriptor, "ProxyCluster", "/teleport.transport.v1.TransportService/ProxyCluster", "teleport.transport.v1.ProxyClusterRequest", "teleport.transport.v1.ProxyClusterResponse", clientStreaming: true, serverStreaming: true);
        yield return M(TransportService.Descriptor, "GetClusterDetails", "/teleport.transport.v1.TransportService/GetClusterDetails", "teleport.transport.v1.GetClusterDetailsRequest", "teleport.transport.v1.GetClusterDetailsResponse");
        yield return M(BotInstanceService.Descriptor, "SubmitHeartbeat", "/teleport.machineid.v1.BotInstanceService/SubmitHeartbeat", "teleport.machineid.v1.SubmitHeartbeatRequest", "teleport.machineid.v1.SubmitHeartbeatResponse");
        yield return M(BotInstanceService.Descriptor, "GetBotInstance", "/teleport.machineid.v1.BotInstanceService/GetBotInstance", "teleport.machineid.v1.GetBotInstanceRequest", "teleport.machineid.v1.BotInstance");
        yield return M(BotInstanceService.Descriptor, "ListBotInstances", "/teleport.machineid.v1.BotInstanceService/ListBotInstances", "teleport.machineid.v1.ListBotInstancesRequest", "teleport.machineid.v1.ListBotInstancesResponse");
        yield return M(ClusterConfigService.Descriptor, "GetAuthPreference", "/teleport.clusterconfig.v1.ClusterConfigService/GetAuthPreference", "teleport.clusterconfig.v1.GetAuthPreferenceRequest", "types.AuthPreferenceV2");
    }

    [TestCaseSource(nameof(Methods))]
    public void Service_method_path_and_shape_match_upstream(
        ServiceDescriptor service, string method, string path, string input, string output, bool clientStreaming, bool serverStreaming)
    {
        var descriptor = service.FindMethodByName(method);
        Assert.That(descriptor, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That($"/{service.FullName}/{descriptor.Name}", Is.EqualTo(path));
            Assert.That(descriptor.InputType.FullName, Is.EqualTo(input));
            Assert.That(descriptor.OutputType.FullName, Is.EqualTo(output));
            Assert.That(descriptor.IsClientStreaming, Is.EqualTo(clientStreaming));
            Assert.That(descriptor.IsServerStreaming, Is.EqualTo(serverStreaming));
        });
    }

    [Test]
    public void Generated_client_stubs_call_the_upstream_paths()
    {
        // Drives the generated clients (not just the descriptors) through an invoker that records
        // the method each call would send on the wire.
        var invoker = new RecordingCallInvoker();
        Assert.Multiple(() =>
        {
            Assert.That(invoker.PathOf(() => new AuthService.AuthServiceClient(invoker).GenerateUserCerts(new UserCertsRequest())), Is.EqualTo(("/proto.AuthService/GenerateUserCerts", MethodType.Unary)));
            Assert.That(invoker.PathOf(() => new AuthService.AuthServiceClient(invoker).WatchEvents(new Watch())), Is.EqualTo(("/proto.AuthService/WatchEvents", MethodType.ServerStreaming)));
            Assert.That(invoker.PathOf(() => new LegacyJoinService.JoinServiceClient(invoker).RegisterUsingToken(new RegisterUsingTokenRequest())), Is.EqualTo(("/proto.JoinService/RegisterUsingToken", MethodType.Unary)));
            Assert.That(invoker.PathOf(() => new LegacyJoinService.JoinServiceClient(invoker).RegisterUsingBoundKeypairMethod()),
                Is.EqualTo(("/proto.JoinService/RegisterUsingBoundKeypairMethod", MethodType.DuplexStreaming)));
            Assert.That(invoker.PathOf(() => new UnifiedJoinService.JoinServiceClient(invoker).Join()), Is.EqualTo(("/teleport.join.v1.JoinService/Join", MethodType.DuplexStreaming)));
            Assert.That(invoker.PathOf(() => new TransportService.TransportServiceClient(invoker).ProxySSH()), Is.EqualTo(("/teleport.transport.v1.TransportService/ProxySSH", MethodType.DuplexStreaming)));
            Assert.That(invoker.PathOf(() => new TrustService.TrustServiceClient(invoker).GetCertAuthority(new GetCertAuthorityRequest())), Is.EqualTo(("/teleport.trust.v1.TrustService/GetCertAuthority", MethodType.Unary)));
            Assert.That(invoker.PathOf(() => new BotInstanceService.BotInstanceServiceClient(invoker).SubmitHeartbeat(new SubmitHeartbeatRequest())), Is.EqualTo(("/teleport.machineid.v1.BotInstanceService/SubmitHeartbeat", MethodType.Unary)));
            Assert.That(invoker.PathOf(() => new ClusterConfigService.ClusterConfigServiceClient(invoker).GetAuthPreference(new GetAuthPreferenceRequest())), Is.EqualTo(("/teleport.clusterconfig.v1.ClusterConfigService/GetAuthPreference", MethodType.Unary)));
        });
    }

    [Test]
    public void UserCertsRequest_encodes_to_hand_computed_bytes()
    {
        var request = new UserCertsRequest
        {
            Username = "bot-a",
            Expires = new Timestamp { Seconds = 1_700_000_000 },
            UseRoleRequests = true,
            SSHPublicKey = ByteString.CopyFrom(0x41),
            ReissuableRoleImpersonation = true,
        };

        byte[] expected =
        [
            0x12, 0x05, (byte)'b', (byte)'o', (byte)'t', (byte)'-', (byte)'a', // 2: Username
            0x1A, 0x06, 0x08, 0x80, 0xE2, 0xCF, 0xAA, 0x06, // 3: Expires { seconds = 1700000000 }
            0x70, 0x01, // 14: UseRoleRequests (14 << 3 | varint = 0x70)
            0xB2, 0x01, 0x01, 0x41, // 22: SSHPublicKey (22 << 3 | len = 178 = B2 01)
            0xD8, 0x01, 0x01, // 27: ReissuableRoleImpersonation (27 << 3 = 216 = D8 01)
        ];

        Assert.That(request.ToByteArray(), Is.EqualTo(expected));
        Assert.That(UserCertsRequest.Parser.ParseFrom(expected), Is.EqualTo(request));
    }

    [Test]
    public void Join_ClientInit_encodes_to_hand_computed_bytes_and_keeps_optional_presence()
    {
        var request = new JoinRequest
        {
            ClientInit = new ClientInit { JoinMethod = "token", TokenName = "secret", SystemRole = "Bot" },
        };

        byte[] expected =
        [
            0x0A, 0x14, // 1: client_init, 20 bytes
            0x0A, 0x05, (byte)'t', (byte)'o', (byte)'k', (byte)'e', (byte)'n',
            0x12, 0x06, (byte)'s', (byte)'e', (byte)'c', (byte)'r', (byte)'e', (byte)'t',
            0x1A, 0x03, (byte)'B', (byte)'o', (byte)'t',
        ];

        Assert.Multiple(() =>
        {
            Assert.That(request.ToByteArray(), Is.EqualTo(expected));
            // An explicitly empty optional string is still sent; a plain proto3 string would not be.
            Assert.That(new ClientInit { JoinMethod = string.Empty }.ToByteArray(), Is.EqualTo(new byte[] { 0x0A, 0x00 }));
            Assert.That(new ClientInit().HasJoinMethod, Is.False);
        });
    }

    [Test]
    public void Legacy_bound_keypair_messages_encode_to_hand_computed_bytes()
    {
        var init = new RegisterUsingBoundKeypairMethodRequest
        {
            Init = new RegisterUsingBoundKeypairInitialRequest { InitialJoinSecret = "s", PreviousJoinState = ByteString.CopyFrom(0x01) },
        };
        var rotation = new RegisterUsingBoundKeypairMethodResponse
        {
            Rotation = new RegisterUsingBoundKeypairRotationRequest { SignatureAlgorithmSuite = Teleport.MachineId.Wire.Proto.Legacy.Types.SignatureAlgorithmSuite.BalancedV1 },
        };
        var certs = new RegisterUsingBoundKeypairMethodResponse
        {
            Certs = new RegisterUsingBoundKeypairCertificates { JoinState = ByteString.CopyFrom(0x02), PublicKey = "k" },
        };

        Assert.Multiple(() =>
        {
            // 1: init { 2: initial_join_secret "s", 3: previous_join_state 0x01 }
            Assert.That(init.ToByteArray(), Is.EqualTo(new byte[] { 0x0A, 0x06, 0x12, 0x01, (byte)'s', 0x1A, 0x01, 0x01 }));
            // 3: rotation { 1: suite = varint 2 (balanced-v1, an enum here, a name in teleport.join.v1) }
            Assert.That(rotation.ToByteArray(), Is.EqualTo(new byte[] { 0x1A, 0x02, 0x08, 0x02 }));
            // 2: certs { 2: join_state 0x02, 3: public_key "k" }
            Assert.That(certs.ToByteArray(), Is.EqualTo(new byte[] { 0x12, 0x06, 0x12, 0x01, 0x02, 0x1A, 0x01, (byte)'k' }));
            Assert.That(new RegisterUsingBoundKeypairMethodRequest { ChallengeResponse = new RegisterUsingBoundKeypairChallengeResponse { Solution = ByteString.CopyFromUtf8("j") } }.ToByteArray(),
                Is.EqualTo(new byte[] { 0x12, 0x03, 0x0A, 0x01, (byte)'j' }));
            Assert.That(new RegisterUsingBoundKeypairMethodRequest { RotationResponse = new RegisterUsingBoundKeypairRotationResponse { PublicKey = "p" } }.ToByteArray(),
                Is.EqualTo(new byte[] { 0x1A, 0x03, 0x0A, 0x01, (byte)'p' }));
            Assert.That(new RegisterUsingBoundKeypairMethodResponse { Challenge = new RegisterUsingBoundKeypairChallenge { PublicKey = "p", Challenge = "c" } }.ToByteArray(),
                Is.EqualTo(new byte[] { 0x0A, 0x06, 0x0A, 0x01, (byte)'p', 0x12, 0x01, (byte)'c' }));
        });
    }

    [Test]
    public void Event_with_cert_authority_encodes_oneof_member_3()
    {
        var watchEvent = new Event
        {
            Type = Operation.Put,
            CertAuthority = new CertAuthorityV2 { Kind = "cert_authority" },
        };

        var expected = new List<byte> { 0x08, 0x01, 0x1A, 0x10, 0x0A, 0x0E };
        expected.AddRange("cert_authority"u8.ToArray());

        Assert.That(watchEvent.ToByteArray(), Is.EqualTo(expected));
        Assert.That(Event.Parser.ParseFrom(expected.ToArray()).ResourceCase, Is.EqualTo(Event.ResourceOneofCase.CertAuthority));
    }

    [Test]
    public void Role_durations_are_plain_int64_nanoseconds_and_labels_are_LabelValues()
    {
        var spec = new RoleSpecV6
        {
            Options = new RoleOptions { MaxSessionTTL = 12L * 3600 * 1_000_000_000 },
            Allow = new RoleConditions { NodeLabels = new LabelValues() },
        };
        spec.Allow.NodeLabels.Values.Add("*", new StringValues { Values = { "*" } });

        byte[] expected =
        [
            0x0A, 0x08, // 1: Options, 8 bytes
            0x10, 0x80, 0x80, 0x9E, 0xC5, 0xA4, 0xE9, 0x09, // 2: MaxSessionTTL = 43200000000000 ns, varint
            0x12, 0x0C, // 2: Allow, 12 bytes
            0x1A, 0x0A, // 3: NodeLabels (wrappers.LabelValues), 10 bytes
            0x0A, 0x08, // 1: Values map entry
            0x0A, 0x01, (byte)'*', // key
            0x12, 0x03, 0x0A, 0x01, (byte)'*', // value: StringValues { Values = ["*"] }
        ];

        Assert.That(spec.ToByteArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Certs_decode_from_hand_built_bytes_and_unknown_fields_survive_a_round_trip()
    {
        byte[] wire =
        [
            0x0A, 0x02, (byte)'s', (byte)'h', // 1: SSH
            0x12, 0x02, (byte)'t', (byte)'l', // 2: TLS
            0x1A, 0x01, (byte)'a', // 3: TLSCACerts[0]
            0x1A, 0x01, (byte)'b', // 3: TLSCACerts[1]
            0x22, 0x01, (byte)'c', // 4: SSHCACerts[0]
            0xA0, 0x06, 0x07, // 100: a field a newer server might add (varint 7)
        ];

        var certs = Certs.Parser.ParseFrom(wire);

        Assert.Multiple(() =>
        {
            Assert.That(certs.SSH.ToStringUtf8(), Is.EqualTo("sh"));
            Assert.That(certs.TLS.ToStringUtf8(), Is.EqualTo("tl"));
            Assert.That(certs.TLSCACerts.Select(c => c.ToStringUtf8()), Is.EqualTo(new[] { "a", "b" }));
            Assert.That(certs.SSHCACerts.Select(c => c.ToStringUtf8()), Is.EqualTo(new[] { "c" }));
            Assert.That(certs.ToByteArray(), Is.EqualTo(wire));
        });
    }

    /// <summary>Records the method of the first call made through it, then fails the call.</summary>
    private sealed class RecordingCallInvoker : CallInvoker
    {
        private (string Path, MethodType Type)? _last;

        public (string Path, MethodType Type) PathOf(Action call)
        {
            _last = null;
            Assert.Throws<RecordedCallException>(() => call());
            return _last ?? throw new AssertionException("no call was made");
        }

        private RecordedCallException Record<TRequest, TResponse>(Method<TRequest, TResponse> method)
        {
            _last = (method.FullName, method.Type);
            return new RecordedCallException();
        }

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw Record(method);

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw Record(method);

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw Record(method);

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw Record(method);

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw Record(method);
    }

    private sealed class RecordedCallException : Exception
    {
        public RecordedCallException()
            : base("call recorded")
        {
        }
    }
}
