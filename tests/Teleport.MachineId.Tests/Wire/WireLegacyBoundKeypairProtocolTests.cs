using System.Collections.Concurrent;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster.Joins;
using Teleport.MachineId.Testing.Proto.Legacy.Client;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Join;
using WireSuite = Teleport.MachineId.Testing.Proto.Legacy.Types.SignatureAlgorithmSuite;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// The client side of the legacy <c>proto.JoinService/RegisterUsingBoundKeypairMethod</c> stream
/// against a scripted Teleport 18.0/18.1 Auth on a real Kestrel socket (no <c>teleport.join.v1</c>,
/// so the client falls back): what the init message carries, that a requested key is stored before
/// its public key leaves, how a challenge is signed, and how the client ends the stream when it does
/// not hold the key asked for (this stream has no GivingUp message).
/// </summary>
public sealed class WireLegacyBoundKeypairProtocolTests
{
    private const string Challenge = "{\"iss\":\"scripted\",\"nonce\":\"0123abcd\"}";

    [Test]
    public async Task A_first_join_sends_the_registration_request_then_stores_the_requested_key_before_answering_and_signs_the_challenge_with_it()
    {
        await using var server = await ScriptedLegacyAuth.StartAsync(rotateFirst: true);
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address, Insecure = true }, () => null);
        var keys = new RecordingKeys(server.Events);

        var error = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp-token", "the-registration-secret", default, keys), TimeSpan.FromHours(2), false));

        Assert.That(error!.Message, Does.Contain("scripted end"));
        Assert.That(error.ToString(), Does.Not.Contain("the-registration-secret"));
        var init = server.Received.First();
        Assert.That(init.PayloadCase, Is.EqualTo(RegisterUsingBoundKeypairMethodRequest.PayloadOneofCase.Init));
        var join = init.Init.JoinRequest;
        Assert.Multiple(() =>
        {
            Assert.That(join.Role, Is.EqualTo("Bot"));
            Assert.That(join.Token, Is.EqualTo("bkp-token"), "the token's name (bound keypair tokens are not secret)");
            Assert.That(init.Init.InitialJoinSecret, Is.EqualTo("the-registration-secret"), "no join state yet: the secret is sent");
            Assert.That(init.Init.PreviousJoinState.IsEmpty, Is.True);
            Assert.That(join.Expires.ToDateTimeOffset(), Is.EqualTo(DateTimeOffset.UtcNow.AddHours(2)).Within(TimeSpan.FromMinutes(1)));
            var tls = PublicKeyInfo.ImportPem(join.PublicTLSKey.ToStringUtf8());
            Assert.That(PublicKeyInfo.ParseAuthorizedKey(join.PublicSSHKey.ToStringUtf8()), Is.EqualTo(tls), "one identity key: PEM for TLS, authorized_keys for SSH");
            Assert.That(tls.Algorithm, Is.EqualTo(KeyAlgorithm.EcdsaP256), "made for the suite Auth's Ping reports (balanced-v1: ECDSA P-256 bot identity)");
        });

        // Crash safety: the key was stored before its public key reached the server.
        var stored = server.Events.ToList();
        Assert.That(stored.FindIndex(e => e.StartsWith("stored ", StringComparison.Ordinal)),
            Is.LessThan(stored.FindIndex(e => e.StartsWith("rotation_response ", StringComparison.Ordinal))).And.Not.Negative);
        var rotated = server.Received.Single(r => r.PayloadCase == RegisterUsingBoundKeypairMethodRequest.PayloadOneofCase.RotationResponse).RotationResponse.PublicKey;
        Assert.That(keys.Created.Single().PublicKey.ToAuthorizedKey(), Is.EqualTo(rotated));
        Assert.That(keys.Created.Single().PublicKey.Algorithm, Is.EqualTo(KeyAlgorithm.EcdsaP256), "the rotation request's suite (fips-v1) decides the bound key's type");

        var solution = server.Received.Single(r => r.PayloadCase == RegisterUsingBoundKeypairMethodRequest.PayloadOneofCase.ChallengeResponse).ChallengeResponse.Solution.ToStringUtf8();
        var verified = await JwtKeys.VerifySignatureAsync(solution, [JwtKeys.ToSecurityKey(PublicKeyInfo.ParseAuthorizedKey(rotated))], "challenge");
        Assert.That(Encoding.UTF8.GetString(Base64UrlDecode(solution.Split('.')[1])), Is.EqualTo(Challenge), "a compact JWS over the challenge bytes");
        Assert.That(verified.Alg, Is.EqualTo("ES256"));
    }

    [Test]
    public async Task A_challenge_for_a_key_the_bot_does_not_hold_ends_the_stream_with_a_join_error_and_sends_no_solution()
    {
        await using var server = await ScriptedLegacyAuth.StartAsync(rotateFirst: false);
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address, Insecure = true }, () => null);
        var keys = new RecordingKeys(server.Events);
        var joinState = Encoding.UTF8.GetBytes("header.payload.signature");

        var error = Assert.ThrowsAsync<TeleportJoinException>(() =>
            client.JoinWithBoundKeypairAsync(new BoundKeypairJoinParameters("bkp-token", "the-registration-secret", joinState, keys), TimeSpan.FromHours(1), false));

        Assert.That(error!.Message, Does.Contain("not in its storage"));
        Assert.That(await server.Ended.Task.WaitAsync(TimeSpan.FromSeconds(30)), Is.True, "the client ended the stream");
        var init = server.Received.First().Init;
        Assert.That(init.InitialJoinSecret, Is.Empty, "a bot with a join state does not send the secret");
        Assert.That(init.PreviousJoinState.ToByteArray(), Is.EqualTo(joinState), "the join state is sent as stored");
        Assert.That(server.Received.Any(r => r.PayloadCase == RegisterUsingBoundKeypairMethodRequest.PayloadOneofCase.ChallengeResponse), Is.False);
    }

    private static byte[] Base64UrlDecode(string text) =>
        Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/').PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));

    /// <summary>Keys in memory; records when a requested key is stored.</summary>
    private sealed class RecordingKeys(ConcurrentQueue<string> events) : IBoundKeypairKeys
    {
        public List<PrivateKey> Created { get; } = [];

        public PrivateKey? FindKey(PublicKeyInfo publicKey) =>
            Created.FirstOrDefault(k => k.PublicKey == publicKey) is { } key ? PrivateKey.ImportPem(key.ExportPem()) : null;

        public Task<PrivateKey> CreateKeyAsync(SignatureAlgorithmSuite suite, CancellationToken cancellationToken)
        {
            var key = PrivateKey.Generate(suite, KeyPurpose.BoundKeypairJoining);
            Created.Add(key);
            events.Enqueue("stored " + key.PublicKey.ToAuthorizedKey());
            return Task.FromResult(PrivateKey.ImportPem(key.ExportPem()));
        }
    }

    /// <summary>Auth of Teleport 18.0/18.1 as far as this join needs: Ping (suite) and the legacy stream, scripted.</summary>
    private sealed class ScriptedLegacyAuth : IAsyncDisposable
    {
        private WebApplication? _app;

        private ScriptedLegacyAuth(bool rotateFirst)
        {
            RotateFirst = rotateFirst;
        }

        public HostPort Address { get; private set; }

        public bool RotateFirst { get; }

        public ConcurrentQueue<RegisterUsingBoundKeypairMethodRequest> Received { get; } = new();

        public ConcurrentQueue<string> Events { get; } = new();

        public TaskCompletionSource<bool> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static async Task<ScriptedLegacyAuth> StartAsync(bool rotateFirst)
        {
            var server = new ScriptedLegacyAuth(rotateFirst);
            (server._app, server.Address) = await ScriptedGrpcHost.StartAsync(server, app =>
            {
                app.MapGrpcService<Join>();
                app.MapGrpcService<NoUnifiedJoin>();
                app.MapGrpcService<Auth>();
            });
            return server;
        }

        public ValueTask DisposeAsync() => ScriptedGrpcHost.StopAsync(_app);

        /// <summary>An 18.0/18.1 Auth (grpc-go) answers Unimplemented for the unknown teleport.join.v1 service.</summary>
        private sealed class NoUnifiedJoin : Teleport.MachineId.Testing.Proto.Join.V1.JoinService.JoinServiceBase
        {
            public override Task Join(
                IAsyncStreamReader<Teleport.MachineId.Testing.Proto.Join.V1.JoinRequest> requestStream,
                IServerStreamWriter<Teleport.MachineId.Testing.Proto.Join.V1.JoinResponse> responseStream, ServerCallContext context) =>
                throw new RpcException(new Status(StatusCode.Unimplemented, "unknown service teleport.join.v1.JoinService"));
        }

        private sealed class Auth : AuthService.AuthServiceBase
        {
            public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context) =>
                Task.FromResult(new PingResponse { ClusterName = "scripted", ServerVersion = "18.1.0", SignatureAlgorithmSuite = WireSuite.BalancedV1 });
        }

        private sealed class Join(ScriptedLegacyAuth server) : JoinService.JoinServiceBase
        {
            public override async Task RegisterUsingBoundKeypairMethod(
                IAsyncStreamReader<RegisterUsingBoundKeypairMethodRequest> requestStream, IServerStreamWriter<RegisterUsingBoundKeypairMethodResponse> responseStream,
                ServerCallContext context)
            {
                try
                {
                    _ = await ReadAsync(requestStream, server, context);
                    string wanted;
                    if (server.RotateFirst)
                    {
                        // Registration with a secret: Auth asks for a key first, then proves it.
                        await responseStream.WriteAsync(new RegisterUsingBoundKeypairMethodResponse { Rotation = new RegisterUsingBoundKeypairRotationRequest { SignatureAlgorithmSuite = WireSuite.FipsV1 } });
                        var answer = await ReadAsync(requestStream, server, context);
                        server.Events.Enqueue("rotation_response " + answer?.RotationResponse?.PublicKey);
                        wanted = answer?.RotationResponse?.PublicKey ?? string.Empty;
                    }
                    else
                    {
                        using var other = PrivateKey.Generate(KeyAlgorithm.Ed25519);
                        wanted = other.PublicKey.ToAuthorizedKey();
                    }

                    await responseStream.WriteAsync(new RegisterUsingBoundKeypairMethodResponse
                    {
                        Challenge = new RegisterUsingBoundKeypairChallenge { PublicKey = wanted, Challenge = Challenge },
                    });
                    if (await ReadAsync(requestStream, server, context) is null)
                    {
                        server.Ended.TrySetResult(true);
                        return;
                    }

                    throw new RpcException(new Status(StatusCode.PermissionDenied, "scripted end"));
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException || (ex is RpcException rpc && rpc.StatusCode == StatusCode.Cancelled))
                {
                    server.Ended.TrySetResult(true);
                    throw;
                }
            }

            private static async Task<RegisterUsingBoundKeypairMethodRequest?> ReadAsync(
                IAsyncStreamReader<RegisterUsingBoundKeypairMethodRequest> requestStream, ScriptedLegacyAuth server, ServerCallContext context)
            {
                if (!await requestStream.MoveNext(context.CancellationToken))
                {
                    return null;
                }

                server.Received.Enqueue(requestStream.Current);
                return requestStream.Current;
            }
        }
    }
}
