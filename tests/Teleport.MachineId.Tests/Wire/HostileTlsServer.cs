using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tls;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>A test certificate authority that issues Teleport-shaped server and client certificates.</summary>
internal sealed class TestAuthority : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestAuthority(string clusterName)
    {
        ClusterName = clusterName;
        Certificate = TeleportTlsCertificateBuilder.CreateCertificateAuthority(clusterName, _key, DateTimeOffset.UtcNow.AddDays(-1));
    }

    public string ClusterName { get; }

    public X509Certificate2 Certificate { get; }

    /// <summary>A server certificate with its key, valid for <paramref name="names"/> (default: Teleport's API names).</summary>
    public X509Certificate2 IssueServer(IEnumerable<string>? names = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var builder = new TeleportTlsCertificateBuilder { Username = "auth." + ClusterName, TeleportCluster = ClusterName };
        builder.Roles.Add("Auth");
        foreach (var name in names ?? ["*.teleport.cluster.local", "teleport.cluster.local"])
        {
            builder.DnsNames.Add(name);
        }

        var request = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256);
        var certificate = builder.Issue(request.PublicKey, Certificate, _key,
            notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-1), notAfter ?? DateTimeOffset.UtcNow.AddHours(1));
        using var withKey = certificate.CopyWithPrivateKey(key);

        // A PFX round trip gives a certificate SslStream can serve on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
    }

    /// <summary>A bot identity issued by this authority, trusting only this authority.</summary>
    public WireIdentity IssueIdentity()
    {
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        var builder = new TeleportTlsCertificateBuilder { Username = "bot-robot", IsRenewable = true, Generation = 1, BotName = "robot", TeleportCluster = ClusterName };
        builder.Roles.Add("bot-robot");
        var certificate = builder.Issue(key.PublicKey.ExportSubjectPublicKeyInfo(), Certificate, _key, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        return WireIdentity.Create(key, certificate, [Certificate]);
    }

    public void Dispose() => _key.Dispose();
}

/// <summary>
/// A misbehaving TLS server on a real loopback socket: it serves whatever certificate and ALPN
/// the test gives it and records what the client sent (SNI, ALPN offer, client certificate).
/// </summary>
internal sealed class HostileTlsServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _certificate;
    private readonly List<SslApplicationProtocol>? _protocols;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public HostileTlsServer(X509Certificate2 certificate, IEnumerable<SslApplicationProtocol>? protocols)
    {
        _certificate = certificate;
        _protocols = protocols?.ToList();
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public HostPort Address => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port);

    public string? LastServerName { get; private set; }

    /// <summary>Every SNI the server saw, in order (empty for none).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> ServerNames { get; } = new();

    /// <summary>Completes with whether the client presented a certificate, when a handshake completes on the server side.</summary>
    public TaskCompletionSource<bool> ClientCertificatePresented { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        await AcceptLoop.StopAsync(_stop, _listener, _loop);
    }

    // A hostile server does not care who the client is; it only records that a certificate came.
    private static bool AcceptAnyClient(object sender, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null || errors != SslPolicyErrors.None || chain is null;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            _ = HandleAsync(socket);
        }
    }

    private async Task HandleAsync(Socket socket)
    {
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateSelectionCallback = (_, hostName) =>
                {
                    LastServerName = hostName;
                    ServerNames.Enqueue(hostName ?? string.Empty);
                    return _certificate;
                },
                ApplicationProtocols = _protocols,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = AcceptAnyClient,
            }, _stop.Token);
            ClientCertificatePresented.TrySetResult(ssl.RemoteCertificate is not null);

            // Hold the connection until the client gives up.
            var buffer = new byte[4096];
            while (await ssl.ReadAsync(buffer, _stop.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or ObjectDisposedException)
        {
            // The client refused us: that is what the tests want.
        }
    }
}
