using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>How <see cref="NginxLoadBalancer"/> is set up.</summary>
internal sealed class NginxLoadBalancerOptions
{
    /// <summary>The port to listen on (see <see cref="NginxLoadBalancer.ReservePort"/>); 0 picks one.</summary>
    public int Port { get; set; }

    /// <summary>Answer <c>/webapi/connectionupgrade</c> with 404 itself (a load balancer that does not forward it).</summary>
    public bool ConnectionUpgradeNotFound { get; set; }
}

/// <summary>
/// A real nginx (Debian's package) as an L7 load balancer in front of the emulator's proxy, the way an
/// AWS ALB behaves: it terminates TLS with its own certificate (from a test CA), speaks HTTP/1.1 to the
/// upstream proxy's web port (HTTPS, verified with the emulator's web CA) with the <c>Upgrade</c> and
/// <c>Connection</c> headers forwarded, and does not pass ALPN through (it answers only
/// <c>http/1.1</c>; a Teleport ALPN gets its <c>no_application_protocol</c> alert). Runs on loopback
/// from a private temporary directory; disposed, it is stopped by its own process id. Shared by the
/// tests (through <c>NginxFixture</c>, which skips without nginx) and the benchmarks.
/// </summary>
internal sealed class NginxLoadBalancer : IAsyncDisposable
{
    private readonly string _directory;
    private Process? _process;

    private NginxLoadBalancer(string directory, X509Certificate2 ca, int port)
    {
        _directory = directory;
        CaCertificate = ca;
        Port = port;
    }

    /// <summary>The load balancer's address as clients dial it.</summary>
    public string Address => "localhost:" + Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The listening port.</summary>
    public int Port { get; }

    /// <summary>The test CA that issued the load balancer's certificate (trust it instead of the OS store).</summary>
    public X509Certificate2 CaCertificate { get; }

    /// <summary>A PEM file with <see cref="CaCertificate"/> (e.g. for <c>SSL_CERT_FILE</c> or <c>--ca-bundle</c>).</summary>
    public string CaFile => Path.Combine(_directory, "lb-ca.pem");

    /// <summary>nginx's error log so far.</summary>
    public string ErrorLog => ReadLog("error.log");

    /// <summary>nginx's access log so far (one line per request, with the status).</summary>
    public string AccessLog => ReadLog("access.log");

    /// <summary>
    /// nginx's access log once <paramref name="condition"/> holds for it, polled for up to 10 s. nginx
    /// logs a request when it ends, an upgraded one when its tunnel closes: that happens in the nginx
    /// process shortly after the client closes, so a test that just closed a tunnel must wait for it.
    /// </summary>
    /// <returns>The log (as it was last read, whether or not the condition came to hold).</returns>
    public Task<string> AccessLogOnceAsync(Func<string, bool> condition) => Polling.ReadUntilAsync(() => AccessLog, condition);

    /// <summary>How many requests nginx upgraded (<c>GET /webapi/connectionupgrade</c> answered 101) in <paramref name="accessLog"/>.</summary>
    public static int CountUpgrades(string accessLog) =>
        accessLog.Split('\n').Count(line => line.Contains(UpgradedRequest, StringComparison.Ordinal));

    /// <summary>The access log's record of a request nginx upgraded to a tunnel.</summary>
    public const string UpgradedRequest = "GET /webapi/connectionupgrade HTTP/1.1\" 101";

    private string ReadLog(string name) => File.Exists(Path.Combine(_directory, name)) ? File.ReadAllText(Path.Combine(_directory, name)) : string.Empty;

    /// <summary>A free loopback port, for a load balancer whose address the cluster must know before it starts.</summary>
    public static int ReservePort() => LoopbackPorts.Reserve();

