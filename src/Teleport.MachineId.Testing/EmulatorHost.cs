using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Testing.Hosting;

namespace Teleport.MachineId.Testing;

/// <summary>
/// Runs an emulator from an <see cref="EmulatorConfiguration"/> and writes what clients need to an
/// output directory (the library behind <c>tbot-dotnet emulator -c emulator.yaml</c>):
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term><c>cluster.json</c></term><description>addresses, cluster name, version, suite, CA pins, and the files below</description></item>
/// <item><term><c>proxy-address</c></term><description>the proxy address for <c>proxy_server</c></description></item>
/// <item><term><c>web-ca.pem</c></term><description>the proxy web certificate's CA (trust it as the proxy CA bundle)</description></item>
/// <item><term><c>host-ca.pem</c></term><description>the host CA TLS certificates (<c>ca_path</c> for direct Auth joins)</description></item>
/// <item><term><c>user-ca.pub</c></term><description>the user CA SSH keys for sshd's <c>TrustedUserCAKeys</c></description></item>
/// <item><term><c>known_hosts</c></term><description><c>@cert-authority</c> lines for the host CA</description></item>
/// <item><term><c>&lt;node&gt;-cert.pub</c></term><description>host certificates for configured node host keys</description></item>
/// <item><term><c>tokens/&lt;bot&gt;</c></term><description>join token secrets (0600)</description></item>
/// </list>
/// The directory is created 0700 if missing; files holding secrets are 0600. The files describe the
/// cluster at start-up; CA rotations later are not written back.
/// </remarks>
public static partial class EmulatorHost
{
    /// <summary>
    /// Starts the emulator, writes the output directory, and runs until <paramref name="cancellationToken"/> is
    /// cancelled (then stops and returns normally, also when cancelled during start-up).
    /// </summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="outputDirectory">Where to write client files.</param>
    /// <param name="cancellationToken">Stops the emulator.</param>
    /// <param name="loggerFactory">Where to log; none when null.</param>
    /// <returns>A task that completes when the emulator has stopped.</returns>
    /// <exception cref="TeleportFormatException">The configuration, a resource file or a host key is invalid.</exception>
    /// <exception cref="IOException">A file cannot be read or written.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">A port is in use.</exception>
    public static async Task RunAsync(EmulatorConfiguration configuration, string outputDirectory, CancellationToken cancellationToken, ILoggerFactory? loggerFactory = null)
    {
        TeleportEmulator cluster;
        try
        {
            cluster = await StartAsync(configuration, outputDirectory, loggerFactory, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts the emulator and writes the output directory; the caller disposes the emulator.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="outputDirectory">Where to write client files.</param>
    /// <param name="loggerFactory">Where to log; none when null.</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <returns>The running emulator.</returns>
    /// <exception cref="TeleportFormatException">The configuration, a resource file or a host key is invalid.</exception>
    /// <exception cref="IOException">A file cannot be read or written.</exception>
    /// <exception cref="InvalidOperationException">A resource conflicts with another or references a missing bot.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">A port is in use.</exception>
    public static async Task<TeleportEmulator> StartAsync(EmulatorConfiguration configuration, string outputDirectory,
        ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        var resources = new ResourceSet();
        resources.AddRange(configuration.InlineResources);
        foreach (var file in configuration.ResourceFiles)
        {
            resources.AddRange(ResourceYaml.Parse(await BoundedFile.ReadAllTextAsync(configuration.Resolve(file), InputLimits.ConfigurationFileBytes, "resource file", cancellationToken).ConfigureAwait(false)));
        }

        var hostKeys = new Dictionary<string, PublicKeyInfo>(StringComparer.Ordinal);
        foreach (var node in configuration.Nodes.Where(n => n.HostKeyPath is not null))
        {
            hostKeys[node.Name] = ReadPublicKey(await BoundedFile.ReadAllTextAsync(configuration.Resolve(node.HostKeyPath!), InputLimits.PemFileBytes, "node host key file", cancellationToken).ConfigureAwait(false));
        }

        var cluster = await TeleportEmulator.StartAsync(configuration.ToOptions(loggerFactory), cancellationToken).ConfigureAwait(false);
        try
        {
            resources.ApplyTo(cluster);
            var tokens = new List<EmulatorJoinToken>(resources.Tokens);
            foreach (var token in configuration.Tokens)
            {
                if (token.Name is { } name)
                {
                    var created = new EmulatorJoinToken { Name = name, BotName = token.Bot, Expires = cluster.TimeProvider.GetUtcNow() + (token.Ttl ?? TimeSpan.FromHours(1)) };
                    cluster.AddJoinToken(created);
                    tokens.Add(created);
                }
                else
                {
                    tokens.Add(cluster.CreateJoinToken(token.Bot, token.Ttl));
                }
            }

            foreach (var node in configuration.Nodes)
            {
                cluster.AddNode(new EmulatorNode { Name = node.Name, Address = node.Address, Labels = new Dictionary<string, string>(node.Labels) });
            }

            await WriteOutputAsync(cluster, configuration, hostKeys, tokens, outputDirectory, cancellationToken).ConfigureAwait(false);
            var logger = loggerFactory?.CreateLogger("Teleport.MachineId.Testing.EmulatorHost") ?? NullLogger.Instance;
            var proxyAddress = cluster.ProxyAddress;
            var authAddress = cluster.AuthAddress;
            var fullOutputPath = Path.GetFullPath(outputDirectory);
            Log.Ready(logger, cluster.ClusterName, proxyAddress, authAddress, fullOutputPath);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static PublicKeyInfo ReadPublicKey(string text)
    {
        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            using var key = PrivateKey.ImportPem(text);
            return key.PublicKey;
        }

        return PublicKeyInfo.ParseAuthorizedKey(text);
    }

    private static async Task WriteOutputAsync(TeleportEmulator cluster, EmulatorConfiguration configuration, Dictionary<string, PublicKeyInfo> hostKeys,
        List<EmulatorJoinToken> tokens, string outputDirectory, CancellationToken cancellationToken)
    {
        CreatePrivateDirectory(outputDirectory);
        await WriteAsync(outputDirectory, "proxy-address", cluster.ProxyAddress + "\n", secret: false, cancellationToken).ConfigureAwait(false);
        await WriteAsync(outputDirectory, "web-ca.pem", cluster.WebCaCertificatePem, secret: false, cancellationToken).ConfigureAwait(false);
        await WriteAsync(outputDirectory, "host-ca.pem", cluster.GetCertificateAuthorityPem(CertificateAuthorityType.Host), secret: false, cancellationToken).ConfigureAwait(false);
        await WriteAsync(outputDirectory, "user-ca.pub", cluster.ExportUserCaOpenSsh(), secret: false, cancellationToken).ConfigureAwait(false);
        var knownHosts = KnownHostsRenderer.RenderKnownHosts(cluster.ProxyHost,
            [new ClusterHostCaKeys(cluster.ClusterName, cluster.GetCertificateAuthoritySshKeys(CertificateAuthorityType.Host).Select(k => k.ToAuthorizedKey()))]);
        await WriteAsync(outputDirectory, "known_hosts", knownHosts, secret: false, cancellationToken).ConfigureAwait(false);

        var nodeFiles = new List<(string Name, string Address, string? Certificate)>();
        foreach (var node in configuration.Nodes)
        {
            string? file = null;
            if (hostKeys.TryGetValue(node.Name, out var hostKey))
            {
                var principals = node.Principals.Count > 0 ? node.Principals.ToArray() : [node.Name, node.Name + "." + cluster.ClusterName];
                var certificate = cluster.SignHostCertificate(hostKey, principals);
                file = node.Name + "-cert.pub";
                await WriteAsync(outputDirectory, file, certificate.ToAuthorizedKey() + "\n", secret: false, cancellationToken).ConfigureAwait(false);
            }

            nodeFiles.Add((node.Name, node.Address, file));
        }

        var tokenFiles = new List<(string Bot, string File, DateTimeOffset? Expires)>();
        if (tokens.Count > 0)
        {
            CreatePrivateDirectory(Path.Combine(outputDirectory, "tokens"));
        }

        foreach (var group in tokens.GroupBy(t => t.BotName, StringComparer.Ordinal))
        {
            var index = 0;
            foreach (var token in group)
            {
                var file = Path.Combine("tokens", index++ == 0 ? group.Key : $"{group.Key}-{index}");
                await WriteAsync(outputDirectory, file, token.Name + "\n", secret: true, cancellationToken).ConfigureAwait(false);
                tokenFiles.Add((group.Key, file, token.Expires));
            }
        }

        var summary = new MemoryStream();
        using (var json = new Utf8JsonWriter(summary, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("cluster_name", cluster.ClusterName);
            json.WriteString("server_version", cluster.ServerVersion);
            json.WriteString("signature_algorithm_suite", cluster.SignatureAlgorithmSuite.Name);
            json.WriteBoolean("tls_routing_enabled", cluster.TlsRoutingEnabled);
            json.WriteString("proxy_address", cluster.ProxyAddress);
            json.WriteString("ssh_proxy_address", cluster.SshProxyAddress);
            json.WriteString("auth_address", cluster.AuthAddress);
            json.WriteString("web_ca", "web-ca.pem");
            json.WriteString("host_ca", "host-ca.pem");
            json.WriteString("user_ca_openssh", "user-ca.pub");
            json.WriteString("known_hosts", "known_hosts");
            json.WriteStartArray("ca_pins");
            foreach (var pin in cluster.GetCaPins())
            {
                json.WriteStringValue(pin);
            }

            json.WriteEndArray();
            json.WriteStartArray("tokens");
            foreach (var (bot, file, expires) in tokenFiles)
            {
                json.WriteStartObject();
                json.WriteString("bot", bot);
                json.WriteString("file", file);
                if (expires is { } e)
                {
                    json.WriteString("expires", e.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("nodes");
            foreach (var (name, address, certificate) in nodeFiles)
            {
                json.WriteStartObject();
                json.WriteString("name", name);
                json.WriteString("address", address);
                if (certificate is not null)
                {
                    json.WriteString("host_certificate", certificate);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        await WriteAsync(outputDirectory, "cluster.json", Encoding.UTF8.GetString(summary.ToArray()) + "\n", secret: false, cancellationToken).ConfigureAwait(false);
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Writes a file via a temporary name and rename; secrets are created 0600 before any byte is written.</summary>
    private static async Task WriteAsync(string directory, string name, string content, bool secret, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, name);
        var temporary = path + ".tmp-" + Guid.NewGuid().ToString("N");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = secret
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }

        var stream = new FileStream(temporary, options);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(content), cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9400, EventName = "EmulatorReady", Level = LogLevel.Information,
            Message = "Teleport emulator for {Cluster} is ready: proxy {ProxyAddress}, auth {AuthAddress}; client files in {OutputDirectory}")]
        public static partial void Ready(ILogger logger, string cluster, string proxyAddress, string authAddress, string outputDirectory);
    }
}
