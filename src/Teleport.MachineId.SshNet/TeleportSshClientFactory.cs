using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Renci.SshNet;
using Renci.SshNet.Common;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.Outputs.Ssh;
using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.SshNet;

/// <summary>
/// Connects SSH.NET clients to Teleport nodes through the Teleport Proxy with an identity output's
/// credentials — what <c>tsh -i identity --proxy … ssh</c> does: the node is reached through
/// <c>TransportService.ProxySSH</c> (a <see cref="TeleportNodeDialer"/>: mTLS with the identity's TLS
/// certificate), the SSH handshake runs end to end with the node, which must present a host
/// certificate from the cluster's host CA for the requested name, and the client logs in with the
/// identity's SSH certificate.
/// </summary>
/// <remarks>
/// <para>The proxy address is where its SSH transport is served: the web address (<c>host:443</c>)
/// with TLS routing, else the SSH proxy port (<c>host:3023</c>). No <c>/webapi</c> discovery is made,
/// so no web certificate trust is needed: the proxy is verified against the identity's CAs.</para>
/// <para>SSH.NET can only dial TCP, so each connection is bridged by a <see cref="LoopbackForwarder"/>
/// that accepts exactly one connection and lives as long as the client. A factory holds the credentials it was
/// created with; after the identity output renews, create a new one (they are cheap). Thread-safe.</para>
/// </remarks>
public sealed class TeleportSshClientFactory : IDisposable
{
    private readonly TeleportNodeDialer _dialer;
    private readonly ILogger _logger;
    private readonly byte[] _openSshKey;
    private readonly byte[] _certificateLine;

