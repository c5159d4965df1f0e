using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Proto.Legacy.Types;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>Common set-ups: a cluster with an <c>access</c> role and a bot, and joining it.</summary>
internal static class EmulatorScenario
{
    public const string BotName = "robot";
    public const string AccessRole = "access";

    public static async Task<TeleportEmulator> StartAsync(TeleportEmulatorOptions? options = null)
    {
        var cluster = await TeleportEmulator.StartAsync(options ?? new TeleportEmulatorOptions());
        cluster.UpsertRole(new EmulatorRole
        {
            Name = AccessRole,
            Logins = ["root", "ubuntu"],
            NodeLabels = EmulatorRole.AllNodes,
            MaxSessionTtl = TimeSpan.FromHours(8),
        });
        cluster.AddBot(new EmulatorBot { Name = BotName, Roles = [AccessRole] });
        return cluster;
    }

    public static RegisterUsingTokenRequest JoinRequest(PrivateKey key, string token, DateTimeOffset? expires = null) => new()
    {
        Token = token,
        Role = "Bot",
        PublicTLSKey = ByteString.CopyFromUtf8(key.PublicKey.ExportPem()),
        PublicSSHKey = ByteString.CopyFromUtf8(key.PublicKey.ToAuthorizedKey() + "\n"),
        Expires = expires is { } e ? Timestamp.FromDateTimeOffset(e) : null,
    };

    /// <summary>Joins the bot with a fresh token through Auth's <c>RegisterUsingToken</c>.</summary>
    public static async Task<TestIdentity> JoinAsync(TeleportEmulator cluster, string botName = BotName, DateTimeOffset? expires = null)
    {
        var token = cluster.CreateJoinToken(botName);
        var key = PrivateKey.Generate(cluster.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);
        using var channel = EmulatorClient.AuthDirect(cluster);
        var certs = await new JoinService.JoinServiceClient(channel).RegisterUsingTokenAsync(JoinRequest(key, token.Name, expires), EmulatorClient.Options());
        return TestIdentity.FromCerts(key, certs);
    }

    /// <summary>Renews a bot identity with <c>GenerateUserCerts</c> (no role requests), as tbot does.</summary>
    public static async Task<TestIdentity> RenewAsync(TeleportEmulator cluster, TestIdentity identity, TimeSpan? ttl = null)
    {
        var key = PrivateKey.Generate(cluster.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);
        using var channel = EmulatorClient.Auth(cluster, identity.ClientCertificate);
        var certs = await new AuthService.AuthServiceClient(channel).GenerateUserCertsAsync(new UserCertsRequest
        {
            Username = identity.Tls.Username,
            Expires = Timestamp.FromDateTimeOffset(cluster.TimeProvider.GetUtcNow() + (ttl ?? TimeSpan.FromHours(1))),
            SSHPublicKey = ByteString.CopyFromUtf8(key.PublicKey.ToAuthorizedKey() + "\n"),
            TLSPublicKey = ByteString.CopyFromUtf8(key.PublicKey.ExportPem()),
        }, EmulatorClient.Options());
        return TestIdentity.FromCerts(key, certs);
    }

    /// <summary>Requests an impersonated identity for roles, as tbot's identity output does.</summary>
    public static async Task<TestIdentity> ImpersonateAsync(TeleportEmulator cluster, TestIdentity identity, string[] roles,
        TimeSpan? ttl = null, bool reissuable = false, string routeToCluster = "")
    {
        var key = PrivateKey.Generate(cluster.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
        using var channel = EmulatorClient.Auth(cluster, identity.ClientCertificate);
        var request = new UserCertsRequest
        {
            Username = identity.Tls.Username,
            Expires = Timestamp.FromDateTimeOffset(cluster.TimeProvider.GetUtcNow() + (ttl ?? TimeSpan.FromHours(1))),
            SSHPublicKey = ByteString.CopyFromUtf8(key.PublicKey.ToAuthorizedKey() + "\n"),
            TLSPublicKey = ByteString.CopyFromUtf8(key.PublicKey.ExportPem()),
            UseRoleRequests = true,
            ReissuableRoleImpersonation = reissuable,
            RouteToCluster = routeToCluster,
        };
        request.RoleRequests.AddRange(roles);
        var certs = await new AuthService.AuthServiceClient(channel).GenerateUserCertsAsync(request, EmulatorClient.Options());
        return TestIdentity.FromCerts(key, certs);
    }
}
