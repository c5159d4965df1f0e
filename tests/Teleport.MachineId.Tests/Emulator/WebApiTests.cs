using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Tests.Emulator;

/// <summary>The proxy's HTTP endpoints (teleport-protocol.md §1, §3.3), verified through the emulator's web CA.</summary>
public sealed class WebApiTests
{
    [TestCase("webapi/find", true)]
    [TestCase("v1/webapi/find", true)]
    [TestCase("webapi/ping", false)]
    [TestCase("v1/webapi/ping", false)]
    public async Task Find_and_ping_describe_the_cluster(string path, bool isFind)
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { ClusterName = "web.teleport.test" });
        using var http = EmulatorClient.Web(cluster);

        using var response = await http.GetAsync(path);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/json"));
        Assert.That((string?)json["cluster_name"], Is.EqualTo("web.teleport.test"));
        Assert.That((string?)json["server_version"], Is.EqualTo("18.0.0"));
        Assert.That((string?)json["min_client_version"], Is.EqualTo("17.0.0-aa"));
        Assert.That((string?)json["auth"]!["signature_algorithm_suite"], Is.EqualTo("balanced-v1"));
        Assert.That((bool?)json["proxy"]!["tls_routing_enabled"], Is.True);
        Assert.That((string?)json["proxy"]!["ssh"]!["public_addr"], Is.EqualTo(cluster.ProxyAddress));
        Assert.That((string?)json["edition"], Is.Not.Empty);
        Assert.That((bool?)json["fips"], Is.False);
        Assert.That((string?)json["auth"]!["type"], Is.EqualTo(isFind ? string.Empty : "local"));
    }

    [Test]
    public async Task Find_without_TLS_routing_points_at_the_separate_SSH_port()
    {
        await using var cluster = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { TlsRoutingEnabled = false });
        using var http = EmulatorClient.Web(cluster);

        var json = JsonNode.Parse(await http.GetStringAsync("webapi/find"))!;

        Assert.That((bool?)json["proxy"]!["tls_routing_enabled"], Is.False);
        // Client derivation (§1.1): ssh_public_addr first when TLS routing is off.
        Assert.That((string?)json["proxy"]!["ssh"]!["ssh_public_addr"], Is.EqualTo(cluster.SshProxyAddress));
        Assert.That((string?)json["proxy"]!["ssh"]!["public_addr"], Is.EqualTo(cluster.ProxyAddress));
    }

    [Test]
    public async Task The_web_certificate_covers_localhost_and_127_0_0_1_and_chains_to_the_web_CA()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        var port = cluster.ProxyAddress.Split(':')[1];

        foreach (var host in new[] { "localhost", "127.0.0.1" })
        {
            await using var tls = await EmulatorClient.ConnectTlsAsync(host + ":" + port, host, ["http/1.1"], null,
                EmulatorClient.Chain(cluster.WebCaCertificate));
            var certificate = (X509Certificate2)tls.RemoteCertificate!;
            Assert.That(certificate.Issuer, Is.EqualTo(cluster.WebCaCertificate.Subject));
        }
    }

    [Test]
    public async Task Unknown_paths_are_404_with_a_trace_error_body()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        using var http = EmulatorClient.Web(cluster);

        using var response = await http.GetAsync("webapi/nope");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["message"], Is.Not.Empty);
    }

    [TestCase("webapi/host/credentials")]
    [TestCase("v1/webapi/host/credentials")]
    public async Task Host_credentials_joins_a_bot_and_returns_proto_Certs_as_JSON(string path)
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        using var http = EmulatorClient.Web(cluster);

        using var response = await http.PostAsync(path, JsonBody(key, token.Name, expires: null));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        var json = JsonNode.Parse(body)!;
        var ssh = SshCertificate.ParseAuthorizedKey(Encoding.UTF8.GetString(Convert.FromBase64String((string)json["ssh"]!)));
        var tls = TeleportTlsIdentity.FromPem(Encoding.UTF8.GetString(Convert.FromBase64String((string)json["tls"]!)));
        Assert.That(ssh.KeyId, Is.EqualTo("bot-robot"));
        Assert.That(ssh.PublicKey, Is.EqualTo(key.PublicKey));
        Assert.That(tls.Username, Is.EqualTo("bot-robot"));
        Assert.That(tls.IsRenewable, Is.True);
        Assert.That(json["tls_ca_certs"]!.AsArray(), Has.Count.EqualTo(2), "user + host CA");
        Assert.That(json["ssh_ca_certs"]!.AsArray(), Has.Count.EqualTo(2), "user + host CA");
        Assert.That(cluster.JoinTokenExists(token.Name), Is.False, "the token method's tokens are single use");
    }

    [Test]
    public async Task Host_credentials_requires_a_JSON_content_type()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        using var http = EmulatorClient.Web(cluster);
        var content = JsonBody(key, token.Name, null);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");

        using var response = await http.PostAsync("webapi/host/credentials", content);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["message"], Does.Contain("content-type"));
        Assert.That(cluster.JoinTokenExists(token.Name), Is.True, "a refused request does not burn the token");
    }

    [Test]
    public async Task Reused_token_is_refused_with_403()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        using var http = EmulatorClient.Web(cluster);

        using var first = await http.PostAsync("webapi/host/credentials", JsonBody(key, token.Name, null));
        using var second = await http.PostAsync("webapi/host/credentials", JsonBody(key, token.Name, null));

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        var message = (string?)JsonNode.Parse(await second.Content.ReadAsStringAsync())!["error"]!["message"];
        Assert.That(message, Does.Contain("token expired or not found"));
        Assert.That(message, Does.Not.Contain(token.Name), "the secret never appears in errors");
    }

    [Test]
    public async Task Expired_token_is_refused()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TimeProvider = clock });
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName, TimeSpan.FromMinutes(10));
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        using var http = EmulatorClient.Web(cluster);
        clock.Advance(TimeSpan.FromMinutes(11));

        using var response = await http.PostAsync("webapi/host/credentials", JsonBody(key, token.Name, null));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["message"],
            Is.EqualTo("\"\" can not join the cluster with role \"Bot\", token expired or not found"));
        Assert.That(cluster.CountJoinTokens(), Is.Zero);
    }

    [Test]
    public async Task Malformed_public_key_is_a_bad_parameter_and_keeps_the_token()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var http = EmulatorClient.Web(cluster);
        var body = new JsonObject
        {
            ["token"] = token.Name,
            ["role"] = "Bot",
            ["public_tls_key"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")),
        };

        using var response = await http.PostAsync("webapi/host/credentials", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(cluster.JoinTokenExists(token.Name), Is.True);
    }

    [Test]
    public async Task Join_fails_with_504_while_Auth_is_offline()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var token = cluster.CreateJoinToken(EmulatorScenario.BotName);
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        using var http = EmulatorClient.Web(cluster);
        cluster.Faults.TakeAuthOffline();

        using var response = await http.PostAsync("webapi/host/credentials", JsonBody(key, token.Name, null));
        using var find = await http.GetAsync("webapi/find");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.GatewayTimeout), "trace ConnectionProblem");
        Assert.That(find.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the proxy itself is up");
    }

    /// <summary>The body tbot's <c>HostCredentials</c> posts (Go JSON of <c>types.RegisterUsingTokenRequest</c>).</summary>
    internal static StringContent JsonBody(PrivateKey key, string token, DateTimeOffset? expires)
    {
        var body = new JsonObject
        {
            ["hostID"] = "",
            ["node_name"] = "",
            ["role"] = "Bot",
            ["token"] = token,
            ["additional_principals"] = null,
            ["dns_names"] = null,
            ["public_tls_key"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(key.PublicKey.ExportPem())),
            ["public_ssh_key"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(key.PublicKey.ToAuthorizedKey() + "\n")),
            ["remote_addr"] = "",
            ["ec2_id"] = null,
            ["id_token"] = "",
            ["bot_instance_id"] = "",
            ["bot_generation"] = 0,
            ["previous_bot_instance_id"] = "",
        };
        if (expires is { } value)
        {
            body["expires"] = value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        }

        return new StringContent(body.ToJsonString(new JsonSerializerOptions()), Encoding.UTF8, "application/json");
    }
}
