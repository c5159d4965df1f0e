using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire.Proto.Legacy.Client;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// How long a test pays for a fresh cluster: <c>TeleportEmulator.StartAsync</c> + <c>DisposeAsync</c>
/// (CA key generation for the suite, Kestrel with four listeners, the router).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class EmulatorStartupBenchmarks
{
    [Params("balanced-v1", "legacy")]
    public string Suite { get; set; } = "balanced-v1";

    [Benchmark]
    public async Task<string> StartAndDispose()
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions
        {
            SignatureAlgorithmSuite = SignatureAlgorithmSuite.Parse(Suite),
        });
        return cluster.ProxyAddress;
    }
}

/// <summary>
/// One <c>GenerateUserCerts</c> role impersonation (what an identity output does per renewal) over an
/// open mTLS connection through the proxy's <c>teleport-auth@</c> passthrough: HTTP/2 round trip,
/// client certificate check, RBAC, SSH + X.509 signing.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class EmulatorGenerateUserCertsBenchmarks
{
    private TeleportEmulator _cluster = null!;
    private PrivateKey _botKey = null!;
    private X509Certificate2 _botCertificate = null!;
    private GrpcChannel _channel = null!;
    private AuthService.AuthServiceClient _client = null!;
    private UserCertsRequest _request = null!;

    [GlobalSetup]
    public async Task SetUp()
    {
        _cluster = await TeleportEmulator.StartAsync();
        _cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        _cluster.AddBot(new EmulatorBot { Name = "bench", Roles = ["access"] });
        var token = _cluster.CreateJoinToken("bench");
        _botKey = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        using (var join = Channel(null))
        {
            var certs = await new JoinService.JoinServiceClient(join).RegisterUsingTokenAsync(new Wire.Proto.Legacy.Types.RegisterUsingTokenRequest
            {
                Token = token.Name,
                Role = "Bot",
                PublicTLSKey = ByteString.CopyFromUtf8(_botKey.PublicKey.ExportPem()),
                PublicSSHKey = ByteString.CopyFromUtf8(_botKey.PublicKey.ToAuthorizedKey()),
            });
            using var tls = X509Certificate2.CreateFromPem(certs.TLS.ToStringUtf8());
            _botCertificate = _botKey.CopyWithPrivateKey(tls);
        }

        _channel = Channel(_botCertificate);
        _client = new AuthService.AuthServiceClient(_channel);
        using var outputKey = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        _request = new UserCertsRequest
        {
            Username = "bot-bench",
            Expires = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(1)),
            UseRoleRequests = true,
            RoleRequests = { "access" },
            SSHPublicKey = ByteString.CopyFromUtf8(outputKey.PublicKey.ToAuthorizedKey()),
            TLSPublicKey = ByteString.CopyFromUtf8(outputKey.PublicKey.ExportPem()),
        };
    }

    [GlobalCleanup]
    public async Task CleanUp()
    {
        _channel.Dispose();
        _botCertificate.Dispose();
        _botKey.Dispose();
        await _cluster.DisposeAsync();
    }

    [Benchmark]
    public async Task<int> ImpersonateRoundTrip()
    {
        var certs = await _client.GenerateUserCertsAsync(_request, new CallOptions(new Metadata { { "version", "18.0.0" } }));
        return certs.TLS.Length;
    }

    private GrpcChannel Channel(X509Certificate2? clientCertificate)
    {
        var colon = _cluster.ProxyAddress.LastIndexOf(':');
        var port = int.Parse(_cluster.ProxyAddress[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var serverName = Convert.ToHexString(Encoding.UTF8.GetBytes(_cluster.ClusterName)).ToLowerInvariant() + ".teleport.cluster.local";
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(_cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host).ToArray());
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync("127.0.0.1", port, cancellationToken);
                var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
                var options = new SslClientAuthenticationOptions
                {
                    TargetHost = serverName,
                    ApplicationProtocols = [new SslApplicationProtocol("teleport-auth@" + serverName), SslApplicationProtocol.Http2],
                    CertificateChainPolicy = policy,
                };
                if (clientCertificate is not null)
                {
                    options.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
                }

                await tls.AuthenticateAsClientAsync(options, cancellationToken);
                return tls;
            },
        };
        return GrpcChannel.ForAddress("http://" + serverName, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }
}
