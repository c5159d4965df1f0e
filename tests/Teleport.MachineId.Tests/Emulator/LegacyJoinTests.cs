using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire.Proto.Legacy.Client;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>
/// Legacy token joins (<c>proto.JoinService/RegisterUsingToken</c> on Auth and on <c>teleport-proxy-grpc</c>),
/// asserting the certificate contents against teleport-protocol.md §3.7, §8.1 and §8.2, and the
/// emulator's side of the legacy bound keypair stream (<c>RegisterUsingBoundKeypairMethod</c>) driven raw.
/// </summary>
public sealed class LegacyJoinTests
{
    [TestCase(false)]
    [TestCase(true)]
    public async Task Bot_identity_has_the_fields_Teleport_sets(bool throughProxy)
    {
        var start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var clock = new FakeTimeProvider(start);
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        using var channel = throughProxy ? EmulatorClient.ProxyGrpc(cluster) : EmulatorClient.AuthDirect(cluster);

        var certs = await new JoinService.JoinServiceClient(channel).RegisterUsingTokenAsync(
            EmulatorScenario.JoinRequest(key, token.Name), EmulatorClient.Options());

        var instance = cluster.BotInstances.Single();
        Assert.That(instance.BotName, Is.EqualTo("robot"));
        Assert.That(instance.Generation, Is.EqualTo(1));
        Assert.That(Guid.TryParse(instance.InstanceId, out _), Is.True);

        // §8.1 SSH certificate of a bot identity.
        var ssh = SshCertificate.ParseAuthorizedKey(certs.SSH.ToStringUtf8());
        Assert.That(certs.SSH.ToStringUtf8(), Does.EndWith("\n"));
        Assert.That(ssh.Type, Is.EqualTo(SshCertificateType.User));
        Assert.That(ssh.KeyId, Is.EqualTo("bot-robot"));
        Assert.That(ssh.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(ssh.Principals, Has.Count.EqualTo(2));
        Assert.That(ssh.Principals[0], Does.Match("^-teleport-nologin-[0-9a-f-]{36}$"));
        Assert.That(ssh.Principals[1], Is.EqualTo("-teleport-internal-join"));
        Assert.That(ssh.ValidAfter, Is.EqualTo(start.AddMinutes(-1)));
        Assert.That(ssh.ValidBefore, Is.EqualTo(start.AddHours(1)), "default expiry: now + 1h");
        Assert.That(ssh.SignatureKey, Is.EqualTo(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)[0]));
        Assert.That(ssh.VerifySignature(), Is.True);
        var info = ssh.GetTeleportInfo();
        Assert.That(info.Roles, Is.EqualTo(new[] { "bot-robot" }));
        Assert.That(info.Renewable, Is.True);
        Assert.That(info.Generation, Is.EqualTo(1));
        Assert.That(info.BotName, Is.EqualTo("robot"));
        Assert.That(info.BotInstanceId, Is.EqualTo(instance.InstanceId));
        Assert.That(info.RouteToCluster, Is.EqualTo(cluster.ClusterName));
        Assert.That(info.PermitPty, Is.True);
        Assert.That(info.Impersonator, Is.Null);
        Assert.That(info.DisallowReissue, Is.False);

        // §8.2 X.509 identity of a bot.
        var identity = TestIdentity.FromCerts(key, certs);
        var tls = identity.Tls;
        Assert.That(tls.Username, Is.EqualTo("bot-robot"));
        Assert.That(tls.Roles, Is.EqualTo(new[] { "bot-robot" }));
        Assert.That(tls.ClusterName, Is.EqualTo(cluster.ClusterName), "issuer O");
        Assert.That(tls.TeleportCluster, Is.EqualTo(cluster.ClusterName));
        Assert.That(tls.IsRenewable, Is.True);
        Assert.That(tls.Generation, Is.EqualTo(1));
        Assert.That(tls.BotName, Is.EqualTo("robot"));
        Assert.That(tls.BotInstanceId, Is.EqualTo(instance.InstanceId));
        Assert.That(tls.Principals, Is.EquivalentTo(ssh.Principals), "L: one multi-valued RDN, DER-sorted");
        Assert.That(tls.RouteToCluster, Is.EqualTo(cluster.ClusterName));
        Assert.That(tls.NotBefore, Is.EqualTo(start.AddMinutes(-1)));
        Assert.That(tls.NotAfter, Is.EqualTo(start.AddHours(1)));
        Assert.That(tls.Impersonator, Is.Null);
        using (var joinAttributes = JsonDocument.Parse(tls.JoinAttributesJson!))
        {
            Assert.That(joinAttributes.RootElement.GetProperty("meta").GetProperty("join_method").GetString(), Is.EqualTo("token"));
        }

        Assert.That(identity.TlsCertificate!.Issuer, Is.EqualTo(cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.User)[0].Subject));

