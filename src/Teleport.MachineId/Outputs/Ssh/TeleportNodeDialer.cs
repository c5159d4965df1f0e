using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>How a <see cref="TeleportNodeDialer"/> reaches the proxy.</summary>
public sealed class TeleportNodeDialerOptions
{
    /// <summary>The cluster nodes are in; the identity's cluster (its route-to-cluster) when <see langword="null"/>.</summary>
    public string? Cluster { get; set; }

    /// <summary>The clock for certificate validity checks. Default: the system clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where to log. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Time allowed to reach the proxy (TCP + TLS). Default 15 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Opens byte streams to Teleport nodes' SSH servers through the Teleport Proxy with an identity
/// output's credentials (<c>TransportService.ProxySSH</c>, mTLS with the identity's TLS certificate,
/// the proxy verified against the identity's CAs) — the transport under <c>tsh -i identity ssh</c>
/// and tbot's <c>ssh-proxy-command</c>. The SSH handshake is the caller's: any SSH library that can
/// run over a <see cref="Stream"/> (or a loopback bridge) logs in with <see cref="PrivateKey"/> and
/// <see cref="SshCertificate"/> and checks the node's host certificate against
/// <see cref="HostCertificateAuthorities"/>.
/// </summary>
/// <remarks>
/// <para>The proxy address is where its SSH transport is served: the web address (<c>host:443</c>)
/// with TLS routing, else the SSH proxy port (<c>host:3023</c>). No <c>/webapi</c> discovery is made,
/// so no web certificate trust is needed.</para>
/// <para>A dialer holds the credentials it was created with and one pooled HTTP/2 connection to the
/// proxy; after the identity output renews, create a new one. Thread-safe.</para>
/// </remarks>
public sealed class TeleportNodeDialer : IDisposable
{
    private readonly NodeCredentials _credentials;
    private readonly ProxyNodeDialer _dialer;
    private readonly ILogger _logger;

    private TeleportNodeDialer(NodeCredentials credentials, string proxyAddress, TeleportNodeDialerOptions? options)
    {
        Options = options ?? new TeleportNodeDialerOptions();
        var loggerFactory = Options.LoggerFactory ?? NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger("Teleport.MachineId.Outputs.Ssh.TeleportNodeDialer");
        _credentials = credentials;
        var proxy = HostPort.Parse(proxyAddress, TeleportDefaults.ProxyPort);
        ClusterName = Options.Cluster ?? credentials.ClusterName;
        var wireOptions = new WireClientOptions
        {
            ProxyServer = proxy,
            ConnectTimeout = Options.ConnectTimeout,
            TimeProvider = Options.TimeProvider,
            LoggerFactory = loggerFactory,
        };
        _dialer = new ProxyNodeDialer(proxy, () => credentials.Wire, wireOptions, _logger);
    }

    /// <summary>The options the dialer was created with.</summary>
    public TeleportNodeDialerOptions Options { get; }

    /// <summary>The cluster nodes are looked up in.</summary>
    public string ClusterName { get; }

    /// <summary>The proxy address (<c>host:port</c>).</summary>
    public string ProxyAddress => _dialer.Proxy.ToString();

    /// <summary>The Teleport user the identity belongs to (for example <c>bot-robot</c>).</summary>
    public string Username => _credentials.Tls.Username;

    /// <summary>The SSH logins the identity's certificate allows.</summary>
    public IReadOnlyList<string> Logins => _credentials.SshCertificate?.Principals ?? [];

    /// <summary>The identity's private key, for the SSH login; owned by the dialer (disposed with it).</summary>
    public PrivateKey PrivateKey => _credentials.Key;

    /// <summary>The identity's SSH user certificate, or <see langword="null"/> when the credentials have none.</summary>
    public SshCertificate? SshCertificate => _credentials.SshCertificate;

    /// <summary>The cluster's SSH host CA keys: a node must present a host certificate signed by one of them.</summary>
    public IReadOnlyList<PublicKeyInfo> HostCertificateAuthorities => _credentials.HostCaKeys;

    /// <summary>Creates a dialer from a parsed identity file (<c>tsh -i</c> format, tbot's <c>identity</c>).</summary>
    /// <param name="identity">The identity file.</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c> (port 443 when omitted).</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <returns>The dialer; dispose it to close its proxy connection.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The proxy address is malformed.</exception>
    /// <exception cref="TeleportFormatException">The identity file lacks the TLS certificate or CAs, or a part is malformed.</exception>
    public static TeleportNodeDialer Create(IdentityFile identity, string proxyAddress, TeleportNodeDialerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentException.ThrowIfNullOrEmpty(proxyAddress);
        return CreateChecked(NodeCredentials.FromIdentityFile(identity), proxyAddress, options);
    }

    /// <summary>Creates a dialer from an identity file on disk.</summary>
    /// <param name="path">The identity file (tbot's <c>&lt;destination&gt;/identity</c>).</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c>.</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The dialer.</returns>
    /// <exception cref="ArgumentException">An argument is empty or the proxy address is malformed.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="TeleportFormatException">The file is not a complete identity file.</exception>
    public static async Task<TeleportNodeDialer> FromIdentityFileAsync(string path, string proxyAddress, TeleportNodeDialerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(proxyAddress);
        var identity = await IdentityFileReader.ReadFileAsync(path, cancellationToken).ConfigureAwait(false);
        return Create(identity, proxyAddress, options);
    }