    private TeleportSshClientFactory(TeleportNodeDialer dialer)
    {
        _dialer = dialer;
        _logger = (dialer.Options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Teleport.MachineId.SshNet.TeleportSshClientFactory");
        _openSshKey = Encoding.UTF8.GetBytes(dialer.PrivateKey.ExportOpenSshPem());
        _certificateLine = dialer.SshCertificate is { } ssh ? Encoding.UTF8.GetBytes(ssh.ToAuthorizedKey() + "\n") : [];
    }

    /// <summary>The dialer that opens the node streams.</summary>
    public TeleportNodeDialer Dialer => _dialer;

    /// <summary>The cluster nodes are looked up in.</summary>
    public string ClusterName => _dialer.ClusterName;

    /// <summary>The proxy address (<c>host:port</c>).</summary>
    public string ProxyAddress => _dialer.ProxyAddress;

    /// <summary>The Teleport user the identity belongs to (for example <c>bot-robot</c>).</summary>
    public string Username => _dialer.Username;

    /// <summary>The SSH logins the identity's certificate allows.</summary>
    public IReadOnlyList<string> Logins => _dialer.Logins;

    /// <summary>Creates a factory that connects through <paramref name="dialer"/>, which it then owns.</summary>
    /// <param name="dialer">The dialer.</param>
    /// <returns>The factory; disposing it disposes the dialer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="dialer"/> is <see langword="null"/>.</exception>
    public static TeleportSshClientFactory Create(TeleportNodeDialer dialer)
    {
        ArgumentNullException.ThrowIfNull(dialer);
        return new TeleportSshClientFactory(dialer);
    }

    /// <summary>Creates a factory from a parsed identity file (<c>tsh -i</c> format, tbot's <c>identity</c>).</summary>
    /// <param name="identity">The identity file.</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c> (port 443 when omitted).</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <returns>The factory; dispose it to close its proxy connection.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The proxy address is malformed.</exception>
    /// <exception cref="TeleportFormatException">The identity file lacks the TLS certificate or CAs, or a part is malformed.</exception>
    public static TeleportSshClientFactory Create(IdentityFile identity, string proxyAddress, TeleportNodeDialerOptions? options = null) =>
        Owning(TeleportNodeDialer.Create(identity, proxyAddress, options));

    /// <summary>Creates a factory from an identity file on disk.</summary>
    /// <param name="path">The identity file (tbot's <c>&lt;destination&gt;/identity</c>).</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c>.</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The factory.</returns>
    /// <exception cref="ArgumentException">An argument is empty or the proxy address is malformed.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="TeleportFormatException">The file is not a complete identity file.</exception>
    public static async Task<TeleportSshClientFactory> FromIdentityFileAsync(string path, string proxyAddress, TeleportNodeDialerOptions? options = null, CancellationToken cancellationToken = default) =>
        Owning(await TeleportNodeDialer.FromIdentityFileAsync(path, proxyAddress, options, cancellationToken).ConfigureAwait(false));

    /// <summary>Creates a factory from the current set of an identity output's destination (one consistent set).</summary>
    /// <param name="destination">The destination, e.g. the output's <see cref="MemoryDestination"/>.</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c>.</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The factory.</returns>
    /// <exception cref="ArgumentException">An argument is empty or the proxy address is malformed.</exception>
    /// <exception cref="InvalidOperationException">Nothing has been written to the destination yet.</exception>
    /// <exception cref="DestinationException">The destination cannot be read.</exception>
    /// <exception cref="TeleportFormatException">The set is not a complete identity output.</exception>
    public static async Task<TeleportSshClientFactory> FromDestinationAsync(IDestinationWriter destination, string proxyAddress, TeleportNodeDialerOptions? options = null, CancellationToken cancellationToken = default) =>
        Owning(await TeleportNodeDialer.FromDestinationAsync(destination, proxyAddress, options, cancellationToken).ConfigureAwait(false));

    /// <summary>Creates a factory from an identity output directory (one consistent set; also reads tbot's plain files).</summary>
    /// <param name="directory">The destination directory.</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c>.</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The factory.</returns>
    /// <exception cref="ArgumentException">An argument is empty or the proxy address is malformed.</exception>
    /// <exception cref="DestinationException">The directory cannot be read.</exception>
    /// <exception cref="TeleportFormatException">The directory holds no complete identity output.</exception>
    public static async Task<TeleportSshClientFactory> FromDirectoryAsync(string directory, string proxyAddress, TeleportNodeDialerOptions? options = null, CancellationToken cancellationToken = default) =>
        Owning(await TeleportNodeDialer.FromDirectoryAsync(directory, proxyAddress, options, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Connects to a node and logs in: opens ProxySSH to <paramref name="host"/>, runs the SSH
    /// handshake through it (host certificate checked: type host, signed by the cluster's host CA,
    /// valid now, naming the host), and authenticates with the identity's certificate.
    /// </summary>
    /// <param name="user">The login, e.g. <c>root</c>; it must be among <see cref="Logins"/>.</param>
    /// <param name="host">The node name (a trailing <c>.&lt;proxy host&gt;</c> and <c>.&lt;cluster&gt;</c> are removed, as ssh_config hosts have them).</param>
    /// <param name="port">The node's SSH port as ssh_config gives it (3022 for Teleport nodes).</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>A connected client; dispose it to close the connection.</returns>
    /// <exception cref="ArgumentException"><paramref name="user"/> or <paramref name="host"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">The identity has no SSH certificate.</exception>
    /// <exception cref="TeleportAccessDeniedException">The proxy refused the identity or the node (RBAC).</exception>
    /// <exception cref="TeleportException">The proxy could not be reached or could not reach the node.</exception>
    /// <exception cref="CertificateValidationException">The node's host certificate was refused.</exception>
    /// <exception cref="SshAuthenticationException">The node refused the login (not granted by the roles).</exception>
    /// <exception cref="SshException">The SSH connection failed otherwise.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<SshClient> ConnectAsync(string user, string host, int port = TeleportDefaults.NodeSshPort, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentException.ThrowIfNullOrEmpty(host);
        if (_dialer.SshCertificate is null)
        {
            throw new InvalidOperationException("The identity has no SSH certificate.");
        }

        var node = _dialer.GetNodeName(host);
        var forwarder = await _dialer.OpenLoopbackForwarderAsync(node, port, cancellationToken).ConfigureAwait(false);
        var verifier = new HostCertificateVerifier(node, ClusterName, _dialer.HostCertificateAuthorities, _dialer.Options.TimeProvider);
        using var keyStream = new MemoryStream(_openSshKey, writable: false);
        using var certificateStream = new MemoryStream(_certificateLine, writable: false);
        var keyFile = new PrivateKeyFile(keyStream, null, certificateStream);
        var connection = new ConnectionInfo("127.0.0.1", forwarder.Port, user, new PrivateKeyAuthenticationMethod(user, keyFile))
        {
            Timeout = _dialer.Options.ConnectTimeout,
        };
        return await ConnectCoreAsync(connection, verifier, forwarder, null, _logger, node, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects to a node through a running ssh-multiplexer (this library's or tbot's) and logs in with
    /// the keys its SSH agent holds — the .NET counterpart of <c>ssh -F &lt;dir&gt;/ssh_config</c>, so several
    /// processes share one multiplexer and its credentials: the node is reached over <c>v1.sock</c>, the
    /// host certificate is checked against the cluster's host CA from the directory's <c>known_hosts</c>,
    /// and the login signs through <c>agent.sock</c> (the private key stays in the multiplexer).
    /// </summary>
    /// <param name="multiplexerDirectory">The multiplexer's directory (<c>v1.sock</c>, <c>agent.sock</c>, <c>known_hosts</c>).</param>
    /// <param name="user">The login, e.g. <c>root</c>.</param>
    /// <param name="host">The node, as in ssh: <c>node</c> or <c>node.&lt;cluster&gt;</c> (the cluster suffix selects a leaf cluster).</param>
    /// <param name="port">The node's SSH port (3022 as ssh_config gives it).</param>
    /// <param name="timeProvider">The clock for the host certificate's validity; the system clock when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>A connected client; dispose it to close the connection.</returns>
    /// <exception cref="TeleportConnectionException">The multiplexer is not running or could not reach the node.</exception>
    /// <exception cref="TeleportFormatException">The directory has no usable known_hosts.</exception>
    /// <exception cref="CertificateValidationException">The node's host certificate was refused.</exception>
    /// <exception cref="SshAuthenticationException">The node refused the login.</exception>
    /// <exception cref="SshException">The SSH connection failed otherwise.</exception>
    public static async Task<SshClient> ConnectThroughMultiplexerAsync(
        string multiplexerDirectory, string user, string host, int port = 3022, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(multiplexerDirectory);
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentException.ThrowIfNullOrEmpty(host);
        var (cluster, hostCaKeys) = await ReadClusterAsync(Path.Combine(multiplexerDirectory, "known_hosts"), host, cancellationToken).ConfigureAwait(false);
        var node = host.EndsWith("." + cluster, StringComparison.OrdinalIgnoreCase) ? host[..^(cluster.Length + 1)] : host;
        var stream = await SshMultiplexerClient.ConnectAsync(
            Path.Combine(multiplexerDirectory, OpenSsh.MultiplexerSshConfigParameters.SocketFileName), new SshMultiplexerTarget(host, port, cluster), cancellationToken).ConfigureAwait(false);
        LoopbackForwarder forwarder;
        try
        {
            forwarder = LoopbackForwarder.Start(stream);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        SshAgentClient? agent = null;
        try
        {
            agent = SshAgentClient.Connect(Path.Combine(multiplexerDirectory, OpenSsh.MultiplexerSshConfigParameters.AgentSocketFileName));
            var connection = new ConnectionInfo("127.0.0.1", forwarder.Port, user, new PrivateKeyAuthenticationMethod(user, new SshAgentKeySource(agent)));
            var verifier = new HostCertificateVerifier(node, cluster, hostCaKeys, timeProvider ?? TimeProvider.System);
            return await ConnectCoreAsync(connection, verifier, forwarder, agent, NullLogger.Instance, node, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            agent?.Dispose();
            throw;
        }
    }

    /// <summary>Closes the proxy connection; clients already connected keep their streams until disposed.</summary>
    public void Dispose()
    {
        _dialer.Dispose();
        Array.Clear(_openSshKey);
    }

    private static TeleportSshClientFactory Owning(TeleportNodeDialer dialer)
    {
        try
        {
            return new TeleportSshClientFactory(dialer);
        }
        catch
        {
            dialer.Dispose();
            throw;
        }
    }

    /// <summary>The SSH handshake over a bridged node stream, with the node's host certificate checked; the client owns the bridge (and the agent).</summary>
    private static async Task<SshClient> ConnectCoreAsync(
        ConnectionInfo connection, HostCertificateVerifier verifier, LoopbackForwarder forwarder, IDisposable? agent, ILogger logger, string node, CancellationToken cancellationToken)
    {
        var client = new TeleportSshClient(connection, forwarder, agent);
        try
        {
            client.HostKeyReceived += verifier.OnHostKeyReceived;
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch (SshConnectionException ex) when (verifier.Failure is { } failure)
        {
            client.Dispose();
            SshNetLog.HostCertificateRejected(logger, node, failure.Message);
            throw new CertificateValidationException(failure.Failure, failure.Message, ex);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>The cluster a host name belongs to (by its <c>.&lt;cluster&gt;</c> suffix, else the first) and that cluster's host CA keys, from a known_hosts file.</summary>
    private static async Task<(string Cluster, IReadOnlyList<Crypto.PublicKeyInfo> HostCaKeys)> ReadClusterAsync(string knownHostsPath, string host, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(knownHostsPath, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TeleportFormatException($"Cannot read '{knownHostsPath}' (is the multiplexer running?): {ex.Message}", ex);
        }

        var byCluster = new List<(string Cluster, Crypto.PublicKeyInfo Key)>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.StartsWith(OpenSsh.KnownHostsCertAuthority.Marker, StringComparison.Ordinal))
            {
                continue;
            }

            var authority = OpenSsh.KnownHostsCertAuthority.Parse(line);
            foreach (var pattern in authority.HostPatterns.Where(p => p.StartsWith("*.", StringComparison.Ordinal)))
            {
                byCluster.Add((pattern[2..], Crypto.PublicKeyInfo.ParseAuthorizedKey(authority.PublicKey)));
            }
        }

        if (byCluster.Count == 0)
        {
            throw new TeleportFormatException($"'{knownHostsPath}' names no cluster host CA; is it a multiplexer's known_hosts?");
        }

        var cluster = byCluster.Select(e => e.Cluster).FirstOrDefault(c => host.EndsWith("." + c, StringComparison.OrdinalIgnoreCase)) ?? byCluster[0].Cluster;
        return (cluster, [.. byCluster.Where(e => e.Cluster == cluster).Select(e => e.Key)]);
    }

    /// <summary>An SSH.NET client that owns its loopback bridge (and the agent connection it signs with).</summary>
    private sealed class TeleportSshClient(ConnectionInfo connection, LoopbackForwarder forwarder, IDisposable? agent) : SshClient(connection)
    {
        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            if (disposing)
            {
                forwarder.Dispose();
                agent?.Dispose();
            }
        }
    }
}

/// <summary>
/// Checks a node's host key as tsh does: it must be an OpenSSH host certificate signed by one of the
/// cluster's host CA keys, valid now, naming the node (<c>node</c> or <c>node.&lt;cluster&gt;</c>; a
/// certificate without principals is valid for any host, as in OpenSSH).
/// </summary>
/// <remarks>
/// SSH.NET verifies the certificate's signature with the CA key embedded in it and the server's
/// signature with the certified key; this check adds what it leaves to the application: that
/// the CA is the cluster's host CA, the type, the principal and the validity (against the injected clock).
/// </remarks>
internal sealed class HostCertificateVerifier(string node, string cluster, IReadOnlyList<Crypto.PublicKeyInfo> hostCaKeys, TimeProvider time)
{
    /// <summary>Why the host key was refused, when it was.</summary>
    public CertificateValidationException? Failure { get; private set; }

    public void OnHostKeyReceived(object? sender, HostKeyEventArgs e)
    {
        var certificate = e.Certificate;
        e.CanTrust = certificate is null
            ? Refuse(new CertificateValidationException(CertificateValidationFailure.WrongType,
                $"{node} presented a plain host key, not a host certificate from the cluster's host CA."))
            : Check(
                certificate.Type == Renci.SshNet.Security.Certificate.CertificateType.Host ? SshCertificateType.Host : SshCertificateType.User,
                "SHA256:" + certificate.CertificateAuthorityKeyFingerPrint,
                certificate.ValidPrincipals,
                certificate.ValidAfterUnixSeconds,
                certificate.ValidBeforeUnixSeconds,
                certificate.KeyId);
    }

    /// <summary>Checks a certificate parsed by this library (its signature included).</summary>
    public bool Check(SshCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.VerifySignature())
        {
            return Refuse(new CertificateValidationException(CertificateValidationFailure.InvalidSignature,
                $"The host certificate of {node} has an invalid signature."));
        }

        return Check(certificate.Type, certificate.SignatureKey.Sha256Fingerprint, [.. certificate.Principals],
            ToSeconds(certificate.ValidAfter), certificate.ValidBefore == DateTimeOffset.MaxValue ? ulong.MaxValue : ToSeconds(certificate.ValidBefore), certificate.KeyId);
    }

    private bool Check(SshCertificateType type, string caFingerprint, ICollection<string> principals, ulong validAfter, ulong validBefore, string keyId)
    {
        if (type != SshCertificateType.Host)
        {
            return Refuse(new CertificateValidationException(CertificateValidationFailure.WrongType,
                $"{node} presented a {type} certificate ('{keyId}') as its host key."));
        }

        if (!hostCaKeys.Any(k => string.Equals(k.Sha256Fingerprint, caFingerprint, StringComparison.Ordinal)))
        {
            return Refuse(new CertificateValidationException(CertificateValidationFailure.UntrustedAuthority,
                $"The host certificate of {node} ('{keyId}') is signed by {caFingerprint}, which is not a host CA of cluster {cluster}."));
        }

        var now = ToSeconds(time.GetUtcNow());
        if (now < validAfter)
        {
            return Refuse(new CertificateValidationException(CertificateValidationFailure.NotYetValid,
                $"The host certificate of {node} ('{keyId}') is not valid yet; check the clocks."));
        }

        if (now >= validBefore)
        {
            return Refuse(new CertificateValidationException(CertificateValidationFailure.Expired,
                $"The host certificate of {node} ('{keyId}') has expired."));
        }

        var qualified = node + "." + cluster;
        if (principals.Count > 0 && !principals.Any(p => string.Equals(p, node, StringComparison.OrdinalIgnoreCase) || string.Equals(p, qualified, StringComparison.OrdinalIgnoreCase)))
        {
            return Refuse(new CertificateValidationException(CertificateValidationFailure.PrincipalNotAllowed,
                $"The host certificate of {node} ('{keyId}') is for [{string.Join(", ", principals)}], not for {node} or {qualified}."));
        }

        return true;
    }

    private bool Refuse(CertificateValidationException failure)
    {
        Failure = failure;
        return false;
    }

    private static ulong ToSeconds(DateTimeOffset value) => value.ToUnixTimeSeconds() is var s and > 0 ? (ulong)s : 0;
}
