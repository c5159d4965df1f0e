using System.Net.Security;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// Misbehaving peers on real sockets: another host CA, a certificate for another name, an expired
/// certificate, no Teleport ALPN answer. Each is refused with an error naming the peer and reason.
/// </summary>
public sealed class WireTlsSecurityTests
{
    private const string Cluster = "example.teleport.test";

    [Test]
    public async Task Auth_presenting_a_certificate_of_another_host_CA_is_refused()
    {
        using var trusted = new TestAuthority(Cluster);
        using var attacker = new TestAuthority(Cluster);
        await using var server = new HostileTlsServer(attacker.IssueServer(), [SslApplicationProtocol.Http2]);
        var holder = new IdentityHolder { Current = trusted.IssueIdentity() };
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address }, holder.Provider);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.PingAsync());

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(error.Message, Does.Contain($"Auth at {server.Address}"));
        Assert.That(error.Message, Does.Contain("not issued by a trusted authority"));
        Assert.That(server.ServerNames.First(), Is.EqualTo(WireProtocol.EncodeClusterServerName(Cluster)), "SNI is the encoded cluster name");
        Assert.That(error.Message, Does.Contain("as the Auth Service, then as a proxy"), "auth_server is then tried as a proxy (Teleport's order)");
    }

    [Test]
    public async Task Auth_certificate_for_another_name_is_refused()
    {
        using var authority = new TestAuthority(Cluster);
        await using var server = new HostileTlsServer(authority.IssueServer(["evil.example.com"]), [SslApplicationProtocol.Http2]);
        var holder = new IdentityHolder { Current = authority.IssueIdentity() };
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address }, holder.Provider);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.PingAsync());

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.PrincipalNotAllowed));
        Assert.That(error.Message, Does.Contain(WireProtocol.EncodeClusterServerName(Cluster)));
    }

    [Test]
    public async Task Expired_server_certificate_is_refused()
    {
        using var authority = new TestAuthority(Cluster);
        var expired = authority.IssueServer(notBefore: DateTimeOffset.UtcNow.AddHours(-3), notAfter: DateTimeOffset.UtcNow.AddHours(-2));
        await using var server = new HostileTlsServer(expired, [SslApplicationProtocol.Http2]);
        var holder = new IdentityHolder { Current = authority.IssueIdentity() };
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address }, holder.Provider);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.PingAsync());

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.Expired));
    }

    [Test]
    public async Task Server_that_does_not_answer_with_the_requested_ALPN_is_refused()
    {
        using var authority = new TestAuthority(Cluster);
        await using var server = new HostileTlsServer(authority.IssueServer(), protocols: null);
        var holder = new IdentityHolder { Current = authority.IssueIdentity() };
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address }, holder.Provider);

        var error = Assert.ThrowsAsync<TeleportConnectionException>(() => client.PingAsync());

        Assert.That(error!.Message, Does.Contain("ALPN"));
        Assert.That(error.Message, Does.Contain($"Auth at {server.Address}"));
        Assert.That(await server.ClientCertificatePresented.Task.WaitAsync(TimeSpan.FromSeconds(30)), Is.True,
            "the handshake completed (the ALPN answer was refused afterwards) and the identity's certificate was presented");
    }

    [Test]
    public async Task Proxy_web_certificate_for_another_name_is_refused()
    {
        using var authority = new TestAuthority(Cluster);
        await using var server = new HostileTlsServer(authority.IssueServer(["evil.example.com"]), [SslApplicationProtocol.Http11]);
        var options = new WireClientOptions
        {
            ProxyServer = new HostPort("localhost", server.Address.Port),
            ProxyCaCertificates = [authority.Certificate],
        };
        await using var client = TeleportWireClient.Create(options, () => null);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.DiscoverAsync());

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.PrincipalNotAllowed));
        Assert.That(error.Message, Does.Contain("'localhost'"));
        Assert.That(server.LastServerName, Is.EqualTo("localhost"), "SNI is the proxy host");
    }

    [Test]
    public async Task Insecure_is_not_implied_by_a_failing_proxy_even_on_loopback()
    {
        using var authority = new TestAuthority(Cluster);
        await using var server = new HostileTlsServer(authority.IssueServer(["localhost"]), [SslApplicationProtocol.Http11]);
        await using var client = TeleportWireClient.Create(new WireClientOptions { ProxyServer = new HostPort("localhost", server.Address.Port) }, () => null);

        Assert.ThrowsAsync<CertificateValidationException>(() => client.DiscoverAsync());
    }
}
