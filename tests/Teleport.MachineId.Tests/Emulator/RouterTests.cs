using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Testing.Network;
using Teleport.MachineId.Wire.Proto.Legacy.Client;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>The proxy's TLS router (docs/transports.md) and the Auth rules common to every path.</summary>
public sealed class RouterTests
{
    [Test]
    public async Task Auth_passthrough_is_end_to_end_the_client_sees_Auths_host_CA_certificate()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        var hostCa = cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host).Single();

        await using var tls = await EmulatorClient.ConnectTlsAsync(cluster.ProxyAddress, EmulatorClient.ApiServerName(cluster.ClusterName),
            ["teleport-auth@" + EmulatorClient.ApiServerName(cluster.ClusterName), "h2"], null, EmulatorClient.HostCaPolicy(cluster));

        var certificate = (X509Certificate2)tls.RemoteCertificate!;
        Assert.That(certificate.Issuer, Is.EqualTo(hostCa.Subject), "not terminated by the proxy: Auth's certificate");
        Assert.That(certificate.MatchesHostname("anything.teleport.cluster.local"), Is.True);
        Assert.That(certificate.MatchesHostname("teleport.cluster.local"), Is.True);
        Assert.That(tls.NegotiatedApplicationProtocol, Is.EqualTo(SslApplicationProtocol.Http2));
    }

    [Test]
    public async Task Unauthenticated_Ping_and_GetClusterCACert_work_through_the_proxy_and_directly()
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { SignatureAlgorithmSuite = MachineId.Crypto.SignatureAlgorithmSuite.FipsV1 });

        foreach (var channel in new[] { EmulatorClient.AuthViaProxy(cluster), EmulatorClient.AuthDirect(cluster) })
        {
            using (channel)
            {
                var client = new AuthService.AuthServiceClient(channel);
                var ping = await client.PingAsync(new PingRequest(), EmulatorClient.Options());
                var ca = await client.GetClusterCACertAsync(new Empty(), EmulatorClient.Options());

                Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName));
                Assert.That(ping.ServerVersion, Is.EqualTo("18.0.0"));
                Assert.That(ping.ProxyPublicAddr, Is.EqualTo(cluster.ProxyAddress));
                Assert.That(ping.SignatureAlgorithmSuite, Is.EqualTo(MachineId.Wire.Proto.Legacy.Types.SignatureAlgorithmSuite.FipsV1));
                Assert.That(ca.TLSCA.ToStringUtf8(), Is.EqualTo(cluster.GetCertificateAuthorityPem(CertificateAuthorityType.Host)));
            }
        }
    }

    [Test]
    public async Task Unknown_cluster_in_the_auth_ALPN_is_closed()
    {
        await using var cluster = await TeleportEmulator.StartAsync();

        Assert.That(async () => await EmulatorClient.ConnectTlsAsync(cluster.ProxyAddress, EmulatorClient.ApiServerName("other.cluster"),
                ["teleport-auth@" + EmulatorClient.ApiServerName("other.cluster"), "h2"], null, null),
            Throws.InstanceOf<AuthenticationException>().Or.InstanceOf<IOException>());
    }

    [Test]
    public async Task Proxy_grpc_is_terminated_by_the_proxy_with_the_web_certificate()
    {
        await using var cluster = await TeleportEmulator.StartAsync();

        await using var tls = await EmulatorClient.ConnectTlsAsync(cluster.ProxyAddress, cluster.ProxyHost,
            ["teleport-proxy-grpc", "h2"], null, EmulatorClient.Chain(cluster.WebCaCertificate));

        Assert.That(tls.NegotiatedApplicationProtocol.ToString(), Is.EqualTo("teleport-proxy-grpc"));
        Assert.That(((X509Certificate2)tls.RemoteCertificate!).Issuer, Is.EqualTo(cluster.WebCaCertificate.Subject));
    }

    [Test]
    public async Task Proxy_ssh_grpc_requires_a_client_certificate()
    {
        await using var cluster = await TeleportEmulator.StartAsync();

        int read;
        try
        {
            await using var tls = await EmulatorClient.ConnectTlsAsync(cluster.ProxyAddress, cluster.ProxyHost, ["teleport-proxy-ssh-grpc"], null,
                EmulatorClient.HostCaPolicy(cluster));
            // With TLS 1.3 the client learns of the refused handshake when it reads.
            read = await tls.ReadAsync(new byte[1]);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            read = -1;
        }

        Assert.That(read, Is.LessThanOrEqualTo(0), "the proxy closed the connection");
    }

    [Test]
    public async Task Without_TLS_routing_the_web_port_does_not_pass_Auth_through()
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = false });

        await using var tls = await EmulatorClient.ConnectTlsAsync(cluster.ProxyAddress, EmulatorClient.ApiServerName(cluster.ClusterName),
            ["teleport-auth@" + EmulatorClient.ApiServerName(cluster.ClusterName), "h2"], null, null);

        Assert.That(((X509Certificate2)tls.RemoteCertificate!).Issuer, Is.EqualTo(cluster.WebCaCertificate.Subject), "the web endpoint answered");
    }

    [Test]
    public async Task A_ClientHello_trickled_byte_by_byte_is_still_routed()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        var (host, port) = (cluster.AuthAddress.Split(':')[0], int.Parse(cluster.ProxyAddress.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(host, port);
        tcp.NoDelay = true;
        await using var tls = new SslStream(new TrickleStream(tcp.GetStream()));

        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = EmulatorClient.ApiServerName(cluster.ClusterName),
            ApplicationProtocols = [new SslApplicationProtocol("teleport-auth@" + EmulatorClient.ApiServerName(cluster.ClusterName)), SslApplicationProtocol.Http2],
            CertificateChainPolicy = EmulatorClient.HostCaPolicy(cluster),
        });

        Assert.That(tls.NegotiatedApplicationProtocol, Is.EqualTo(SslApplicationProtocol.Http2));
    }

    [Test]
    public async Task ClientHello_split_over_several_TLS_records_is_parsed()
    {
        var hello = await CaptureClientHelloAsync(["teleport-auth@abcd.teleport.cluster.local", "h2"], "sni.example");
        // Re-frame the handshake message into three TLS records.
        var body = hello[5..];
        var parts = new[] { body[..10], body[10..100], body[100..] };
        var reframed = new MemoryStream();
        foreach (var part in parts)
        {
            reframed.Write([22, 3, 1, (byte)(part.Length >> 8), (byte)part.Length]);
            reframed.Write(part);
        }

        reframed.Position = 0;
        var (buffered, info) = await ClientHello.ReadAsync(reframed, CancellationToken.None);

        Assert.That(info, Is.Not.Null);
        Assert.That(info!.ApplicationProtocols, Is.EqualTo(new[] { "teleport-auth@abcd.teleport.cluster.local", "h2" }));
        Assert.That(info.ServerName, Is.EqualTo("sni.example"));
        Assert.That(buffered, Is.EqualTo(reframed.ToArray()), "everything read is kept for replay");
    }

    [Test]
    public async Task Garbage_instead_of_a_ClientHello_is_not_parsed()
    {
        using var stream = new MemoryStream("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());

        var (buffered, info) = await ClientHello.ReadAsync(stream, CancellationToken.None);

        Assert.That(info, Is.Null);
        Assert.That(buffered, Has.Length.EqualTo(5));
    }

    [TestCase("16.4.0")]
    [TestCase("17.0.0-a")]
    [TestCase("not-a-version")]
    public async Task Old_or_unparsable_client_version_is_refused(string version)
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        using var channel = EmulatorClient.AuthViaProxy(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () =>
            await new AuthService.AuthServiceClient(channel).PingAsync(new PingRequest(), EmulatorClient.Options(version)));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(error.Status.Detail, Is.EqualTo("client version is unsupported"));
    }

    [TestCase("17.0.0-aa")]
    [TestCase("17.5.2")]
    [TestCase("18.0.0")]
    [TestCase("19.1.0")]
    [TestCase(null)]
    public async Task Supported_or_absent_client_version_is_accepted(string? version)
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        using var channel = EmulatorClient.AuthViaProxy(cluster);

        var ping = await new AuthService.AuthServiceClient(channel).PingAsync(new PingRequest(), EmulatorClient.Options(version));

        Assert.That(ping.ClusterName, Is.EqualTo(cluster.ClusterName));
    }

    [Test]
    public async Task Services_are_served_only_on_their_endpoints()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        using var channel = EmulatorClient.ProxyGrpc(cluster);

        var error = Assert.ThrowsAsync<RpcException>(async () =>
            await new AuthService.AuthServiceClient(channel).PingAsync(new PingRequest(), EmulatorClient.Options()));

        Assert.That(error!.StatusCode, Is.EqualTo(StatusCode.Unimplemented), "AuthService is not on teleport-proxy-grpc");
    }

    private static async Task<byte[]> CaptureClientHelloAsync(string[] alpn, string serverName)
    {
        var capture = new CaptureStream();
        using var tls = new SslStream(capture);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = serverName,
                ApplicationProtocols = alpn.Select(a => new SslApplicationProtocol(a)).ToList(),
            });
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException)
        {
        }

        return capture.Written.ToArray();
    }

    /// <summary>Records writes; reads end at once (so the TLS handshake stops after the ClientHello).</summary>
    private sealed class CaptureStream : Stream
    {
        public MemoryStream Written { get; } = new();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => 0;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Written.Write(buffer, offset, count);
    }

    /// <summary>Sends the first kilobytes one byte per write, so the ClientHello arrives in many TCP segments.</summary>
    private sealed class TrickleStream(Stream inner) : Stream
    {
        private int _written;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < buffer.Length; i++)
            {
                if (_written++ > 4096)
                {
                    await inner.WriteAsync(buffer[i..], cancellationToken);
                    return;
                }

                await inner.WriteAsync(buffer.Slice(i, 1), cancellationToken);
                await inner.FlushAsync(cancellationToken);
                if (i % 64 == 0)
                {
                    await Task.Delay(1, cancellationToken);
                }
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
