using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Testing.Proto.Join.V1;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// The client side of the unified join stream against a scripted server on a real Kestrel socket:
/// what it sends first, and <c>GivingUp</c> when it cannot go on.
/// </summary>
public sealed class WireJoinProtocolTests
{
    [Test]
    public async Task ClientInit_names_the_token_method_and_the_Bot_role_and_carries_only_that()
    {
        await using var server = await ScriptedJoinServer.StartAsync(new JoinResponse { Init = new ServerInit { JoinMethod = "iam", SignatureAlgorithmSuite = "balanced-v1" } });
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address, Insecure = true }, () => null);

        Assert.CatchAsync<TeleportException>(() => client.JoinWithTokenAsync("the-token", TimeSpan.FromHours(1)));

        var first = server.Received.First();
        Assert.That(first.PayloadCase, Is.EqualTo(JoinRequest.PayloadOneofCase.ClientInit));
        Assert.That(first.ClientInit.JoinMethod, Is.EqualTo("token"));
        Assert.That(first.ClientInit.TokenName, Is.EqualTo("the-token"));
        Assert.That(first.ClientInit.SystemRole, Is.EqualTo("Bot"));
        Assert.That(first.ClientInit.ForwardedByProxy, Is.False);
        Assert.That(first.ClientInit.ProxySuppliedParameters, Is.Null);
    }

    [Test]
    public async Task A_token_for_another_join_method_makes_the_client_give_up()
    {
        await using var server = await ScriptedJoinServer.StartAsync(new JoinResponse { Init = new ServerInit { JoinMethod = "iam", SignatureAlgorithmSuite = "balanced-v1" } });
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address, Insecure = true }, () => null);

        var error = Assert.ThrowsAsync<TeleportJoinException>(() => client.JoinWithTokenAsync("secret-value", TimeSpan.FromHours(1)));

        Assert.That(error!.Message, Does.Contain("'iam'"));
        Assert.That(error.Message, Does.Not.Contain("secret-value"));
        var givingUp = await server.GivingUp.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(givingUp.Reason, Is.EqualTo(GivingUp.Types.Reason.UnsupportedJoinMethod));
        Assert.That(server.Received.Any(r => r.PayloadCase == JoinRequest.PayloadOneofCase.TokenInit), Is.False, "no keys were sent");
    }

    [Test]
    public async Task An_unknown_suite_makes_the_client_give_up_before_generating_keys()
    {
        await using var server = await ScriptedJoinServer.StartAsync(new JoinResponse { Init = new ServerInit { JoinMethod = "token", SignatureAlgorithmSuite = "quantum-v9" } });
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address, Insecure = true }, () => null);

        Assert.ThrowsAsync<TeleportProtocolException>(() => client.JoinWithTokenAsync("t", TimeSpan.FromHours(1)));

        Assert.That((await server.GivingUp.Task.WaitAsync(TimeSpan.FromSeconds(30))).Msg, Does.Contain("suite"));
    }

    [Test]
    public async Task A_challenge_in_a_token_join_is_an_unexpected_message()
    {
        await using var server = await ScriptedJoinServer.StartAsync(
            new JoinResponse { Init = new ServerInit { JoinMethod = "token", SignatureAlgorithmSuite = "balanced-v1" } },
            new JoinResponse { Challenge = new Challenge { IamChallenge = new IAMChallenge() } });
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address, Insecure = true }, () => null);

        var error = Assert.ThrowsAsync<TeleportProtocolException>(() => client.JoinWithTokenAsync("t", TimeSpan.FromHours(1)));

        Assert.That(error!.Message, Does.Contain("Challenge"));
        Assert.That((await server.GivingUp.Task.WaitAsync(TimeSpan.FromSeconds(30))).Reason, Is.EqualTo(GivingUp.Types.Reason.UnsupportedMessageType));
        var tokenInit = server.Received.Single(r => r.PayloadCase == JoinRequest.PayloadOneofCase.TokenInit).TokenInit.ClientParams.BotParams;
        Assert.That(tokenInit.PublicKeys.PublicTlsKey.IsEmpty, Is.False, "PKIX DER TLS key");
        Assert.That(tokenInit.PublicKeys.PublicSshKey.IsEmpty, Is.False, "SSH wire key");
        Assert.That(Teleport.MachineId.Crypto.PublicKeyInfo.ImportSubjectPublicKeyInfo(tokenInit.PublicKeys.PublicTlsKey.Span),
            Is.EqualTo(Teleport.MachineId.Crypto.PublicKeyInfo.FromSshWire(tokenInit.PublicKeys.PublicSshKey.Span)), "one key pair for both");
        Assert.That(tokenInit.Expires, Is.Not.Null);
    }

    /// <summary>A unified join server that answers each request with the next scripted response and records what it received.</summary>
    private sealed class ScriptedJoinServer : IAsyncDisposable
    {
        private WebApplication? _app;

        private ScriptedJoinServer(JoinResponse[] script)
        {
            Script = script;
        }

        public HostPort Address { get; private set; }

        public JoinResponse[] Script { get; }

        public ConcurrentQueue<JoinRequest> Received { get; } = new();

        public TaskCompletionSource<GivingUp> GivingUp { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static async Task<ScriptedJoinServer> StartAsync(params JoinResponse[] script)
        {
            var server = new ScriptedJoinServer(script);
            (server._app, server.Address) = await ScriptedGrpcHost.StartAsync(server, app => app.MapGrpcService<Service>());
            return server;
        }

        public ValueTask DisposeAsync() => ScriptedGrpcHost.StopAsync(_app);

        private sealed class Service(ScriptedJoinServer server) : JoinService.JoinServiceBase
        {
            public override async Task Join(IAsyncStreamReader<JoinRequest> requestStream, IServerStreamWriter<JoinResponse> responseStream, ServerCallContext context)
            {
                var next = 0;
                while (await requestStream.MoveNext(context.CancellationToken))
                {
                    var request = requestStream.Current;
                    server.Received.Enqueue(request);
                    if (request.PayloadCase == JoinRequest.PayloadOneofCase.GivingUp)
                    {
                        server.GivingUp.TrySetResult(request.GivingUp);
                        return;
                    }

                    if (next < server.Script.Length)
                    {
                        await responseStream.WriteAsync(server.Script[next++]);
                    }
                }
            }
        }
    }
}
