using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tls;
using Teleport.MachineId.Wire.Proto.Join.V1;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary><c>teleport.join.v1.JoinService/Join</c> (teleport-protocol.md §3.6) for the token method.</summary>
public sealed class UnifiedJoinTests
{
    private static Task<TeleportEmulator> StartAsync(EmulatorJoinApis apis = EmulatorJoinApis.LegacyAndUnified) =>
        EmulatorScenario.StartAsync(new TeleportEmulatorOptions { JoinApis = apis });

    [TestCase(true)]
    [TestCase(false)]
    public async Task Token_join_flow_returns_DER_and_SSH_wire_certificates(bool throughProxy)
    {
        await using var cluster = await StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var channel = throughProxy ? EmulatorClient.ProxyGrpc(cluster) : EmulatorClient.AuthDirect(cluster);
        using var call = new JoinService.JoinServiceClient(channel).Join(EmulatorClient.Options());

        await call.RequestStream.WriteAsync(new JoinRequest { ClientInit = new ClientInit { JoinMethod = "token", TokenName = token.Name, SystemRole = "Bot" } });
        Assert.That(await call.ResponseStream.MoveNext(), Is.True);
        var init = call.ResponseStream.Current.Init;
        Assert.That(init.JoinMethod, Is.EqualTo("token"));
        Assert.That(init.SignatureAlgorithmSuite, Is.EqualTo("balanced-v1"));

        // Keys are generated after ServerInit, from its suite.
        using var key = PrivateKey.Generate(SignatureAlgorithm(init.SignatureAlgorithmSuite), KeyPurpose.BotIdentity);
        await call.RequestStream.WriteAsync(new JoinRequest
        {
            TokenInit = new TokenInit
            {
                ClientParams = new ClientParams
                {
                    BotParams = new BotParams
                    {
                        PublicKeys = new PublicKeys
                        {
                            PublicTlsKey = ByteString.CopyFrom(key.PublicKey.ExportSubjectPublicKeyInfo()),
                            PublicSshKey = ByteString.CopyFrom(key.PublicKey.ToSshWire()),
                        },
                        Expires = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(30)),
                    },
                },
            },
        });
        Assert.That(await call.ResponseStream.MoveNext(), Is.True);
        var certificates = call.ResponseStream.Current.Result.BotResult.Certificates;
        await call.RequestStream.CompleteAsync();

        var tls = TeleportTlsIdentity.FromDer(certificates.TlsCert.Span);
        var ssh = SshCertificate.FromWire(certificates.SshCert.Span);
        Assert.That(tls.Username, Is.EqualTo("bot-robot"));
        Assert.That(tls.IsRenewable, Is.True);
        Assert.That(tls.Generation, Is.EqualTo(1));
        Assert.That(ssh.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(ssh.GetTeleportInfo().BotInstanceId, Is.EqualTo(tls.BotInstanceId));
        Assert.That(certificates.TlsCaCerts, Has.Count.EqualTo(2));
        Assert.That(PublicKeyInfo.FromSshWire(certificates.SshCaKeys[0].Span), Is.EqualTo(cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.User)[0]));
        Assert.That(cluster.JoinTokenExists(token.Name), Is.False);
    }

    [Test]
    public async Task Giving_up_ends_the_join_and_keeps_the_token()
    {
        await using var cluster = await StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var channel = EmulatorClient.ProxyGrpc(cluster);
        using var call = new JoinService.JoinServiceClient(channel).Join(EmulatorClient.Options());

        await call.RequestStream.WriteAsync(new JoinRequest { ClientInit = new ClientInit { TokenName = token.Name, SystemRole = "Bot" } });
        Assert.That(await call.ResponseStream.MoveNext(), Is.True);
        await call.RequestStream.WriteAsync(new JoinRequest
        {
            GivingUp = new GivingUp { Reason = GivingUp.Types.Reason.UnsupportedJoinMethod, Msg = "no such method here" },
        });
        var error = Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.That(error!.Status.Detail, Does.Contain("client gave up"));
        Assert.That(cluster.JoinTokenExists(token.Name), Is.True);
        Assert.That(cluster.AuditEvents.Single().Message, Does.Contain("no such method here"));
    }

    [Test]
    public async Task Unknown_token_is_refused_before_ServerInit()
    {
        await using var cluster = await StartAsync();
        using var channel = EmulatorClient.ProxyGrpc(cluster);
        using var call = new JoinService.JoinServiceClient(channel).Join(EmulatorClient.Options());

        await call.RequestStream.WriteAsync(new JoinRequest { ClientInit = new ClientInit { TokenName = "nope", SystemRole = "Bot" } });
        var error = Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
    }

    [Test]
    public async Task A_different_join_method_is_a_bad_parameter()
    {
        await using var cluster = await StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var channel = EmulatorClient.ProxyGrpc(cluster);
        using var call = new JoinService.JoinServiceClient(channel).Join(EmulatorClient.Options());

        await call.RequestStream.WriteAsync(new JoinRequest { ClientInit = new ClientInit { JoinMethod = "iam", TokenName = token.Name, SystemRole = "Bot" } });
        var error = Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
        Assert.That(error.Status.Detail, Does.Contain("provision token only supports method token"));
    }

    [Test]
    public async Task The_first_message_must_be_ClientInit()
    {
        await using var cluster = await StartAsync();
        using var channel = EmulatorClient.ProxyGrpc(cluster);
        using var call = new JoinService.JoinServiceClient(channel).Join(EmulatorClient.Options());

        await call.RequestStream.WriteAsync(new JoinRequest { TokenInit = new TokenInit() });
        var error = Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
    }

    [Test]
    public async Task Version_18_0_does_not_serve_the_unified_join()
    {
        await using var cluster = await StartAsync(EmulatorJoinApis.Legacy);
        using var channel = EmulatorClient.ProxyGrpc(cluster);
        using var call = new JoinService.JoinServiceClient(channel).Join(EmulatorClient.Options());

        var error = Assert.ThrowsAsync<RpcException>(async () =>
        {
            await call.RequestStream.WriteAsync(new JoinRequest { ClientInit = new ClientInit { TokenName = "x", SystemRole = "Bot" } });
            await call.ResponseStream.MoveNext();
        });

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.Unimplemented), "clients fall back to the legacy join on Unimplemented");
    }

    private static SignatureAlgorithmSuite SignatureAlgorithm(string name) => SignatureAlgorithmSuite.Parse(name);
}