    /// <summary>Creates a dialer from the current set of an identity output's destination (one consistent set).</summary>
    /// <param name="destination">The destination, e.g. the output's <see cref="MemoryDestination"/>.</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c>.</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The dialer.</returns>
    /// <exception cref="ArgumentException">An argument is empty or the proxy address is malformed.</exception>
    /// <exception cref="InvalidOperationException">Nothing has been written to the destination yet.</exception>
    /// <exception cref="DestinationException">The destination cannot be read.</exception>
    /// <exception cref="TeleportFormatException">The set is not a complete identity output.</exception>
    public static async Task<TeleportNodeDialer> FromDestinationAsync(IDestinationWriter destination, string proxyAddress, TeleportNodeDialerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentException.ThrowIfNullOrEmpty(proxyAddress);
        var set = await destination.ReadAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Nothing has been written to {destination.Description} yet; wait for the identity output.");
        return CreateChecked(NodeCredentials.FromArtifacts(set, destination.Description), proxyAddress, options);
    }

    /// <summary>Creates a dialer from an identity output directory (one consistent set; also reads tbot's plain files).</summary>
    /// <param name="directory">The destination directory.</param>
    /// <param name="proxyAddress">The proxy's SSH transport address, <c>host:port</c>.</param>
    /// <param name="options">Options; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The dialer.</returns>
    /// <exception cref="ArgumentException">An argument is empty or the proxy address is malformed.</exception>
    /// <exception cref="DestinationException">The directory cannot be read.</exception>
    /// <exception cref="TeleportFormatException">The directory holds no complete identity output.</exception>
    public static async Task<TeleportNodeDialer> FromDirectoryAsync(string directory, string proxyAddress, TeleportNodeDialerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(proxyAddress);
        var credentials = await NodeCredentials.LoadDirectoryAsync(directory, cancellationToken).ConfigureAwait(false);
        return CreateChecked(credentials, proxyAddress, options);
    }

    /// <summary>
    /// The node name the proxy resolves for a host name as ssh_config gives it: a trailing
    /// <c>.&lt;proxy host&gt;</c>, then a trailing <c>.&lt;cluster&gt;</c>, are removed (tbot's rule).
    /// </summary>
    /// <param name="host">The host name, e.g. <c>my-host.example.teleport.sh</c>.</param>
    /// <returns>The node name, e.g. <c>my-host</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    public string GetNodeName(string host) => TargetHostNames.Clean(host, _dialer.Proxy.Host, ClusterName);

    /// <summary>
    /// Opens a raw byte stream to a node's SSH server through the proxy (what
    /// <c>ssh-proxy-command</c> pipes to ssh's stdin/stdout). The SSH handshake is up to the caller.
    /// </summary>
    /// <param name="host">The node name (cleaned with <see cref="GetNodeName"/>).</param>
    /// <param name="port">The node port (3022 for Teleport nodes).</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The stream; dispose it to close the connection.</returns>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="TeleportAccessDeniedException">The proxy refused the identity or the node (RBAC).</exception>
    /// <exception cref="TeleportException">The proxy refused or could not reach the node.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<Stream> OpenNodeStreamAsync(string host, int port = TeleportDefaults.NodeSshPort, CancellationToken cancellationToken = default)
    {
        var node = GetNodeName(host);
        var stream = await _dialer.OpenAsync(node + ":" + port.ToString(CultureInfo.InvariantCulture), ClusterName, cancellationToken).ConfigureAwait(false);
        OutputsLog.NodeConnected(_logger, node, port, ClusterName, _dialer.Proxy);
        return stream;
    }

    /// <summary>
    /// Opens a node stream (<see cref="OpenNodeStreamAsync"/>) and serves it on a loopback port for an
    /// SSH client that can only dial TCP: the forwarder accepts exactly one connection on
    /// <see cref="LoopbackForwarder.EndPoint"/>.
    /// </summary>
    /// <param name="host">The node name (cleaned with <see cref="GetNodeName"/>).</param>
    /// <param name="port">The node port (3022 for Teleport nodes).</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    /// <returns>The forwarder, which owns the node stream; dispose it to close the connection.</returns>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty.</exception>
    /// <exception cref="TeleportAccessDeniedException">The proxy refused the identity or the node (RBAC).</exception>
    /// <exception cref="TeleportException">The proxy refused or could not reach the node.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<LoopbackForwarder> OpenLoopbackForwarderAsync(string host, int port = TeleportDefaults.NodeSshPort, CancellationToken cancellationToken = default)
    {
        var stream = await OpenNodeStreamAsync(host, port, cancellationToken).ConfigureAwait(false);
        try
        {
            return LoopbackForwarder.Start(stream);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes the proxy connection and releases the key; streams already open stay open until disposed.</summary>
    public void Dispose()
    {
        _dialer.Dispose();
        _credentials.Dispose();
    }

    private static TeleportNodeDialer CreateChecked(NodeCredentials credentials, string proxyAddress, TeleportNodeDialerOptions? options)
    {
        try
        {
            return new TeleportNodeDialer(credentials, proxyAddress, options);
        }
        catch
        {
            credentials.Dispose();
            throw;
        }
    }
}
