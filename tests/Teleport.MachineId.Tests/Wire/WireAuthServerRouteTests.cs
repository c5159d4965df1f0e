using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Identity;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// <c>auth_server</c> as Teleport reads it (lib/auth/join/join.go <c>Register</c>): Auth first and then
/// the same address as a proxy, the proxy first on ports 443/3080, one error naming every attempt,
/// and never a second attempt of something the cluster may have received.
/// </summary>
public sealed class WireAuthServerRouteTests
{
    [TestCase(3025, "Auth,Proxy")]
    [TestCase(8443, "Auth,Proxy")]
    [TestCase(443, "Proxy,Auth")]
    [TestCase(3080, "Proxy,Auth")]
    public void Auth_server_is_tried_as_Auth_first_unless_its_port_looks_like_a_proxy(int port, string expected)
    {
        var plan = ClusterAddressPlan.For(new WireClientOptions { AuthServer = new HostPort("teleport.example.com", port) });

        Assert.That(string.Join(",", plan.Select(c => c.Role)), Is.EqualTo(expected));
        Assert.That(plan.Select(c => c.Address), Has.All.EqualTo(new HostPort("teleport.example.com", port)));
    }

    [TestCase(443)]
    [TestCase(3025)]
    public void Proxy_server_is_only_ever_tried_as_a_proxy(int port)
    {
        var plan = ClusterAddressPlan.For(new WireClientOptions { ProxyServer = new HostPort("teleport.example.com", port) });

        Assert.That(plan, Has.Count.EqualTo(1));
        Assert.That(plan[0].Role, Is.EqualTo(ClusterAddressRole.Proxy));
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task An_auth_server_naming_the_proxy_joins_renews_and_reaches_nodes_through_the_proxy(bool tlsRouting)
    {
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = tlsRouting });
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.Emulator.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        var holder = new IdentityHolder();
        var options = new WireClientOptions
        {
            AuthServer = cluster.ProxyAddress,
            ProxyCaCertificates = [cluster.Emulator.WebCaCertificate],
            TimeProvider = cluster.Emulator.TimeProvider,
            LoggerFactory = loggerFactory,
        };
        await using var client = TeleportWireClient.Create(options, holder.Provider);

