using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Benchmarks;

/// <summary>An emulated cluster with a joined bot, an impersonated identity and an echo target, for the wire benchmarks.</summary>
internal sealed class WireBenchmarkCluster : IAsyncDisposable
{
    private readonly TcpListener _echo = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    private WireBenchmarkCluster(TeleportEmulator emulator)
    {
        Emulator = emulator;
        _echo.Start();
        _ = EchoLoopAsync();
    }

    public TeleportEmulator Emulator { get; }

    public WireIdentity Bot { get; private set; } = null!;

    public WireIdentity Output { get; private set; } = null!;

    public TeleportWireClient BotClient { get; private set; } = null!;

    public TeleportWireClient OutputClient { get; private set; } = null!;

    public IPEndPoint EchoEndPoint => (IPEndPoint)_echo.LocalEndpoint;

    public static async Task<WireBenchmarkCluster> StartAsync()
    {
        var emulator = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions());
        emulator.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        emulator.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        var cluster = new WireBenchmarkCluster(emulator);
        emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = cluster.EchoEndPoint.ToString() });
        var options = new WireClientOptions
        {
            ProxyServer = HostPort.Parse(emulator.ProxyAddress),
            ProxyCaCertificates = [emulator.WebCaCertificate],
        };
        cluster.BotClient = TeleportWireClient.Create(options, () => cluster.Bot);
        var joined = await cluster.BotClient.JoinWithTokenAsync(emulator.CreateJoinToken("robot").Name, TimeSpan.FromHours(8));
        cluster.Bot = joined.CreateIdentity();
        using var key = PrivateKey.Generate(emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
        var certs = await cluster.BotClient.GenerateUserCertsAsync(UserCertificateRequest.ForImpersonation(
            cluster.Bot.Tls.Username, key.PublicKey, DateTimeOffset.UtcNow.AddHours(8), ["access"], emulator.ClusterName));
        cluster.Output = WireIdentity.Create(key, certs.TlsCertificate!, cluster.Bot.TrustedCertificateAuthorities.Cast<X509Certificate2>());
        cluster.OutputClient = TeleportWireClient.Create(options, () => cluster.Output);
        return cluster;
    }

    /// <summary>
    /// A bare gRPC channel to an endpoint, the minimum any client needs (TCP, TLS with the ALPN and
    /// SNI, client certificate, HTTP/2 prior knowledge): the baseline the wire client is compared with.
    /// </summary>
    public static GrpcChannel RawChannel(string address, string serverName, string[] alpn, X509Certificate2 clientCertificate, X509Certificate2Collection roots)
    {
        var endpoint = HostPort.Parse(address);
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken);
                var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
                var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
                policy.CustomTrustStore.AddRange(roots);
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = serverName,
                    ApplicationProtocols = [.. alpn.Select(a => new SslApplicationProtocol(a))],
                    CertificateChainPolicy = policy,
                    LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate,
                }, cancellationToken);
                return tls;
            },
        };
        return GrpcChannel.ForAddress("http://raw.invalid", new GrpcChannelOptions { HttpHandler = handler });
    }

    public static CallOptions RawOptions() => new(new Metadata { { "version", "18.0.0" } });

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _echo.Stop();
        BotClient.Dispose();
        OutputClient.Dispose();
        await Emulator.DisposeAsync();
    }

    private async Task EchoLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _echo.AcceptSocketAsync(_stop.Token);
                _ = EchoAsync(socket);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task EchoAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
                }

                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
            }
        }
    }
}
