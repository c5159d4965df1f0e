using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Discovery;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>The wire layer's pure parts: addresses, Teleport's address rules, names, JSON shapes, the error mapper.</summary>
public sealed class WireUnitTests
{
    [TestCase("proxy.example.com", 443, "proxy.example.com", 443)]
    [TestCase("proxy.example.com:3080", 443, "proxy.example.com", 3080)]
    [TestCase("https://proxy.example.com:8443/web", 443, "proxy.example.com", 8443)]
    [TestCase("tcp://10.0.0.1", 3023, "10.0.0.1", 3023)]
    [TestCase("[::1]:3025", null, "::1", 3025)]
    [TestCase("[fe80::1]", 443, "fe80::1", 443)]
    [TestCase("fe80::1", 443, "fe80::1", 443)]
    public void HostPort_parses_like_Teleports_web_client(string text, int? defaultPort, string host, int port)
    {
        Assert.That(HostPort.TryParse(text, defaultPort, null, out var address), Is.True);
        Assert.That(address, Is.EqualTo(new HostPort(host, port)));
    }

    [TestCase("")]
    [TestCase("ftp://host:21")]
    [TestCase("host:notaport")]
    [TestCase("host:70000")]
    [TestCase("host")]
    [TestCase("[::1")]
    [TestCase("user@host:22")]
    [TestCase(":::")]
    [TestCase("[:::]:443")]
    [TestCase("host\nname:443")]
    public void HostPort_rejects_what_is_not_an_address(string text) =>
        Assert.That(HostPort.TryParse(text, defaultPort: null, null, out _), Is.False);

    [Test]
    public void HostPort_formats_IPv6_with_brackets_and_knows_loopback()
    {
        Assert.That(new HostPort("::1", 3025).ToString(), Is.EqualTo("[::1]:3025"));
        Assert.That(new HostPort("::1", 3025).IsLoopback, Is.True);
        Assert.That(new HostPort("localhost", 1).IsLoopback, Is.True);
        Assert.That(new HostPort("127.0.0.2", 1).IsLoopback, Is.True);
        Assert.That(new HostPort("example.com", 1).IsLoopback, Is.False);
    }

    [Test]
    public void Cluster_name_encodes_to_Teleports_SNI_and_ALPN()
    {
        // teleport-protocol.md §2.0 example.
        Assert.That(WireProtocol.EncodeClusterServerName("example.teleport.sh"),
            Is.EqualTo("6578616d706c652e74656c65706f72742e7368.teleport.cluster.local"));
        Assert.That(WireProtocol.AuthAlpn("example.teleport.sh").ToString(),
            Is.EqualTo("teleport-auth@6578616d706c652e74656c65706f72742e7368.teleport.cluster.local"));
        Assert.That(WireProtocol.UserAgent, Does.StartWith("teleport-machineid-dotnet/"));
    }

    // Rows: tls routing, listen_addr, web_listen_addr, public_addr, ssh_public_addr, tunnel_listen_addr, ssh_tunnel_public_addr, expected SSH proxy, expected tunnel.
    [TestCase(true, "", "0.0.0.0:3080", "proxy.example.com:443", "", "", "", "proxy.example.com:443", "proxy.example.com:443")]
    [TestCase(true, "", "0.0.0.0:3080", "proxy.example.com", "", "", "", "proxy.example.com:3080", "proxy.example.com:3080")]
    [TestCase(true, "", "proxy.internal:3080", "", "", "", "", "proxy.internal:3080", "proxy.internal:3080")]
    [TestCase(false, "0.0.0.0:3023", "0.0.0.0:3080", "proxy.example.com:3080", "ssh.example.com", "0.0.0.0:3024", "", "ssh.example.com:3023", "ssh.example.com:3024")]
    [TestCase(false, "0.0.0.0:4023", "0.0.0.0:3080", "proxy.example.com:3080", "", "", "", "proxy.example.com:4023", "proxy.example.com:3024")]
    [TestCase(false, "ssh.internal:3023", "", "", "", "", "tun.example.com", "ssh.internal:3023", "tun.example.com:3024")]
    [TestCase(false, "", "", "", "", "", "", "configured.example.com:3023", "configured.example.com:3024")]
    [TestCase(false, "0.0.0.0:3023", "", "", "", "", "", "configured.example.com:3023", "configured.example.com:3024")]
    public void Addresses_follow_Teleports_derivation_rules(bool routing, string listen, string webListen, string publicAddr, string sshPublic,
        string tunnelListen, string tunnelPublic, string expectedSsh, string expectedTunnel)
    {
        var ssh = new SshProxySettingsJson
        {
            ListenAddr = listen,
            WebListenAddr = webListen,
            PublicAddr = publicAddr,
            SshPublicAddr = sshPublic,
            TunnelListenAddr = tunnelListen,
            SshTunnelPublicAddr = tunnelPublic,
        };
        var configured = new HostPort("configured.example.com", 443);

        Assert.That(ClusterDiscovery.DeriveSshProxyAddress(ssh, routing, configured).ToString(), Is.EqualTo(expectedSsh));
        Assert.That(ClusterDiscovery.DeriveTunnelAddress(ssh, routing, configured).ToString(), Is.EqualTo(expectedTunnel));
    }

