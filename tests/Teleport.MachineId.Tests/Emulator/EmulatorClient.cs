using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>
/// A small, hand-written client for the emulator's contract (docs/transports.md), independent of the
/// SDK's wire client: HTTPS to the web endpoints, and gRPC channels over TLS connections it dials
/// itself with the ALPN/SNI each path needs (SocketsHttpHandler.ConnectCallback + HTTP/2 prior knowledge).
/// </summary>
internal static class EmulatorClient
{
    public const string ClientVersion = "18.0.0";

    /// <summary>An HttpClient for https://&lt;proxy&gt;/ that trusts only the emulator's web CA.</summary>
    public static HttpClient Web(TeleportEmulator cluster)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = Chain(cluster.WebCaCertificate),
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri("https://" + cluster.ProxyAddress + "/") };
    }

    /// <summary>gRPC to Auth through the proxy router with ALPN <c>teleport-auth@&lt;hex&gt;.teleport.cluster.local</c> (TLS end to end with Auth).</summary>
    public static GrpcChannel AuthViaProxy(TeleportEmulator cluster, X509Certificate2? clientCertificate = null, string? alpnCluster = null) =>
        Channel(cluster.ProxyAddress, ApiServerName(cluster.ClusterName),
            ["teleport-auth@" + ApiServerName(alpnCluster ?? cluster.ClusterName), "h2"], clientCertificate, HostCaPolicy(cluster));

    /// <summary>Auth through the proxy with TLS routing, else on Auth's own port.</summary>
    public static GrpcChannel Auth(TeleportEmulator cluster, X509Certificate2? clientCertificate = null) =>
        cluster.TlsRoutingEnabled ? AuthViaProxy(cluster, clientCertificate) : AuthDirect(cluster, clientCertificate);

    /// <summary>gRPC to Auth's own port.</summary>
    public static GrpcChannel AuthDirect(TeleportEmulator cluster, X509Certificate2? clientCertificate = null) =>
        Channel(cluster.AuthAddress, ApiServerName(cluster.ClusterName), ["h2"], clientCertificate, HostCaPolicy(cluster));

    /// <summary>gRPC to the proxy's unauthenticated join services (ALPN <c>teleport-proxy-grpc</c>, web certificate).</summary>
    public static GrpcChannel ProxyGrpc(TeleportEmulator cluster) =>
        Channel(cluster.ProxyAddress, cluster.ProxyHost, ["teleport-proxy-grpc", "h2"], null, Chain(cluster.WebCaCertificate));

    /// <summary>gRPC to the proxy's TransportService (ALPN <c>teleport-proxy-ssh-grpc</c>, mTLS, host-CA server certificate).</summary>
    public static GrpcChannel SshGrpc(TeleportEmulator cluster, X509Certificate2? clientCertificate) =>
        Channel(cluster.SshProxyAddress, cluster.ProxyHost, ["teleport-proxy-ssh-grpc"], clientCertificate, HostCaPolicy(cluster));

    /// <summary>
    /// gRPC to Auth without TLS routing: a TLS session with Auth (SNI <c>&lt;hex&gt;.teleport.cluster.local</c>, ALPN h2,
    /// mTLS) carried inside <c>TransportService/ProxyCluster</c> on the proxy's SSH port. Dispose <paramref name="transport"/> after the channel.
    /// </summary>
    public static GrpcChannel AuthViaProxyCluster(TeleportEmulator cluster, X509Certificate2 clientCertificate, out GrpcChannel transport)
    {
        var ssh = SshGrpc(cluster, clientCertificate);
        transport = ssh;
        var serverName = ApiServerName(cluster.ClusterName);
        var policy = HostCaPolicy(cluster);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var call = new MachineId.Wire.Proto.Transport.V1.TransportService.TransportServiceClient(ssh).ProxyCluster(new CallOptions(new Metadata { { "version", ClientVersion } }, cancellationToken: CancellationToken.None));
                var tls = new SslStream(new ProxyClusterStream(call, cluster.ClusterName), leaveInnerStreamOpen: false);
                await tls.AuthenticateAsClientAsync(ClientOptions(serverName, ["h2"], clientCertificate, policy), cancellationToken);
                return tls;
            },
        };
        return GrpcChannel.ForAddress("http://" + serverName, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    /// <summary>Call options carrying the <c>version</c> metadata Teleport clients send.</summary>
    public static CallOptions Options(string? version = ClientVersion, CancellationToken cancellationToken = default)
    {
        var headers = new Metadata();
        if (version is not null)
        {
            headers.Add("version", version);
        }

        return new CallOptions(headers, DateTime.UtcNow.AddSeconds(30), cancellationToken);
    }

    public static string ApiServerName(string clusterName) =>
        Convert.ToHexString(Encoding.UTF8.GetBytes(clusterName)).ToLowerInvariant() + ".teleport.cluster.local";

    /// <summary>Opens a TLS connection the way the channels do and returns it (to inspect the server certificate or ALPN).</summary>
    public static async Task<SslStream> ConnectTlsAsync(string address, string serverName, IEnumerable<string> alpn,
        X509Certificate2? clientCertificate, X509ChainPolicy? policy, CancellationToken cancellationToken = default)
    {
        var (host, port) = Split(address);
        var tcp = new TcpClient();
        await tcp.ConnectAsync(host, port, cancellationToken);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(ClientOptions(serverName, alpn, clientCertificate, policy), cancellationToken);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    public static X509ChainPolicy HostCaPolicy(TeleportEmulator cluster)
    {
        var roots = cluster.GetCertificateAuthorityCertificates(CertificateAuthorityType.Host);
        return Chain(roots.ToArray());
    }

    public static X509ChainPolicy Chain(params X509Certificate2[] roots)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(roots);
        return policy;
    }

    private static GrpcChannel Channel(string address, string serverName, string[] alpn, X509Certificate2? clientCertificate, X509ChainPolicy policy)
    {
        var (host, port) = Split(address);
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(host, port, cancellationToken);
                    var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
                    await tls.AuthenticateAsClientAsync(ClientOptions(serverName, alpn, clientCertificate, policy), cancellationToken);
                    return tls;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://" + serverName, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });
    }

    private static SslClientAuthenticationOptions ClientOptions(string serverName, IEnumerable<string> alpn, X509Certificate2? clientCertificate, X509ChainPolicy? policy)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            ApplicationProtocols = alpn.Select(p => new SslApplicationProtocol(p)).ToList(),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (policy is not null)
        {
            options.CertificateChainPolicy = policy;
        }
        else
        {
            // Inspection only (tests that look at which certificate a route presents): any certificate is accepted.
            options.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null;
        }

        if (clientCertificate is not null)
        {
            // Always present the certificate, whatever CA list the server sends (as Teleport clients do).
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        return options;
    }

    private static (string Host, int Port) Split(string address)
    {
        var colon = address.LastIndexOf(':');
        return (address[..colon].Trim('[', ']'), int.Parse(address[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>A key pair and the certificates the emulator issued for it, usable as a TLS client identity.</summary>
internal sealed class TestIdentity : IDisposable
{
    public required PrivateKey Key { get; init; }

    public required MachineId.Ssh.SshCertificate? SshCertificate { get; init; }

    public required X509Certificate2? TlsCertificate { get; init; }

    public required IReadOnlyList<string> TlsCaPems { get; init; }

    public required IReadOnlyList<string> SshCaLines { get; init; }

    /// <summary>The TLS certificate with the private key attached.</summary>
    public X509Certificate2 ClientCertificate => _client ??= Key.CopyWithPrivateKey(TlsCertificate!);

    public MachineId.Tls.TeleportTlsIdentity Tls => MachineId.Tls.TeleportTlsIdentity.FromCertificate(TlsCertificate!);

    private X509Certificate2? _client;

    public static TestIdentity FromCerts(PrivateKey key, MachineId.Wire.Proto.Legacy.Client.Certs certs) => new()
    {
        Key = key,
        SshCertificate = certs.SSH.IsEmpty ? null : MachineId.Ssh.SshCertificate.ParseAuthorizedKey(certs.SSH.ToStringUtf8()),
        TlsCertificate = certs.TLS.IsEmpty ? null : X509Certificate2.CreateFromPem(certs.TLS.ToStringUtf8()),
        TlsCaPems = certs.TLSCACerts.Select(c => c.ToStringUtf8()).ToArray(),
        SshCaLines = certs.SSHCACerts.Select(c => c.ToStringUtf8()).ToArray(),
    };

    public void Dispose()
    {
        _client?.Dispose();
        TlsCertificate?.Dispose();
        Key.Dispose();
    }
}
