using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Outputs.SshMultiplexer;

/// <summary>
/// tbot's <c>ssh-multiplexer</c> service: a long-running local SSH proxy. It keeps an impersonated
/// identity for the bot's roles <b>in memory</b> (renewed with the bot and on schedule; the private key
/// never touches disk), serves it to OpenSSH through an SSH agent on <c>agent.sock</c>, and multiplexes
/// connections to nodes over pooled <c>ProxySSH</c> streams: a client connects to <c>v1.sock</c>, sends
/// <c>host:port[|cluster]</c> and a NUL, and from then on the socket is a raw pipe to the node's SSH
/// server. The directory also gets tbot's <c>ssh_config</c> (with <c>ProxyUseFDPass</c>) and <c>known_hosts</c>.
/// </summary>
/// <remarks>
/// <para>Usage: <c>ssh -F &lt;dir&gt;/ssh_config root@node.&lt;cluster&gt;</c>; from .NET,
/// <see cref="SshMultiplexerClient.ConnectAsync"/>. Compatible with tbot's helpers
/// (<c>fdpass-teleport</c>, <c>tbot ssh-multiplexer-proxy-command</c>) and documented client snippets.</para>
/// <para>Renewals and CA rotations never drop open connections: a connection keeps the proxy
/// connection it was opened on, new ones use the new credentials. A fresh upstream proxy client is used
/// every <see cref="SshMultiplexerOptions.ConnectionsPerUpstreamClient"/> connections. Disposing stops
/// the service, closes open connections and removes the sockets. Linux only (descriptor passing).
/// Thread-safe.</para>
/// </remarks>
public sealed class SshMultiplexerService : IAsyncDisposable, IMultiplexerUpstream, IOutputService
{
    private const int ListenBacklog = 512;
    private const string ProxyCommandVerb = "ssh-multiplexer-proxy-command";

    private readonly TeleportSshCertificateSigner _signer;
    private readonly IOutputBackend _backend;
    private readonly SshMultiplexerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OutputServiceRunner<SignedCertificates> _runner;
    private readonly CyclingNodeDialer _dialer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly IReadOnlyList<string> _proxyCommand;
    private Material? _material;
    private Socket? _muxListener;
    private Socket? _agentListener;
    private Task? _muxAccept;
    private Task? _agentAccept;
    private byte[]? _lastSshConfig;
    private byte[]? _lastKnownHosts;
    private int _active;

    private SshMultiplexerService(TeleportSshCertificateSigner signer, SshMultiplexerOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        _signer = signer;
        _backend = signer;
        _options = options;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger("Teleport.MachineId.Outputs.SshMultiplexer.SshMultiplexerService");
        Destination = options.Destination ?? new DirectoryDestination(
            new DirectoryDestinationOptions { Path = options.DestinationPath! }, loggerFactory.CreateLogger<DirectoryDestination>(), timeProvider);
        Name = "ssh-multiplexer " + (options.Name ?? Destination.Path);
        SocketPath = Path.Join(Destination.Path, MultiplexerSshConfigParameters.SocketFileName);
        AgentSocketPath = Path.Join(Destination.Path, MultiplexerSshConfigParameters.AgentSocketFileName);
        if (options.ProxyCommand.Count > 0)
        {
            _proxyCommand = [.. options.ProxyCommand];
        }
        else
        {
            var (executable, prefix) = ProxyCommandLocator.Resolve(null, []);
            _proxyCommand = [executable, .. prefix, ProxyCommandVerb];
        }

        _dialer = new CyclingNodeDialer(() => signer.CreateWireClient(() => Volatile.Read(ref _material)?.Wire), options.ConnectionsPerUpstreamClient);
        _runner = new OutputServiceRunner<SignedCertificates>(
            Name,
            RenewCoreAsync,
            certificates => new RenewalTimes(certificates.NotBefore, certificates.NotAfter, _time.GetUtcNow()),
            options.RenewalInterval,
            _backend.Bot,
            _logger,
            timeProvider);
    }

    /// <summary>The service's name for logs: <c>ssh-multiplexer &lt;name or directory&gt;</c>.</summary>
    public string Name { get; }

    /// <summary>The directory the service writes to and serves its sockets from.</summary>
    public DirectoryDestination Destination { get; }

    /// <summary>The directory the service serves from.</summary>
    public string DirectoryPath => Destination.Path;

    /// <summary>The multiplexer socket, <c>&lt;dir&gt;/v1.sock</c>.</summary>
    public string SocketPath { get; }

    /// <summary>The SSH agent socket, <c>&lt;dir&gt;/agent.sock</c>.</summary>
    public string AgentSocketPath { get; }

    /// <summary>The certificates currently held in memory (no private key), or <see langword="null"/> before the first.</summary>
    public SignedCertificates? Current => Volatile.Read(ref _material)?.Certificates;

    /// <summary>The last renewal failure since the last success, or <see langword="null"/>.</summary>
    public Exception? LastError => _runner.LastError;