    [Test]
    public void Find_JSON_of_a_Teleport_18_proxy_is_read()
    {
        const string json = """
            {"auth":{"type":"","private_key_policy":"","piv_slot":"","device_trust":{},"has_motd":false,"default_session_ttl":0,"signature_algorithm_suite":"balanced-v1"},
             "proxy":{"kube":{},"ssh":{"listen_addr":"0.0.0.0:3080","tunnel_listen_addr":"0.0.0.0:3080","web_listen_addr":"0.0.0.0:3080","public_addr":"teleport.example.com:443","dial_timeout":30000000000},
             "db":{},"tls_routing_enabled":true,"assist_enabled":false},"server_version":"18.0.0","min_client_version":"17.0.0-aa","cluster_name":"teleport.example.com",
             "automatic_upgrades":false,"edition":"oss","fips":false,"auto_update":{"tools_version":"18.0.0"}}
            """;
        var parsed = JsonSerializer.Deserialize(json, WireJsonContext.Default.FindResponseJson)!;

        var discovery = ClusterDiscovery.FromJson(parsed, new HostPort("teleport.example.com", 443));

        Assert.That(discovery.ClusterName, Is.EqualTo("teleport.example.com"));
        Assert.That(discovery.TlsRoutingEnabled, Is.True);
        Assert.That(discovery.SignatureAlgorithmSuite, Is.EqualTo(SignatureAlgorithmSuite.BalancedV1));
        Assert.That(discovery.SshProxyAddress, Is.EqualTo(new HostPort("teleport.example.com", 443)));
        Assert.That(discovery.DialTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(discovery.Edition, Is.EqualTo("oss"));
    }

    [TestCase("", "legacy")]
    [TestCase("2", "balanced-v1")]
    [TestCase("\"fips-v1\"", "fips-v1")]
    public void Suite_in_find_JSON_may_be_missing_text_or_number(string value, string expected)
    {
        var auth = value.Length == 0 ? "{}" : $$"""{"signature_algorithm_suite":{{value}}}""";
        var parsed = JsonSerializer.Deserialize($$"""{"cluster_name":"c","auth":{{auth}}}""", WireJsonContext.Default.FindResponseJson)!;

        Assert.That(ClusterDiscovery.FromJson(parsed, new HostPort("c", 443)).SignatureAlgorithmSuite.Name, Is.EqualTo(expected));
    }

    [Test]
    public void Find_without_a_cluster_name_is_a_protocol_error()
    {
        var parsed = JsonSerializer.Deserialize("""{"server_version":"18.0.0"}""", WireJsonContext.Default.FindResponseJson)!;
        Assert.Throws<TeleportProtocolException>(() => ClusterDiscovery.FromJson(parsed, new HostPort("c", 443)));
    }

    [Test]
    public void Legacy_join_request_JSON_has_Gos_field_names_and_encodings()
    {
        var request = new RegisterUsingTokenRequestJson
        {
            Role = "Bot",
            Token = "secret-token",
            PublicTlsKey = Encoding.UTF8.GetBytes("PEM"),
            PublicSshKey = Encoding.UTF8.GetBytes("ssh-ed25519 AAAA\n"),
            Expires = new DateTimeOffset(2025, 7, 1, 13, 0, 0, TimeSpan.FromHours(2)),
        };

        var json = JsonSerializer.Serialize(request, WireJsonContext.Default.RegisterUsingTokenRequestJson);

        Assert.That(json, Is.EqualTo(
            "{\"hostID\":\"\",\"node_name\":\"\",\"role\":\"Bot\",\"token\":\"secret-token\",\"additional_principals\":null,\"dns_names\":null," +
            "\"public_tls_key\":\"UEVN\",\"public_ssh_key\":\"c3NoLWVkMjU1MTkgQUFBQQo=\",\"remote_addr\":\"\",\"ec2_id\":null,\"id_token\":\"\"," +
            "\"expires\":\"2025-07-01T11:00:00Z\",\"bot_instance_id\":\"\",\"bot_generation\":0,\"previous_bot_instance_id\":\"\"}"));
        request.Expires = null;
        Assert.That(JsonSerializer.Serialize(request, WireJsonContext.Default.RegisterUsingTokenRequestJson), Does.Not.Contain("expires"));
    }

    [TestCase(StatusCode.PermissionDenied, typeof(TeleportAccessDeniedException))]
    [TestCase(StatusCode.Unauthenticated, typeof(TeleportAccessDeniedException))]
    [TestCase(StatusCode.NotFound, typeof(TeleportNotFoundException))]
    [TestCase(StatusCode.Unavailable, typeof(TeleportConnectionException))]
    [TestCase(StatusCode.DeadlineExceeded, typeof(TeleportConnectionException))]
    [TestCase(StatusCode.ResourceExhausted, typeof(TeleportConnectionException))]
    [TestCase(StatusCode.Aborted, typeof(TeleportConnectionException))]
    [TestCase(StatusCode.Unimplemented, typeof(TeleportProtocolException))]
    [TestCase(StatusCode.Internal, typeof(TeleportProtocolException))]
    [TestCase(StatusCode.DataLoss, typeof(TeleportProtocolException))]
    [TestCase(StatusCode.InvalidArgument, typeof(TeleportException))]
    [TestCase(StatusCode.AlreadyExists, typeof(TeleportException))]
    [TestCase(StatusCode.FailedPrecondition, typeof(TeleportException))]
    [TestCase(StatusCode.Unknown, typeof(TeleportException))]
    public void Each_gRPC_status_maps_to_one_exception_type(StatusCode code, Type expected)
    {
        var error = WireErrors.FromRpc(new RpcException(new Status(code, "server said no")), "GenerateUserCerts", "Auth at a:3025");

        Assert.That(error.GetType(), Is.EqualTo(expected));
        Assert.That(error.Message, Does.Contain("GenerateUserCerts on Auth at a:3025"));
        Assert.That(error.Message, Does.Contain("server said no"));
        Assert.That(error.InnerException, Is.TypeOf<RpcException>());
        Assert.That(error.IsTransient, Is.EqualTo(expected == typeof(TeleportConnectionException)));
    }

    [Test]
    public void A_connection_lost_on_this_side_is_described_in_words_without_NET_type_names()
    {
        var reset = new IOException("The request was aborted.", new IOException("Unable to read data from the transport connection: Connection reset by peer.",
            new System.Net.Sockets.SocketException(104)));
        var rpc = new RpcException(new Status(StatusCode.Unavailable,
            "Error reading next message. IOException: The request was aborted. SocketException: Connection reset by peer", reset));

        var error = WireErrors.FromRpc(rpc, "TransportService.ProxySSH", "proxy p:443 (SSH transport)");

        Assert.That(error, Is.TypeOf<TeleportConnectionException>());
        Assert.That(error.Message, Does.Contain("Connection reset by peer").And.Not.Contain("IOException").And.Not.Contain("SocketException"));
    }

    [TestCase(StatusCode.PermissionDenied, typeof(TeleportJoinException))]
    [TestCase(StatusCode.NotFound, typeof(TeleportJoinException))]
    [TestCase(StatusCode.InvalidArgument, typeof(TeleportJoinException))]
    [TestCase(StatusCode.Unavailable, typeof(TeleportConnectionException))]
    [TestCase(StatusCode.Unimplemented, typeof(TeleportProtocolException))]
    public void Join_refusals_are_join_failures_and_the_token_is_redacted(StatusCode code, Type expected)
    {
        var error = WireErrors.FromRpc(new RpcException(new Status(code, "token \"abc123secret\" expired or not found")),
            "RegisterUsingToken", "Auth at a:3025", WireOperationKind.Join, "abc123secret");

        Assert.That(error.GetType(), Is.EqualTo(expected));
        Assert.That(error.Message, Does.Not.Contain("abc123secret"));
        Assert.That(error.Message, Does.Contain("<redacted>"));
    }

    [Test]
    public void A_short_token_is_redacted_where_it_stands_alone_without_mangling_words()
    {
        var error = WireErrors.FromHttp(HttpStatusCode.Forbidden, """{"error":{"message":"token \"x\" expired or not found"}}"""u8,
            "POST /webapi/host/credentials", "proxy p:443 (web)", WireOperationKind.Join, "x");

        Assert.That(error.Message, Does.Contain("token \"<redacted>\" expired"));
    }

    [TestCase(HttpStatusCode.BadRequest, typeof(TeleportException))]
    [TestCase(HttpStatusCode.Unauthorized, typeof(TeleportAccessDeniedException))]
    [TestCase(HttpStatusCode.Forbidden, typeof(TeleportAccessDeniedException))]
    [TestCase(HttpStatusCode.NotFound, typeof(TeleportNotFoundException))]
    [TestCase(HttpStatusCode.TooManyRequests, typeof(TeleportConnectionException))]
    [TestCase(HttpStatusCode.InternalServerError, typeof(TeleportException))]
    [TestCase(HttpStatusCode.NotImplemented, typeof(TeleportProtocolException))]
    [TestCase(HttpStatusCode.BadGateway, typeof(TeleportConnectionException))]
    [TestCase(HttpStatusCode.ServiceUnavailable, typeof(TeleportConnectionException))]
    [TestCase(HttpStatusCode.GatewayTimeout, typeof(TeleportConnectionException))]
    public void Teleport_HTTP_JSON_errors_map_by_status_and_carry_the_message(HttpStatusCode status, Type expected)
    {
        var error = WireErrors.FromHttp(status, """{"error":{"message":"the proxy says why"}}"""u8, "GET /webapi/find", "proxy p:443 (web)");

        Assert.That(error.GetType(), Is.EqualTo(expected));
        Assert.That(error.Message, Does.Contain("the proxy says why"));
        Assert.That(error.Message, Does.Contain($"HTTP {(int)status}"));
    }

    [TestCase(413, "", true)]
    [TestCase(413, "", false)]
    [TestCase(429, """{"error":{"message":"the read limit is reached"}}""", true)]
    public void A_request_too_large_for_the_proxy_is_refused_for_good_not_retried(int status, string body, bool join)
    {
        var error = WireErrors.FromHttp((HttpStatusCode)status, System.Text.Encoding.UTF8.GetBytes(body), "POST /webapi/host/credentials", "proxy p:443 (web)", join ? WireOperationKind.Join : WireOperationKind.Call);

        Assert.That(error, Is.TypeOf<TeleportProtocolException>());
        Assert.That(error.IsTransient, Is.False);
        Assert.That(error.Message, Does.Contain("too large").And.Contain("retrying cannot help"));
    }

    [TestCase("grpc: received message larger than max (70000000 vs. 4194304)")]
    [TestCase("Received message exceeds the maximum configured message size.")]
    public void A_gRPC_message_over_a_size_limit_is_permanent_while_other_resource_exhaustion_is_transient(string detail)
    {
        var tooLarge = WireErrors.FromRpc(new RpcException(new Status(StatusCode.ResourceExhausted, detail)), "Join", "proxy p:443", WireOperationKind.Join);
        var rateLimited = WireErrors.FromRpc(new RpcException(new Status(StatusCode.ResourceExhausted, "rate limit exceeded")), "Join", "proxy p:443", WireOperationKind.Join);

        Assert.That(tooLarge, Is.TypeOf<TeleportProtocolException>());
        Assert.That(tooLarge.IsTransient, Is.False);
        Assert.That(rateLimited.IsTransient, Is.True);
    }

    [Test]
    public void HTTP_join_refusals_are_join_failures_and_non_JSON_bodies_are_not_quoted()
    {
        var join = WireErrors.FromHttp(HttpStatusCode.Forbidden, """{"error":{"message":"token s3cr3t is expired"}}"""u8,
            "POST /webapi/host/credentials", "proxy p:443 (web)", WireOperationKind.Join, "s3cr3t");
        var html = WireErrors.FromHttp(HttpStatusCode.BadGateway, "<html>secret-looking page</html>"u8, "GET /webapi/find", "proxy p:443 (web)");

        Assert.That(join, Is.TypeOf<TeleportJoinException>());
        Assert.That(join.Message, Does.Not.Contain("s3cr3t"));
        Assert.That(html.Message, Does.Not.Contain("secret-looking"));
        Assert.That(html.Message, Does.Contain("non-JSON body"));
    }

    [Test]
    public void A_local_TLS_failure_inside_a_gRPC_status_keeps_its_type()
    {
        var local = new CertificateValidationException(CertificateValidationFailure.Expired, "The certificate of Auth at a:1 expired.");
        var rpc = new RpcException(new Status(StatusCode.Unavailable, "Error connecting", new HttpRequestException("wrapped", local)));

        var error = WireErrors.FromRpc(rpc, "Ping", "Auth at a:1");

        Assert.That(error, Is.TypeOf<CertificateValidationException>());
        Assert.That(((CertificateValidationException)error).Failure, Is.EqualTo(CertificateValidationFailure.Expired));
        Assert.That(error.Message, Does.StartWith("Ping on Auth at a:1: "));
    }

    [Test]
    public void Malformed_certificates_in_a_reply_are_a_protocol_error()
    {
        var error = Assert.Throws<TeleportProtocolException>(() => IssuedCertificates.FromLegacy(
            "ssh-ed25519-cert-v01@openssh.com AAAA\n"u8, default, [], [], "GenerateUserCerts on Auth at a:1"));

        Assert.That(error!.Message, Does.Contain("GenerateUserCerts on Auth at a:1 returned malformed certificates"));
        Assert.That(error.InnerException, Is.InstanceOf<TeleportFormatException>());
    }

    [Test]
    public void Two_tls_certificates_in_a_legacy_join_reply_are_a_protocol_error()
    {
        // Fuzzing regression (webapi-json): the reply's TLS certificate was read with Single(), so two
        // PEM blocks escaped as an InvalidOperationException.
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=bot-ci,O=example.com", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        var pem = certificate.ExportCertificatePem() + "\n";
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            ssh = File.ReadAllBytes(Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "Ssh", "teleport-key-cert.pub")),
            tls = Encoding.UTF8.GetBytes(pem + pem),
        });

        var error = Assert.Throws<TeleportProtocolException>(() => ProxyWebClient.ParseCertsResponse(body, "POST /webapi/host/credentials on proxy"));
        Assert.That(IssuedCertificates.ReadSinglePemCertificate(pem, "TLS certificate").Subject, Is.EqualTo("CN=bot-ci, O=example.com"));
        Assert.That(Assert.Throws<TeleportFormatException>(() => IssuedCertificates.ReadSinglePemCertificate(pem + pem, "TLS certificate"))!.Message,
            Does.Contain("2 PEM CERTIFICATE blocks"));
        Assert.That(error!.Message, Does.StartWith("POST /webapi/host/credentials on proxy"));
        Assert.That(error.InnerException!.Message, Does.Contain("2 PEM CERTIFICATE blocks"));
    }

    [Test]
    public void Options_must_name_exactly_one_server_and_not_mix_insecure_with_pins()
    {
        var pin = "sha256:" + new string('a', 64);
        Assert.Throws<ArgumentException>(() => new WireClientOptions().Validate());
        Assert.Throws<ArgumentException>(() => new WireClientOptions { ProxyServer = new("p", 443), AuthServer = new("a", 3025) }.Validate());
        Assert.Throws<ArgumentException>(() => new WireClientOptions { AuthServer = new("a", 3025), Insecure = true, CaPins = [pin] }.Validate());
        Assert.Throws<ArgumentException>(() => new WireClientOptions { AuthServer = new("a", 3025), CaPins = [pin], CaPath = "/x" }.Validate());
        Assert.Throws<ArgumentException>(() => new WireClientOptions { AuthServer = new("a", 3025), CaPins = ["md5:00"] }.Validate());
        Assert.DoesNotThrow(() => new WireClientOptions { AuthServer = new("a", 3025), CaPins = [pin] }.Validate());
    }
}
