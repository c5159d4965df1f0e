using System.Net;
using System.Net.Sockets;
using System.Text;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>The client's behaviour seen from real servers: metadata, SNI/ALPN, client certificates per identity, plain-HTTP fallback.</summary>
public sealed class WireBehaviourTests
{
    private const string Cluster = "example.teleport.test";

    [Test]
    public async Task Calls_carry_Teleports_metadata_SNI_ALPN_and_the_identity_certificate()
    {
        using var authority = new TestAuthority(Cluster);
        await using var server = await RecordingAuthServer.StartAsync(authority.IssueServer());
        var holder = new IdentityHolder { Current = authority.IssueIdentity() };
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address }, holder.Provider);

        var ping = await client.PingAsync();

        Assert.That(ping.ClusterName, Is.EqualTo("recorded"));
        var call = server.Calls.Single();
        Assert.That(call.Version, Is.EqualTo("18.0.0"), "gRPC metadata version: a valid Teleport semver");
        Assert.That(call.UserAgent, Does.StartWith("teleport-machineid-dotnet/"));
        Assert.That(call.ServerName, Is.EqualTo(WireProtocol.EncodeClusterServerName(Cluster)));
        Assert.That(call.Alpn, Is.EqualTo("h2"));
        Assert.That(call.ClientCertificateSubject, Does.Contain("CN=bot-robot"));
        Assert.That(call.Authority, Is.EqualTo(WireProtocol.ApiDomain));
    }

    [Test]
    public async Task A_renewed_identity_takes_effect_on_new_connections_and_the_old_one_is_not_reused()
    {
        using var authority = new TestAuthority(Cluster);
        await using var server = await RecordingAuthServer.StartAsync(authority.IssueServer());
        var first = authority.IssueIdentity();
        var holder = new IdentityHolder { Current = first };
        await using var client = TeleportWireClient.Create(new WireClientOptions { AuthServer = server.Address }, holder.Provider);

        await client.PingAsync();
        await client.PingAsync();
        var renewed = authority.IssueIdentity();
        holder.Current = renewed;
        await client.PingAsync();
        await client.PingAsync();
        holder.Current = first;
        await client.PingAsync();

        var calls = server.Calls.ToArray();
        Assert.That(calls[0].ConnectionId, Is.EqualTo(calls[1].ConnectionId), "calls with one identity share a pooled connection");
        Assert.That(calls[2].ConnectionId, Is.Not.EqualTo(calls[1].ConnectionId), "the renewed identity opens a new connection");
        Assert.That(calls[3].ConnectionId, Is.EqualTo(calls[2].ConnectionId));
        Assert.That(calls[4].ConnectionId, Is.EqualTo(calls[0].ConnectionId), "an identity keeps its own pool while it is alive");
        var subjects = calls.Select(c => c.ClientCertificateSubject).ToArray();
        Assert.That(subjects.Distinct().Count(), Is.EqualTo(1), "same subject, but…");
        Assert.That(first.Tls.SerialNumber, Is.Not.EqualTo(renewed.Tls.SerialNumber));
    }

    [Test]
    public async Task Insecure_loopback_proxy_falls_back_to_plain_HTTP_as_Teleport_does_and_only_then()
    {
        await using var server = new PlainHttpServer(HttpStatusCode.OK,
            """{"cluster_name":"plain","server_version":"18.0.0","proxy":{"tls_routing_enabled":true,"ssh":{"public_addr":"localhost:1"}}}""");

        await using (var insecure = TeleportWireClient.Create(new WireClientOptions { ProxyServer = server.Address, Insecure = true }, () => null))
        {
            var discovery = await insecure.DiscoverAsync();
            Assert.That(discovery.ClusterName, Is.EqualTo("plain"));
        }

        await using (var secure = TeleportWireClient.Create(new WireClientOptions { ProxyServer = server.Address }, () => null))
        {
            Assert.ThrowsAsync<TeleportConnectionException>(() => secure.DiscoverAsync(), "no fallback without insecure");
        }

        Assert.That(server.PlainRequests, Is.EqualTo(1));
    }

    [Test]
    public async Task Teleport_JSON_errors_from_the_web_API_keep_their_message()
    {
        await using var server = new PlainHttpServer(HttpStatusCode.ServiceUnavailable, """{"error":{"message":"auth is down for maintenance"}}""");
        await using var client = TeleportWireClient.Create(new WireClientOptions { ProxyServer = server.Address, Insecure = true }, () => null);

        var error = Assert.ThrowsAsync<TeleportConnectionException>(() => client.DiscoverAsync());

        Assert.That(error!.Message, Does.Contain("auth is down for maintenance"));
        Assert.That(error.Message, Does.Contain("HTTP 503"));
        Assert.That(error.Message, Does.Contain("GET /webapi/find"));
    }

    /// <summary>A plain HTTP/1.1 server on loopback that answers every request with one JSON body and drops TLS attempts.</summary>
    private sealed class PlainHttpServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly HttpStatusCode _status;
        private readonly string _body;
        private int _plainRequests;

        public PlainHttpServer(HttpStatusCode status, string body)
        {
            _status = status;
            _body = body;
            _listener.Start();
            _loop = LoopAsync();
        }

        public HostPort Address => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port);

        public int PlainRequests => Volatile.Read(ref _plainRequests);

        public async ValueTask DisposeAsync()
        {
            await AcceptLoop.StopAsync(_stop, _listener, _loop);
        }

        private async Task LoopAsync()
        {
            while (true)
            {
                using var socket = await _listener.AcceptSocketAsync(_stop.Token);
                var buffer = new byte[8192];
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0 || buffer[0] == 0x16)
                {
                    // A TLS ClientHello: this server speaks only plain HTTP.
                    continue;
                }

                var request = Encoding.ASCII.GetString(buffer, 0, read);
                while (!request.Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    request += Encoding.ASCII.GetString(buffer, 0, read);
                }

                Interlocked.Increment(ref _plainRequests);
                var body = Encoding.UTF8.GetBytes(_body);
                var head = $"HTTP/1.1 {(int)_status} X\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
                await socket.SendAsync(Encoding.ASCII.GetBytes(head).Concat(body).ToArray(), SocketFlags.None, _stop.Token);
                socket.Shutdown(SocketShutdown.Both);
            }
        }
    }
}
