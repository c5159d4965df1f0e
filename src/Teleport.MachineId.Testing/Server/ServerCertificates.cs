using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;

namespace Teleport.MachineId.Testing.Server;

/// <summary>
/// The emulator's TLS server certificates: a self-signed web CA and the proxy web certificate it
/// issues (what a public CA would do for a real proxy), and the Auth and Proxy (SSH-gRPC)
/// certificates from the host CA, reissued when the host CA rotation reaches update_servers.
/// </summary>
internal sealed class ServerCertificates : IDisposable
{
    private readonly PrivateKey _authKey;
    private readonly PrivateKey _proxyKey;
    private readonly IReadOnlyList<string> _names;
    private readonly List<X509Certificate2> _retired = [];
    private X509Certificate2 _auth;
    private X509Certificate2 _proxy;

    private ServerCertificates(X509Certificate2 webCa, X509Certificate2 web, PrivateKey authKey, PrivateKey proxyKey, IReadOnlyList<string> names,
        X509Certificate2 auth, X509Certificate2 proxy)
    {
        WebCa = webCa;
        WebCaPem = webCa.ExportCertificatePem() + "\n";
        Web = web;
        _authKey = authKey;
        _proxyKey = proxyKey;
        _names = names;
        _auth = auth;
        _proxy = proxy;
    }

    public X509Certificate2 WebCa { get; }

    public string WebCaPem { get; }

    public X509Certificate2 Web { get; }

    public X509Certificate2 Auth => Volatile.Read(ref _auth);

    public X509Certificate2 Proxy => Volatile.Read(ref _proxy);

    /// <summary>The web CA and certificate (independent of the cluster CAs, so they can be made in parallel).</summary>
    public static (X509Certificate2 Ca, X509Certificate2 Web) CreateWeb(string clusterName, IReadOnlyList<string> names, DateTimeOffset now)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=Teleport emulator web CA for {clusterName}, O=Teleport.MachineId.Testing", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
        var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));

        var webKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            var request = new CertificateRequest($"CN={names[0]}", webKey, HashAlgorithmName.SHA256);
            var sans = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var address))
                {
                    sans.AddIpAddress(address);
                }
                else
                {
                    sans.AddDnsName(name);
                }
            }

            request.CertificateExtensions.Add(sans.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
            var serial = new byte[16];
            RandomNumberGenerator.Fill(serial);
            serial[0] &= 0x7F;
            using var issued = request.Create(ca, now.AddMinutes(-5), now.AddYears(1), serial);
            return (ca, issued.CopyWithPrivateKey(webKey));
        }
        finally
        {
            webKey.Dispose();
        }
    }

    public static ServerCertificates Create(X509Certificate2 webCa, X509Certificate2 web, IReadOnlyList<string> names, CertificateIssuer issuer, DateTimeOffset now)
    {
        var authKey = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        var proxyKey = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        var auth = issuer.IssueServer("Auth", names, authKey, now);
        var proxy = issuer.IssueServer("Proxy", names, proxyKey, now);
        return new ServerCertificates(webCa, web, authKey, proxyKey, names, auth, proxy);
    }

    /// <summary>Reissues the Auth and Proxy certificates from the host CA's current signing key.</summary>
    public void ReissueHostCertificates(CertificateIssuer issuer, DateTimeOffset now)
    {
        var auth = issuer.IssueServer("Auth", _names, _authKey, now);
        var proxy = issuer.IssueServer("Proxy", _names, _proxyKey, now);
        lock (_retired)
        {
            _retired.Add(Interlocked.Exchange(ref _auth, auth));
            _retired.Add(Interlocked.Exchange(ref _proxy, proxy));
        }
    }

    public void Dispose()
    {
        WebCa.Dispose();
        Web.Dispose();
        _auth.Dispose();
        _proxy.Dispose();
        lock (_retired)
        {
            foreach (var certificate in _retired)
            {
                certificate.Dispose();
            }
        }

        _authKey.Dispose();
        _proxyKey.Dispose();
    }
}
