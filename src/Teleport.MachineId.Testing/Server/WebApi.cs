using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;

namespace Teleport.MachineId.Testing.Server;

/// <summary>
/// The proxy's HTTP endpoints (teleport-protocol.md §1, §3.3): <c>GET /webapi/find</c>,
/// <c>GET /webapi/ping</c>, <c>POST /webapi/host/credentials</c>, each also under <c>/v1</c>.
/// Served only on the web endpoint; errors are trace JSON <c>{"error":{"message":…}}</c>.
/// </summary>
internal static class WebApi
{
    private const int MaxRequestBytes = 10 * 1024 * 1024;

    public static void Map(WebApplication app, EmulatorRuntime runtime)
    {
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value ?? string.Empty;
            var isWebApi = path.StartsWith("/webapi/", StringComparison.Ordinal) || path.StartsWith("/v1/webapi/", StringComparison.Ordinal);
            if (isWebApi)
            {
                if (RequestContext.Endpoint(context, runtime) != EndpointKind.Web)
                {
                    await WriteErrorAsync(context, TraceException.NotFound("not found")).ConfigureAwait(false);
                    return;
                }

                var latency = runtime.Faults.Latency;
                if (latency > TimeSpan.Zero)
                {
                    await Task.Delay(latency, context.RequestAborted).ConfigureAwait(false);
                }

                if (runtime.Faults.TryTakeFailure(path, out var status, out var message))
                {
                    context.Response.StatusCode = (int)TraceException.ToHttpStatus(status);
                    await WriteJsonErrorAsync(context, message).ConfigureAwait(false);
                    return;
                }
            }

            await next(context).ConfigureAwait(false);
        });

        foreach (var prefix in new[] { string.Empty, "/v1" })
        {
            app.MapGet(prefix + "/webapi/find", context => WriteJsonAsync(context, writer => WritePing(writer, runtime, full: false)));
            app.MapGet(prefix + "/webapi/ping", context => WriteJsonAsync(context, writer => WritePing(writer, runtime, full: true)));
            app.MapPost(prefix + "/webapi/host/credentials", context => HostCredentialsAsync(context, runtime));
        }
    }

    public static Task WriteErrorAsync(HttpContext context, TraceException error)
    {
        context.Response.StatusCode = (int)TraceException.ToHttpStatus(error.Kind);
        return WriteJsonErrorAsync(context, error.Message);
    }

    private static Task WriteJsonErrorAsync(HttpContext context, string message) =>
        WriteJsonAsync(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }, setStatus: false);

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write, bool setStatus = true)
    {
        if (setStatus)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
        }

        context.Response.ContentType = "application/json";
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The <c>webclient.PingResponse</c> JSON; <c>find</c> leaves the auth settings empty except the suite.</summary>
    private static void WritePing(Utf8JsonWriter writer, EmulatorRuntime runtime, bool full)
    {
        var settings = runtime.Settings;
        var listen = runtime.AuthAddress[..runtime.AuthAddress.LastIndexOf(':')];
        var webListen = listen + ":" + runtime.ProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        writer.WriteStartObject();

        writer.WriteStartObject("auth");
        writer.WriteString("type", full ? "local" : string.Empty);
        if (full)
        {
            writer.WriteString("second_factor", "otp");
            writer.WriteStartObject("local");
            writer.WriteString("name", string.Empty);
            writer.WriteEndObject();
        }

        writer.WriteString("private_key_policy", full ? "none" : string.Empty);
        writer.WriteString("piv_slot", string.Empty);
        writer.WriteStartObject("device_trust");
        if (full)
        {
            writer.WriteBoolean("disabled", true);
        }

        writer.WriteEndObject();
        writer.WriteBoolean("has_motd", false);
        writer.WriteNumber("default_session_ttl", full ? 12L * 3600 * 1_000_000_000 : 0L);
        writer.WriteString("signature_algorithm_suite", settings.Suite.Name);
        writer.WriteEndObject();

        writer.WriteStartObject("proxy");
        writer.WriteStartObject("kube");
        writer.WriteEndObject();
        writer.WriteStartObject("ssh");
        if (settings.TlsRoutingEnabled)
        {
            writer.WriteString("listen_addr", webListen);
            writer.WriteString("tunnel_listen_addr", webListen);
            writer.WriteString("web_listen_addr", webListen);
            writer.WriteString("public_addr", runtime.PublicProxyAddress);
        }
        else
        {
            writer.WriteString("listen_addr", listen + ":" + runtime.SshProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString("web_listen_addr", webListen);
            writer.WriteString("public_addr", runtime.PublicProxyAddress);
            writer.WriteString("ssh_public_addr", runtime.SshProxyAddress);
        }

        writer.WriteEndObject();
        writer.WriteStartObject("db");
        writer.WriteEndObject();
        writer.WriteBoolean("tls_routing_enabled", settings.TlsRoutingEnabled);
        writer.WriteBoolean("assist_enabled", false);
        writer.WriteEndObject();

        writer.WriteString("server_version", settings.ServerVersion);
        writer.WriteString("min_client_version", settings.MinClientVersion.ToString());
        writer.WriteString("cluster_name", settings.ClusterName);
        writer.WriteBoolean("automatic_upgrades", false);
        writer.WriteString("edition", "oss");
        writer.WriteBoolean("fips", false);
        writer.WriteStartObject("auto_update");
        writer.WriteString("tools_version", settings.ServerVersion);
        writer.WriteBoolean("tools_auto_update", false);
        writer.WriteString("agent_version", settings.ServerVersion);
        writer.WriteBoolean("agent_auto_update", false);
        writer.WriteNumber("agent_update_jitter_seconds", 60);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static async Task HostCredentialsAsync(HttpContext context, EmulatorRuntime runtime)
    {
        try
        {
            var request = await ReadJoinRequestAsync(context).ConfigureAwait(false);
            if (!runtime.Faults.AuthOnline)
            {
                throw TraceException.ConnectionProblem("failed to connect to the auth service: connection refused");
            }

            var certificates = await runtime.Auth.JoinBotAsync(request, context.RequestAborted).ConfigureAwait(false);
            await WriteJsonAsync(context, writer =>
            {
                var certs = ProtoConvert.ToCerts(certificates);
                writer.WriteStartObject();
                writer.WriteBase64String("ssh", certs.SSH.Span);
                writer.WriteBase64String("tls", certs.TLS.Span);
                writer.WriteStartArray("tls_ca_certs");
                foreach (var ca in certs.TLSCACerts)
                {
                    writer.WriteBase64StringValue(ca.Span);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("ssh_ca_certs");
                foreach (var ca in certs.SSHCACerts)
                {
                    writer.WriteBase64StringValue(ca.Span);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }).ConfigureAwait(false);
        }
        catch (TraceException ex)
        {
            await WriteErrorAsync(context, ex).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a JSON <c>types.RegisterUsingTokenRequest</c> (gogoproto JSON names).</summary>
    private static async Task<BotJoinRequest> ReadJoinRequestAsync(HttpContext context)
    {
        // Teleport's CSRF check (httplib.ReadJSON): the media type must be application/json.
        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var mediaType)
            || !string.Equals(mediaType.MediaType, "application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw TraceException.BadParameter("invalid request: unexpected content-type, expected application/json");
        }

        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            body.Write(buffer, 0, read);
            if (body.Length > MaxRequestBytes)
            {
                throw TraceException.BadParameter("request body is too large");
            }
        }

        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw TraceException.BadParameter("invalid request: expected a JSON object");
            }

            string? keyError = null;
            PublicKeyInfo? tls = null;
            PublicKeyInfo? ssh = null;
            try
            {
                var tlsBytes = Bytes(root, "public_tls_key");
                tls = tlsBytes.Length == 0 ? null : PublicKeyInfo.ImportPem(Encoding.UTF8.GetString(tlsBytes));
                var sshBytes = Bytes(root, "public_ssh_key");
                ssh = sshBytes.Length == 0 ? null : PublicKeyInfo.ParseAuthorizedKey(Encoding.UTF8.GetString(sshBytes));
            }
            catch (TeleportFormatException ex)
            {
                keyError = "invalid public key: " + ex.Message;
            }

            DateTimeOffset? expires = null;
            if (root.TryGetProperty("expires", out var expiresElement) && expiresElement.ValueKind == JsonValueKind.String)
            {
                if (!expiresElement.TryGetDateTimeOffset(out var value))
                {
                    throw TraceException.BadParameter("invalid request: expires is not an RFC 3339 time");
                }

                expires = value;
            }

            return new BotJoinRequest
            {
                Token = String(root, "token"),
                Role = String(root, "role"),
                NodeName = String(root, "node_name"),
                HostId = String(root, "hostID"),
                TlsPublicKey = tls,
                SshPublicKey = ssh,
                KeyError = keyError,
                Expires = expires,
                RemoteAddress = context.Connection.RemoteIpAddress?.ToString() ?? string.Empty,
                IdToken = String(root, "id_token"),
                Api = "POST /webapi/host/credentials",
            };
        }
        catch (JsonException)
        {
            throw TraceException.BadParameter("invalid request: the body is not valid JSON");
        }
        catch (InvalidOperationException)
        {
            throw TraceException.BadParameter("invalid request: a field has the wrong JSON type");
        }
    }

    private static string String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? string.Empty : string.Empty;

    private static byte[] Bytes(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
        {
            return [];
        }

        return value.TryGetBytesFromBase64(out var bytes)
            ? bytes
            : throw new TeleportFormatException($"{name} is not valid base64");
    }
}