        // §3.5: bot certificates carry the user and host CAs.
        Assert.That(identity.TlsCaPems, Is.EqualTo(new[]
        {
            cluster.GetCertificateAuthorityPem(CertificateAuthorityType.User),
            cluster.GetCertificateAuthorityPem(CertificateAuthorityType.Host),
        }));
        Assert.That(identity.SshCaLines, Is.EqualTo(new[]
        {
            cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)[0].ToAuthorizedKey() + "\n",
            cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host)[0].ToAuthorizedKey() + "\n",
        }));
        Assert.That(cluster.JoinTokenExists(token.Name), Is.False);
        Assert.That(cluster.AuditEvents.Single(e => e.Type == "bot.join").Success, Is.True);
        Assert.That(cluster.IssuedCertificates.Single().Kind, Is.EqualTo(IssuedCertificateKind.BotJoin));
    }

    [Test]
    public async Task Legacy_suite_signs_SSH_certificates_with_rsa_sha2_512()
    {
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { SignatureAlgorithmSuite = SignatureAlgorithmSuite.Legacy });

        using var identity = await EmulatorScenario.JoinAsync(cluster);

        Assert.That(identity.SshCertificate!.SignatureAlgorithm, Is.EqualTo("rsa-sha2-512"));
        Assert.That(identity.Key.Algorithm, Is.EqualTo(KeyAlgorithm.Rsa));
    }

    private static IEnumerable<TestCaseData> TtlCases()
    {
        // requested TTL, bot max_session_ttl, expected TTL (§3.7: cap 7 days, then the bot role's max_session_ttl, default 12h)
        yield return new TestCaseData(null, null, TimeSpan.FromHours(1)).SetArgDisplayNames("default 1h");
        yield return new TestCaseData(TimeSpan.FromHours(30), null, TimeSpan.FromHours(12)).SetArgDisplayNames("bot role default 12h");
        yield return new TestCaseData(TimeSpan.FromHours(30), TimeSpan.FromHours(2), TimeSpan.FromHours(2)).SetArgDisplayNames("bot max_session_ttl");
        yield return new TestCaseData(TimeSpan.FromDays(30), TimeSpan.FromDays(10), TimeSpan.FromDays(7)).SetArgDisplayNames("7 day cap");
    }

    [TestCaseSource(nameof(TtlCases))]
    public async Task Join_expiry_is_capped(TimeSpan? requested, TimeSpan? botMaxTtl, TimeSpan expected)
    {
        var start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var clock = new FakeTimeProvider(start);
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        cluster.AddBot(new EmulatorBot { Name = "ttl", MaxSessionTtl = botMaxTtl });

        using var identity = await EmulatorScenario.JoinAsync(cluster, "ttl", requested is { } ttl ? start + ttl : null);

        Assert.That(identity.Tls.NotAfter, Is.EqualTo(start + expected));
        Assert.That(identity.SshCertificate!.ValidBefore, Is.EqualTo(start + expected));
        Assert.That(cluster.IssuedCertificates.Single().GrantedTtl, Is.EqualTo(expected));
    }

    [Test]
    public async Task Unknown_token_is_PermissionDenied_with_Teleports_message()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        using var channel = EmulatorClient.AuthDirect(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () => await new JoinService.JoinServiceClient(channel)
            .RegisterUsingTokenAsync(EmulatorScenario.JoinRequest(key, "no-such-token"), EmulatorClient.Options()));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(error.Status.Detail, Does.Contain("token expired or not found"));
        Assert.That(cluster.AuditEvents.Single().Success, Is.False);
    }

    [Test]
    public async Task A_token_joins_only_once_even_under_concurrency()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var channel = EmulatorClient.AuthDirect(cluster);
        var client = new JoinService.JoinServiceClient(channel);

        var attempts = Enumerable.Range(0, 8).Select(async _ =>
        {
            using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
            try
            {
                await client.RegisterUsingTokenAsync(EmulatorScenario.JoinRequest(key, token.Name), EmulatorClient.Options());
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        });
        var results = await Task.WhenAll(attempts);

        Assert.That(results.Count(r => r == StatusCode.OK), Is.EqualTo(1));
        Assert.That(results.Count(r => r == StatusCode.PermissionDenied), Is.EqualTo(7));
        Assert.That(cluster.BotInstances, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Non_bot_role_with_a_bot_token_is_refused()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        using var channel = EmulatorClient.AuthDirect(cluster);
        var request = EmulatorScenario.JoinRequest(key, token.Name);
        request.Role = "Node";
        request.HostID = Guid.NewGuid().ToString();

        var error = Assert.ThrowsAsync<RpcException>(async () =>
            await new JoinService.JoinServiceClient(channel).RegisterUsingTokenAsync(request, EmulatorClient.Options()));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
        Assert.That(error.Status.Detail, Does.Contain("does not allow \"Node\" role"));
    }

    [TestCase(false, "balanced-v1", 2)]
    [TestCase(true, "fips-v1", 3)]
    public async Task Bound_keypair_stream_registers_a_key_asked_for_with_the_suite_enum_and_returns_the_join_state(
        bool throughProxy, string suiteName, int expectedSuite)
    {
        var suite = SignatureAlgorithmSuite.Parse(suiteName);
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { SignatureAlgorithmSuite = suite });
        cluster.AddJoinToken(new EmulatorJoinToken
        {
            Name = "bkp", BotName = EmulatorScenario.BotName, JoinMethod = EmulatorJoinMethods.BoundKeypair,
            BoundKeypair = new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "raw-secret" },
        });
        using var key = PrivateKey.Generate(suite, KeyPurpose.BotIdentity);
        using var channel = throughProxy ? EmulatorClient.ProxyGrpc(cluster) : EmulatorClient.AuthDirect(cluster);
        using var call = new JoinService.JoinServiceClient(channel).RegisterUsingBoundKeypairMethod(EmulatorClient.Options());

        await call.RequestStream.WriteAsync(new RegisterUsingBoundKeypairMethodRequest
        {
            Init = new RegisterUsingBoundKeypairInitialRequest { JoinRequest = EmulatorScenario.JoinRequest(key, "bkp"), InitialJoinSecret = "raw-secret" },
        });
        Assert.That(await call.ResponseStream.MoveNext(), Is.True);
        var rotation = call.ResponseStream.Current;
        Assert.That(rotation.ResponseCase, Is.EqualTo(RegisterUsingBoundKeypairMethodResponse.ResponseOneofCase.Rotation), "registration asks for a key first");
        Assert.That((int)rotation.Rotation.SignatureAlgorithmSuite, Is.EqualTo(expectedSuite), "types.SignatureAlgorithmSuite enum value");

        using var bound = PrivateKey.Generate(suite, KeyPurpose.BoundKeypairJoining);
        await call.RequestStream.WriteAsync(new RegisterUsingBoundKeypairMethodRequest
        {
            RotationResponse = new RegisterUsingBoundKeypairRotationResponse { PublicKey = bound.PublicKey.ToAuthorizedKey() },
        });
        Assert.That(await call.ResponseStream.MoveNext(), Is.True);
        var challenge = call.ResponseStream.Current.Challenge;
        Assert.That(challenge.PublicKey, Is.EqualTo(bound.PublicKey.ToAuthorizedKey()), "the new key is proved before it is bound");
        await call.RequestStream.WriteAsync(new RegisterUsingBoundKeypairMethodRequest
        {
            ChallengeResponse = new RegisterUsingBoundKeypairChallengeResponse
            {
                Solution = Google.Protobuf.ByteString.CopyFromUtf8(CompactJws.Sign(bound, System.Text.Encoding.UTF8.GetBytes(challenge.Challenge))),
            },
        });
        Assert.That(await call.ResponseStream.MoveNext(), Is.True);
        var done = call.ResponseStream.Current;

        Assert.That(done.ResponseCase, Is.EqualTo(RegisterUsingBoundKeypairMethodResponse.ResponseOneofCase.Certs));
        Assert.That(done.Certs.PublicKey, Is.EqualTo(bound.PublicKey.ToAuthorizedKey()));
        Assert.That(done.Certs.JoinState.ToStringUtf8().Split('.'), Has.Length.EqualTo(3), "a signed JWT");
        Assert.That(SshCertificate.ParseAuthorizedKey(done.Certs.Certs.SSH.ToStringUtf8()).PublicKey, Is.EqualTo(key.PublicKey), "authorized_keys SSH certificate for the identity key");
        Assert.That(done.Certs.Certs.TLS.ToStringUtf8(), Does.StartWith("-----BEGIN CERTIFICATE-----"), "PEM TLS certificate");
        Assert.That(cluster.GetBoundKeypairStatus("bkp")!.BoundPublicKey, Is.EqualTo(bound.PublicKey.ToAuthorizedKey()));
        Assert.That(cluster.GetBoundKeypairStatus("bkp")!.RegistrationSecret, Is.Null);
    }

    [Test]
    public async Task Bound_keypair_stream_refuses_a_token_of_another_method_without_consuming_it()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        using var channel = EmulatorClient.ProxyGrpc(cluster);
        using var call = new JoinService.JoinServiceClient(channel).RegisterUsingBoundKeypairMethod(EmulatorClient.Options());

        await call.RequestStream.WriteAsync(new RegisterUsingBoundKeypairMethodRequest
        {
            Init = new RegisterUsingBoundKeypairInitialRequest { JoinRequest = EmulatorScenario.JoinRequest(key, token.Name) },
        });
        var error = Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
        Assert.That(error.Status.Detail, Does.Contain("bound_keypair"));
        Assert.That(error.Status.Detail, Does.Not.Contain(token.Name), "the token (a secret for the token method) is not echoed");
        Assert.That(cluster.BotInstances, Is.Empty);
        using var again = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        Assert.That(await new JoinService.JoinServiceClient(channel).RegisterUsingTokenAsync(EmulatorScenario.JoinRequest(again, token.Name), EmulatorClient.Options()),
            Is.Not.Null, "the token is still usable");
    }
}
