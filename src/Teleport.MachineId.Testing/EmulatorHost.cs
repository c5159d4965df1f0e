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
/// output directory (the library behind <c>tbot-dotnet-emulator run -c emulator.yaml</c>):
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
/// <item><term><c>id-tokens/&lt;token&gt;</c></term><description>per delegated or bound keypair token resource, what its bot needs (0600):
/// <c>.env</c> with <c>ACTIONS_ID_TOKEN_REQUEST_URL</c>/<c>_TOKEN</c> for <c>github</c> (a runner endpoint minting fresh tokens),
/// an ID token for <c>gitlab</c> (1 h), a service account token for <c>kubernetes</c>, the registration secret for <c>bound_keypair</c></description></item>
/// <item><term><c>kubernetes-jwks.json</c></term><description>the Kubernetes stand-in's signing keys (<c>static_jwks.jwks</c>)</description></item>
/// </list>
/// In resources, <c>{{emulator.oidc_issuer}}</c> (for <c>enterprise_server_host</c> or <c>domain</c>) and
/// <c>{{emulator.kubernetes_jwks}}</c> (for <c>static_jwks.jwks</c>) are replaced by the running
/// emulator's test issuer host and Kubernetes JWKS.
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
            resources.ResolvePlaceholders(cluster);
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

            var delegated = tokens.Where(t => t.JoinMethod != EmulatorJoinMethods.Token).ToList();
            tokens.RemoveAll(t => t.JoinMethod != EmulatorJoinMethods.Token);
            await WriteOutputAsync(cluster, configuration, hostKeys, tokens, outputDirectory, cancellationToken).ConfigureAwait(false);
            await WriteJoinHelpersAsync(cluster, delegated, outputDirectory, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// For each delegated or bound keypair token, writes what a bot needs to join with it (the
    /// identity a test would otherwise arrange on a CI runner or in a pod), and <c>join-helpers.json</c>
    /// describing them with the test issuer's addresses.
    /// </summary>
    private static async Task WriteJoinHelpersAsync(TeleportEmulator cluster, List<EmulatorJoinToken> tokens, string outputDirectory, CancellationToken cancellationToken)
    {
        await WriteAsync(outputDirectory, "kubernetes-jwks.json", cluster.Kubernetes.Jwks + "\n", secret: false, cancellationToken).ConfigureAwait(false);
        var entries = new List<(EmulatorJoinToken Token, string File)>();
        if (tokens.Count > 0)
        {
            CreatePrivateDirectory(Path.Combine(outputDirectory, "id-tokens"));
        }

        foreach (var token in tokens)
        {
            var (file, content) = token.JoinMethod switch
            {
                EmulatorJoinMethods.GitHub => GitHubHelper(cluster, token),
                EmulatorJoinMethods.GitLab => (Path.Combine("id-tokens", token.Name), cluster.OidcIssuer.MintGitLabIdToken(
                    GitLabClaimsFor(token.GitLab!.Allow.Count > 0 ? token.GitLab.Allow[0] : null), new EmulatorIdTokenOptions { Lifetime = TimeSpan.FromHours(1) }) + "\n"),
                EmulatorJoinMethods.Kubernetes => (Path.Combine("id-tokens", token.Name), cluster.Kubernetes.MintServiceAccountToken(
                    token.Kubernetes!.AllowServiceAccounts[0],
                    new EmulatorServiceAccountTokenOptions { Lifetime = token.Kubernetes.Type == EmulatorKubernetesJoinSpec.StaticJwksType ? TimeSpan.FromMinutes(30) : TimeSpan.FromHours(1) }) + "\n"),
                _ => (Path.Combine("id-tokens", token.Name), (cluster.GetBoundKeypairStatus(token.Name)?.RegistrationSecret ?? string.Empty) + "\n"),
            };
            await WriteAsync(outputDirectory, file, content, secret: true, cancellationToken).ConfigureAwait(false);
            entries.Add((token, file));
        }

        var summary = new MemoryStream();
        using (var json = new Utf8JsonWriter(summary, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("oidc_issuer");
            json.WriteString("host", cluster.OidcIssuer.Host);
            json.WriteString("github_issuer", cluster.OidcIssuer.GitHubIssuerUrl);
            json.WriteString("gitlab_issuer", cluster.OidcIssuer.GitLabIssuerUrl);
            json.WriteEndObject();
            json.WriteString("kubernetes_jwks", "kubernetes-jwks.json");
            json.WriteStartArray("tokens");
            foreach (var (token, file) in entries)
            {
                json.WriteStartObject();
                json.WriteString("name", token.Name);
                json.WriteString("bot", token.BotName);
                json.WriteString("join_method", token.JoinMethod);
                json.WriteString("file", file);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        await WriteAsync(outputDirectory, "join-helpers.json", Encoding.UTF8.GetString(summary.ToArray()) + "\n", secret: false, cancellationToken).ConfigureAwait(false);
    }

    private static (string File, string Content) GitHubHelper(TeleportEmulator cluster, EmulatorJoinToken token)
    {
        var rule = token.GitHub!.Allow.Count > 0 ? token.GitHub.Allow[0] : null;
        var repository = rule?.Repository ?? (rule?.RepositoryOwner is { } owner ? owner + "/example-repo" : "example-org/example-repo");
        var job = cluster.OidcIssuer.CreateGitHubActionsJob(new EmulatorGitHubClaims
        {
            Repository = repository,
            RepositoryOwner = rule?.RepositoryOwner,
            Workflow = rule?.Workflow ?? "deploy",
            Environment = rule?.Environment,
            Actor = rule?.Actor ?? "octocat",
            Ref = rule?.Ref ?? "refs/heads/main",
            RefType = rule?.RefType ?? "branch",
            Sub = rule?.Sub,
        });
        return (Path.Combine("id-tokens", token.Name + ".env"),
            $"ACTIONS_ID_TOKEN_REQUEST_URL={job.RequestUrl}\nACTIONS_ID_TOKEN_REQUEST_TOKEN={job.RequestToken}\n");
    }

    private static EmulatorGitLabClaims GitLabClaimsFor(EmulatorGitLabRule? rule)
    {
        static string? Literal(string? pattern) => pattern is null || pattern.Contains('*') || pattern.Contains('?') ? null : pattern;
        var project = Literal(rule?.ProjectPath);
        var projectNamespace = project is not null && project.LastIndexOf('/') > 0 ? project[..project.LastIndexOf('/')] : null;
        return new EmulatorGitLabClaims
        {
            NamespacePath = Literal(rule?.NamespacePath) ?? projectNamespace ?? "example-group",
            ProjectPath = project,
            PipelineSource = rule?.PipelineSource ?? "push",
            Ref = Literal(rule?.Ref) ?? "main",
            RefType = rule?.RefType ?? "branch",
            RefProtected = rule?.RefProtected ?? true,
            Environment = rule?.Environment,
            EnvironmentProtected = rule?.EnvironmentProtected ?? false,
            UserLogin = rule?.UserLogin ?? "gitlab-user",
            UserId = rule?.UserId ?? "42",
            UserEmail = rule?.UserEmail ?? "gitlab-user@example.com",
            Sub = Literal(rule?.Sub),
        };
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
