using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Proto.Legacy.Client;
using Teleport.MachineId.Wire.Proto.Transport.V1;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// <c>GenerateUserCerts</c> round trips on loopback against the in-process emulator (Auth through
/// the TLS-routing proxy), through the wire client and through a bare generated stub on a minimal
/// channel. Server work (signing an SSH and an X.509 certificate) is in both.
/// </summary>
[MemoryDiagnoser]
public class WireGenerateUserCertsBenchmarks
{
    private WireBenchmarkCluster _cluster = null!;
    private PrivateKey _key = null!;
    private GrpcChannel _raw = null!;
    private UserCertsRequest _rawRequest = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cluster = WireBenchmarkCluster.StartAsync().GetAwaiter().GetResult();
        _key = PrivateKey.Generate(_cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
        var cluster = _cluster.Emulator.ClusterName;
        _raw = WireBenchmarkCluster.RawChannel(_cluster.Emulator.ProxyAddress, WireProtocol.EncodeClusterServerName(cluster),
            [WireProtocol.AuthAlpn(cluster).ToString(), "h2"], _cluster.Bot.ClientCertificate, _cluster.Bot.TrustedCertificateAuthorities);
        _rawRequest = ProtoModels.ToProto(Request());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _raw.Dispose();
        _key.Dispose();
        _cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "bare generated stub, GenerateUserCerts")]
    public async Task<int> RawStub()
    {
        var certs = await new AuthService.AuthServiceClient(_raw).GenerateUserCertsAsync(_rawRequest, WireBenchmarkCluster.RawOptions());
        return certs.TLS.Length;
    }

    [Benchmark(Description = "TeleportWireClient.GenerateUserCertsAsync (typed, parsed)")]
    public async Task<int> WireClient()
    {
        var certs = await _cluster.BotClient.GenerateUserCertsAsync(Request());
        return certs.TlsCaCertificates.Count;
    }

    [Benchmark(Description = "TeleportWireClient.PingAsync")]
    public async Task<string> Ping() => (await _cluster.BotClient.PingAsync()).ClusterName;

    private UserCertificateRequest Request() => UserCertificateRequest.ForImpersonation(
        _cluster.Bot.Tls.Username, _key.PublicKey, DateTimeOffset.UtcNow.AddHours(1), ["access"], _cluster.Emulator.ClusterName);
}

/// <summary>
/// Throughput of <c>ProxySSH</c>: 16 MiB sent to an echo target and read back, through the
/// emulator's proxy (TLS routing), compared with a direct loopback TCP connection to the same
/// echo target and with a bare generated stub doing the same framing.
/// </summary>
[MemoryDiagnoser]
public class WireProxySshThroughputBenchmarks
{
    private const int Total = 16 * 1024 * 1024;

    private WireBenchmarkCluster _cluster = null!;
    private GrpcChannel _raw = null!;
    private readonly byte[] _data = new byte[256 * 1024];
    private readonly byte[] _readBuffer = new byte[256 * 1024];

    [GlobalSetup]
    public void Setup()
    {
        _cluster = WireBenchmarkCluster.StartAsync().GetAwaiter().GetResult();
        new Random(5).NextBytes(_data);
        _raw = WireBenchmarkCluster.RawChannel(_cluster.Emulator.SshProxyAddress, _cluster.Emulator.ProxyHost,
            ["teleport-proxy-ssh-grpc"], _cluster.Output.ClientCertificate, _cluster.Output.TrustedCertificateAuthorities);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _raw.Dispose();
        _cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "direct loopback TCP to the echo target (16 MiB each way)")]
    public async Task<long> DirectTcp()
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(_cluster.EchoEndPoint);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        return await RoundTripAsync(stream, () =>
        {
            socket.Shutdown(SocketShutdown.Send);
            return Task.CompletedTask;
        });
    }

    [Benchmark(Description = "ProxySshStream through the proxy (16 MiB each way)")]
    public async Task<long> ProxySsh()
    {
        await using var stream = await _cluster.OutputClient.OpenSshAsync("echo:22");
        return await RoundTripAsync(stream, () => stream.ShutdownWriteAsync());
    }

    [Benchmark(Description = "bare generated ProxySSH stub (16 MiB each way)")]
    public async Task<long> RawStub()
    {
        using var call = new TransportService.TransportServiceClient(_raw).ProxySSH(WireBenchmarkCluster.RawOptions());
        await call.RequestStream.WriteAsync(new ProxySSHRequest { DialTarget = new TargetHost { HostPort = "echo:22", Cluster = _cluster.Emulator.ClusterName } });
        await call.ResponseStream.MoveNext(CancellationToken.None);
        var writer = Task.Run(async () =>
        {
            for (var sent = 0; sent < Total; sent += 32 * 1024)
            {
                var payload = UnsafeByteOperations.UnsafeWrap(_data.AsMemory(sent % _data.Length, 32 * 1024));
                await call.RequestStream.WriteAsync(new ProxySSHRequest { Ssh = new Frame { Payload = payload } });
            }

            await call.RequestStream.CompleteAsync();
        });
        long received = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            received += call.ResponseStream.Current.Ssh?.Payload.Length ?? 0;
        }

        await writer;
        return received;
    }

    private async Task<long> RoundTripAsync(Stream stream, Func<Task> shutdown)
    {
        var writer = Task.Run(async () =>
        {
            for (var sent = 0; sent < Total; sent += _data.Length)
            {
                await stream.WriteAsync(_data);
            }

            await shutdown();
        });
        long received = 0;
        int read;
        while ((read = await stream.ReadAsync(_readBuffer)) > 0)
        {
            received += read;
        }

        await writer;
        if (received != Total)
        {
            throw new InvalidOperationException($"Echoed {received} bytes instead of {Total}.");
        }

        return received;
    }
}