    /// <summary>Starts nginx in front of <paramref name="upstream"/> (a proxy web address whose certificate <paramref name="upstreamCa"/> issued).</summary>
    /// <param name="nginx">The nginx program.</param>
    /// <param name="upstream">The proxy's web address (<c>host:port</c>).</param>
    /// <param name="upstreamCa">The CA of the proxy's web certificate.</param>
    /// <param name="options">Port and behaviour.</param>
    public static async Task<NginxLoadBalancer> StartAsync(string nginx, string upstream, X509Certificate2 upstreamCa, NginxLoadBalancerOptions? options = null)
    {
        options ??= new NginxLoadBalancerOptions();
        var directory = Directory.CreateTempSubdirectory("tmid-nginx-").FullName;
        var ca = WriteCertificates(directory);
        var fixture = new NginxLoadBalancer(directory, ca, options.Port == 0 ? ReservePort() : options.Port);
        try
        {
            Write(directory, "upstream-ca.pem", upstreamCa.ExportCertificatePem() + "\n");
            var config = Write(directory, "nginx.conf", fixture.Configuration(upstream, options));
            await fixture.StartProcessAsync(nginx, config);
            return fixture;
        }
        catch
        {
            await fixture.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops nginx (SIGTERM to its master, by process id) and removes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                // Already gone.
            }
        }

        _process?.Dispose();
        CaCertificate.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A worker still held a file; the temporary directory is left behind.
        }
    }

    private static string Write(string directory, string name, string content, bool secret = false)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        if (secret && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }

    private static X509Certificate2 WriteCertificates(string directory)
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Test load balancer CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
        var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var leaf = request.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(16));
        Write(directory, "lb.crt", leaf.ExportCertificatePem() + "\n" + ca.ExportCertificatePem() + "\n");
        Write(directory, "lb.key", key.ExportPkcs8PrivateKeyPem() + "\n", secret: true);
        Write(directory, "lb-ca.pem", ca.ExportCertificatePem() + "\n");
        return ca;
    }

    private string Configuration(string upstream, NginxLoadBalancerOptions options)
    {
        var d = _directory;
        var upgradeNotFound = options.ConnectionUpgradeNotFound
            ? "        location = /webapi/connectionupgrade { return 404; }\n"
            : string.Empty;

        // Running as root (CI): keep the workers root too, so they can use this private directory.
        var user = Environment.UserName == "root" ? "user root;\n" : string.Empty;
        return $$"""
            {{user}}daemon off;
            worker_processes 1;
            pid {{d}}/nginx.pid;
            error_log {{d}}/error.log info;
            events { worker_connections 1024; }
            http {
                access_log {{d}}/access.log;
                client_body_temp_path {{d}}/client-body;
                proxy_temp_path {{d}}/proxy;
                fastcgi_temp_path {{d}}/fastcgi;
                uwsgi_temp_path {{d}}/uwsgi;
                scgi_temp_path {{d}}/scgi;
                map $http_upgrade $connection_upgrade { default upgrade; '' close; }
                server {
                    # TLS terminated here, HTTP/1.1 only: no ALPN routing reaches the proxy.
                    listen 127.0.0.1:{{Port}} ssl;
                    ssl_certificate {{d}}/lb.crt;
                    ssl_certificate_key {{d}}/lb.key;
            {{upgradeNotFound}}        location / {
                        proxy_pass https://{{upstream}};
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection $connection_upgrade;
                        proxy_set_header Host $host;
                        proxy_ssl_trusted_certificate {{d}}/upstream-ca.pem;
                        proxy_ssl_verify on;
                        proxy_ssl_name localhost;
                        proxy_ssl_server_name on;
                        proxy_buffering off;
                        proxy_request_buffering off;
                        proxy_read_timeout 1h;
                        proxy_send_timeout 1h;
                    }
                }
            }
            """;
    }

    private async Task StartProcessAsync(string nginx, string config)
    {
        var info = new ProcessStartInfo(nginx)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-p", _directory, "-c", config, "-e", Path.Combine(_directory, "error.log") })
        {
            info.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        _process = Process.Start(info) ?? throw new InvalidOperationException("Could not start nginx.");
        _process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"nginx exited with {_process.ExitCode}:\n{output}\n{ErrorLog}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"nginx did not listen on port {Port}:\n{output}\n{ErrorLog}");
            }
        }
    }
}