    /// <summary>How many connections through <c>v1.sock</c> are open now.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    /// <summary>How many upstream proxy clients were created so far (one per <see cref="SshMultiplexerOptions.ConnectionsPerUpstreamClient"/> connections).</summary>
    public int UpstreamClientsCreated => _dialer.ClientsCreated;

    string IMultiplexerUpstream.ClusterName => Volatile.Read(ref _material)?.ClusterName ?? string.Empty;

    string IMultiplexerUpstream.ProxyHost => Volatile.Read(ref _material)?.ProxyHost ?? string.Empty;

    ILogger IMultiplexerUpstream.Logger => _logger;

    /// <summary>Creates a multiplexer for the bot behind <paramref name="signer"/>.</summary>
    /// <param name="signer">The signer (owned by the caller; outputs may share it).</param>
    /// <param name="options">The options; copied.</param>
    /// <param name="loggerFactory">Where to log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock; the system clock when <see langword="null"/>.</param>
    /// <returns>The service; call <see cref="StartAsync"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static SshMultiplexerService Create(TeleportSshCertificateSigner signer, SshMultiplexerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        copy.Validate();
        return new SshMultiplexerService(signer, copy, loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);
    }

    /// <summary>
    /// Starts the service in the background: issues the credentials, listens on the sockets, writes
    /// <c>ssh_config</c> and <c>known_hosts</c>, then keeps the credentials renewed. Returns immediately;
    /// use <see cref="WaitUntilReadyAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Not used beyond an early check; stop with <see cref="DisposeAsync"/>.</param>
    /// <returns>A completed task.</returns>
    /// <exception cref="PlatformNotSupportedException">Not 64-bit Linux.</exception>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        UnixSocketRights.EnsureSupported();
        _runner.Start(this);
        return Task.CompletedTask;
    }

    /// <summary>Waits until the credentials are in memory and the sockets accept connections.</summary>
    /// <param name="cancellationToken">Stops waiting; use it for a timeout.</param>
    /// <returns>The first certificates.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<SignedCertificates> WaitUntilReadyAsync(CancellationToken cancellationToken = default) =>
        _runner.WaitUntilReadyAsync(cancellationToken);

    /// <summary>Renews the in-memory credentials now (open connections keep working).</summary>
    /// <param name="cancellationToken">Cancels the renewal; the current credentials stay.</param>
    /// <returns>The new certificates.</returns>
    /// <exception cref="TeleportException">The credentials could not be issued.</exception>
    /// <exception cref="DestinationException">The directory is not writable.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public Task<SignedCertificates> RenewNowAsync(CancellationToken cancellationToken = default)
    {
        UnixSocketRights.EnsureSupported();
        return _runner.RenewNowAsync(this, cancellationToken);
    }

    /// <summary>Stops renewing and listening, closes open connections and removes the sockets (ssh_config and known_hosts stay).</summary>
    /// <returns>A task that completes when everything stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!await _runner.StopAsync().ConfigureAwait(false))
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _muxListener?.Dispose();
        _agentListener?.Dispose();
        foreach (var task in new[] { _muxAccept, _agentAccept }.Concat(_connections.Keys))
        {
            if (task is not null)
            {
                try
                {
                    await task.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
                {
                }
            }
        }

        await _dialer.DisposeAsync().ConfigureAwait(false);
        if (_muxListener is not null)
        {
            Destination.TryRemoveUnixSocket(MultiplexerSshConfigParameters.SocketFileName);
            Destination.TryRemoveUnixSocket(MultiplexerSshConfigParameters.AgentSocketFileName);
        }

        _stopping.Dispose();
    }

    Task<DialedNode> IMultiplexerUpstream.DialAsync(string hostPort, string cluster, CancellationToken cancellationToken) =>
        _dialer.DialAsync(hostPort, cluster, cancellationToken);

    bool IOutputService.SupportsOneshot => false;

    Task IOutputService.WaitUntilReadyAsync(CancellationToken cancellationToken) => WaitUntilReadyAsync(cancellationToken);

    Task IOutputService.RenewOnceAsync(CancellationToken cancellationToken) => RenewNowAsync(cancellationToken);

    Task IOutputService.VerifyDestinationAsync(CancellationToken cancellationToken) => Destination.VerifyWritableAsync(cancellationToken);

    private async Task<SignedCertificates> RenewCoreAsync(string reason, CancellationToken cancellationToken)
    {
        OutputsLog.Renewing(_logger, Name, reason);
        await Destination.VerifyWritableAsync(cancellationToken).ConfigureAwait(false);
        var cluster = await _backend.GetClusterInfoAsync(cancellationToken).ConfigureAwait(false);
        var key = PrivateKey.Generate(cluster.Suite, KeyPurpose.BotImpersonatedIdentity);
        SignedCertificates certificates;
        IReadOnlyList<CertificateAuthorityMaterial> hostAuthorities;
        try
        {
            // tbot's multiplexer asks for no roles: every role the bot may impersonate.
            certificates = await _backend.Signer.SignAsync(
                new SshCertificateSigningRequest { PublicKey = key.PublicKey, Ttl = _options.CredentialTtl }, cancellationToken).ConfigureAwait(false);
            hostAuthorities = await _backend.GetCertificateAuthoritiesAsync(CertAuthorityTypes.Host, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            key.Dispose();
            throw;
        }

        // Older keys stay alive: an agent connection or a pooled TLS connection may still use them.
        var material = new Material(
            key,
            certificates,
            WireIdentity.Create(key, certificates.TlsCertificate, certificates.TlsCaCertificates),
            SshAgentKeyring.ForCertificate(key, certificates.SshCertificate),
            cluster.ClusterName,
            cluster.ProxyHost);
        Volatile.Write(ref _material, material);
        EnsureListening();
        await WriteFilesAsync(cluster, hostAuthorities, cancellationToken).ConfigureAwait(false);
        OutputsLog.MultiplexerRenewed(_logger, Name, certificates.TlsIdentity.Username, certificates.TlsIdentity.Roles,
            certificates.SshCertificate.Principals, certificates.NotAfter);
        return certificates;
    }

    private async Task WriteFilesAsync(OutputClusterInfo cluster, IReadOnlyList<CertificateAuthorityMaterial> hostAuthorities, CancellationToken cancellationToken)
    {
        var clusters = new List<string> { cluster.ClusterName };
        var keys = clusters.Select(c => new ClusterHostCaKeys(c,
            hostAuthorities.Where(a => string.Equals(a.ClusterName, c, StringComparison.Ordinal))
                .SelectMany(a => a.SshPublicKeys).Select(k => k.ToAuthorizedKey()))).ToList();
        var knownHosts = Encoding.UTF8.GetBytes(KnownHostsRenderer.RenderKnownHosts(cluster.ProxyHost, keys));
        var sshConfig = Encoding.UTF8.GetBytes(MultiplexerSshConfigRenderer.Render(
            new MultiplexerSshConfigParameters(Destination.Path, clusters, _proxyCommand) { GeneratorName = ProxyCommandLocator.ToolName }));

        // tbot rewrites the files only when they changed; unchanged files keep their generation.
        if (_lastKnownHosts is not null && knownHosts.AsSpan().SequenceEqual(_lastKnownHosts) && _lastSshConfig is not null && sshConfig.AsSpan().SequenceEqual(_lastSshConfig))
        {
            return;
        }

        await Destination.WriteAsync(DestinationArtifacts.Create(
        [
            KeyValuePair.Create(KnownHostsRenderer.FileName, knownHosts),
            KeyValuePair.Create(SshConfigRenderer.FileName, sshConfig),
        ]), cancellationToken).ConfigureAwait(false);
        _lastKnownHosts = knownHosts;
        _lastSshConfig = sshConfig;
    }

    private void EnsureListening()
    {
        if (_muxListener is not null)
        {
            return;
        }

        var mux = Destination.ListenUnixSocket(MultiplexerSshConfigParameters.SocketFileName, ListenBacklog);
        Socket agent;
        try
        {
            agent = Destination.ListenUnixSocket(MultiplexerSshConfigParameters.AgentSocketFileName, ListenBacklog);
        }
        catch
        {
            mux.Dispose();
            Destination.TryRemoveUnixSocket(MultiplexerSshConfigParameters.SocketFileName);
            throw;
        }

        _muxListener = mux;
        _agentListener = agent;
        var stopping = _stopping.Token;
        _muxAccept = Task.Run(() => AcceptAsync(mux, client => ServeMultiplexedAsync(client, stopping), stopping), CancellationToken.None);
        _agentAccept = Task.Run(() => AcceptAsync(agent, client => ServeAgentAsync(client, stopping), stopping), CancellationToken.None);
        OutputsLog.MultiplexerListening(_logger, Name, SocketPath, AgentSocketPath);
    }

    private async Task AcceptAsync(Socket listener, Func<Socket, Task> serve, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of descriptors and the like: wait a little and keep accepting, as tbot does.
                OutputsLog.MultiplexerConnectionFailed(_logger, Name, "accept failed: " + ex.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            var task = Task.Run(() => serve(client), CancellationToken.None);
            _connections.TryAdd(task, 0);
            _ = task.ContinueWith(t => _connections.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeMultiplexedAsync(Socket client, CancellationToken stopping)
    {
        Interlocked.Increment(ref _active);
        try
        {
            await MultiplexerConnection.ServeAsync(client, this, stopping).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    private async Task ServeAgentAsync(Socket client, CancellationToken stopping)
    {
        // Each agent connection keeps the keyring it started with (an authentication in progress
        // must be able to sign with the key it was offered), as tbot does.
        var keyring = Volatile.Read(ref _material)?.Keyring ?? SshAgentKeyring.Empty;
        try
        {
            await SshAgentConnection.ServeAsync(client, keyring, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            if (!stopping.IsCancellationRequested)
            {
                OutputsLog.MultiplexerAgentFailed(_logger, Name, ex.Message);
            }
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>One renewal's credentials, swapped in as a whole.</summary>
    private sealed record Material(
        PrivateKey Key,
        SignedCertificates Certificates,
        WireIdentity Wire,
        SshAgentKeyring Keyring,
        string ClusterName,
        string ProxyHost);
}