        var joined = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));
        holder.Current = joined.CreateIdentity();
        using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);
        var renewed = await client.GenerateUserCertsAsync(UserCertificateRequest.ForBotRenewal(joined.Certificates.TlsIdentity!.Username, key.PublicKey,
            cluster.Emulator.TimeProvider.GetUtcNow().AddHours(1)));
        holder.Current = WireIdentity.Create(key, renewed);
        var discovery = await client.DiscoverAsync();

        // An output's identity, used by a new client (a later connection: the route is chosen again).
        using var outputKey = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
        var output = await client.GenerateUserCertsAsync(UserCertificateRequest.ForImpersonation(renewed.TlsIdentity!.Username, outputKey.PublicKey,
            cluster.Emulator.TimeProvider.GetUtcNow().AddHours(1), [WireTestCluster.AccessRole], cluster.ClusterName));
        var outputHolder = new IdentityHolder { Current = WireIdentity.Create(outputKey, output.TlsCertificate!, holder.Current.TrustedCertificateAuthorities.Cast<X509Certificate2>()) };
        await using var nodeClient = TeleportWireClient.Create(options, outputHolder.Provider);
        await using var stream = await nodeClient.OpenSshAsync("echo:22");
        await stream.WriteAsync("ping"u8.ToArray());
        await stream.ShutdownWriteAsync();
        var echoed = new byte[4];
        await stream.ReadExactlyAsync(echoed);

        Assert.That(renewed.TlsIdentity!.Generation, Is.EqualTo(2), "renewed through the proxy");
        Assert.That(discovery.TlsRoutingEnabled, Is.EqualTo(tlsRouting));
        Assert.That(echoed, Is.EqualTo("ping"u8.ToArray()));
        var routeLog = logs.Entries.Where(e => e.EventId.Id is MachineIdEventIds.WireRouteAttempt or MachineIdEventIds.WireRouteFailed or MachineIdEventIds.WireRouteSelected)
            .Select(e => e.Text).ToList();
        Assert.That(routeLog[0], Does.Contain($"Join: trying {cluster.ProxyAddress} as the Auth Service"), "a port other than 443/3080: Auth first, as Teleport");
        Assert.That(routeLog[1], Does.Contain("as the Auth Service did not work before anything was sent").And.Contain("ca_pins"));
        Assert.That(routeLog[2], Does.Contain($"Join: trying {cluster.ProxyAddress} as a proxy"));
        Assert.That(routeLog[3], Does.Contain($"Using auth_server {cluster.ProxyAddress} as a proxy"));
        Assert.That(routeLog.Skip(4).TakeWhile(line => !line.Contains("ProxySSH", StringComparison.Ordinal)), Has.All.Contain("as a proxy"),
            "later calls go to the route that worked first");
        Assert.That(routeLog.Last(), Does.Contain("Using auth_server").And.Contain("as a proxy"), "the new client fell back from Auth to the proxy before opening ProxySSH");
        Assert.That(logs.AllText, Does.Not.Contain(joined.PrivateKey.ExportPem()));
    }

    [Test]
    public async Task An_auth_server_on_the_proxy_port_3080_is_tried_as_a_proxy_first()
    {
        // A loopback address of its own, so port 3080 is free whatever else runs on this machine.
        var address = IPAddress.Parse($"127.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(2, 250)}");
        await using var cluster = await WireTestCluster.StartAsync(new TeleportEmulatorOptions
        {
            ListenAddress = address,
            PublicHostName = address.ToString(),
            ProxyPort = ClusterAddressPlan.ProxyListenPort,
        });
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        await using var client = TeleportWireClient.Create(new WireClientOptions
        {
            AuthServer = new HostPort(address.ToString(), ClusterAddressPlan.ProxyListenPort),
            ProxyCaCertificates = [cluster.Emulator.WebCaCertificate],
            LoggerFactory = loggerFactory,
        }, () => null);

        var result = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));

        Assert.That(result.Certificates.TlsIdentity!.Generation, Is.EqualTo(1));
        var attempts = logs.Entries.Where(e => e.EventId.Id == MachineIdEventIds.WireRouteAttempt).Select(e => e.Text).ToList();
        Assert.That(attempts, Has.Count.EqualTo(1));
        Assert.That(attempts[0], Does.Contain("as a proxy"));
    }

    [Test]
    public async Task When_every_way_fails_one_error_names_each_attempt_and_its_reason()
    {
        using var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var pin = "sha256:" + new string('a', 64);
        await using var client = TeleportWireClient.Create(new WireClientOptions
        {
            AuthServer = new HostPort("127.0.0.1", port),
            CaPins = [pin],
            ConnectTimeout = TimeSpan.FromSeconds(5),
        }, () => null);
        const string token = "0123456789abcdef0123456789abcdef";

        var error = Assert.ThrowsAsync<TeleportConnectionException>(() => client.JoinWithTokenAsync(token, TimeSpan.FromHours(1)));

        Assert.That(error!.Message, Does.Contain($"auth_server 127.0.0.1:{port} was tried as the Auth Service, then as a proxy"));
        Assert.That(error.Message, Does.Contain("As the Auth Service: ").And.Contain("As a proxy: "));
        Assert.That(error.Message, Does.Contain("Could not connect").IgnoreCase);
        Assert.That(error.InnerException, Is.InstanceOf<AggregateException>());
        Assert.That(((AggregateException)error.InnerException!).InnerExceptions, Has.Count.EqualTo(2));
        Assert.That(error.ToString(), Does.Not.Contain(token));
    }

    [Test]
    public async Task Auth_address_without_pins_or_ca_path_is_refused_naming_both_attempts()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(), () => null);
        var token = cluster.CreateToken();

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => client.JoinWithTokenAsync(token, TimeSpan.FromHours(1)));

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority), "no unverified fallback to Auth (stricter than Teleport)");
        Assert.That(error.Message, Does.Contain("As the Auth Service: ").And.Contain("ca_pins"));
        Assert.That(error.Message, Does.Contain("As a proxy: "));
        Assert.That(cluster.Emulator.JoinTokenExists(token), Is.True, "the token was sent nowhere");
    }

    [Test]
    public async Task A_refused_token_on_direct_Auth_is_not_tried_again_through_the_proxy()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()) with { LoggerFactory = loggerFactory }, () => null);

        Assert.ThrowsAsync<TeleportJoinException>(() => client.JoinWithTokenAsync("0123456789abcdef0123456789abcdef", TimeSpan.FromHours(1)));

        Assert.That(logs.Entries.Count(e => e.EventId.Id == MachineIdEventIds.WireRouteAttempt), Is.EqualTo(1), "the cluster answered: no other route");
    }

    [Test]
    public async Task A_renewal_that_reached_Auth_is_never_sent_again_through_the_proxy()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var holder = new IdentityHolder();
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()) with { LoggerFactory = loggerFactory }, holder.Provider);
        var joined = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));
        holder.Current = joined.CreateIdentity();
        var issuedBefore = cluster.Emulator.IssuedCertificates.Count;
        cluster.Emulator.Faults.FailNextCalls(1, StatusCode.Unavailable, "GenerateUserCerts");
        using var key = PrivateKey.Generate(cluster.Emulator.SignatureAlgorithmSuite, KeyPurpose.BotIdentity);

        Assert.ThrowsAsync<TeleportConnectionException>(() => client.GenerateUserCertsAsync(
            UserCertificateRequest.ForBotRenewal(joined.Certificates.TlsIdentity!.Username, key.PublicKey, DateTimeOffset.UtcNow.AddHours(1))));

        Assert.That(cluster.Emulator.IssuedCertificates, Has.Count.EqualTo(issuedBefore));
        Assert.That(logs.Entries.Count(e => e.EventId.Id == MachineIdEventIds.WireRouteAttempt && e.Text.Contains("GenerateUserCerts", StringComparison.Ordinal)),
            Is.EqualTo(1), "Auth answered (Unavailable): the renewal is not sent again another way");
        var renewed = await client.GenerateUserCertsAsync(
            UserCertificateRequest.ForBotRenewal(joined.Certificates.TlsIdentity!.Username, key.PublicKey, DateTimeOffset.UtcNow.AddHours(1)));
        Assert.That(renewed.TlsIdentity!.Generation, Is.EqualTo(2), "one renewal from generation 1, not two");
    }

    [Test]
    public async Task Auth_address_with_CA_pins_joins_directly_as_before()
    {
        await using var cluster = await WireTestCluster.StartAsync();
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        await using var client = TeleportWireClient.Create(cluster.AuthOptions(pins: cluster.Emulator.GetCaPins()) with { LoggerFactory = loggerFactory }, () => null);

        var result = await client.JoinWithTokenAsync(cluster.CreateToken(), TimeSpan.FromHours(1));

        Assert.That(result.Api, Is.Not.EqualTo(Teleport.MachineId.Wire.Join.JoinApi.LegacyHttp), "joined on Auth, not through the proxy's HTTP API");
        Assert.That(logs.Entries.Where(e => e.EventId.Id == MachineIdEventIds.WireJoinStarted).Select(e => e.Text),
            Has.All.Contain($"Auth at {cluster.AuthAddress}"));
        Assert.That(logs.Entries.Count(e => e.EventId.Id == MachineIdEventIds.WireRouteFailed), Is.Zero);
    }
}
