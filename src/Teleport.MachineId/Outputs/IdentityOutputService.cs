using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Scheduling;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// tbot's identity output service: keeps a destination filled with a fresh, consistent set of SSH
/// and TLS credentials for the bot's roles — <c>identity</c>, <c>key</c>, <c>key.pub</c>,
/// <c>key-cert.pub</c>, <c>tlscert</c>, the CA files, <c>known_hosts</c> and <c>ssh_config</c> (plus
/// the per-cluster files) — usable by OpenSSH, Ansible, <c>tsh -i</c> and SSH.NET.
/// </summary>
/// <remarks>
/// <para>Each renewal checks the destination is writable, generates a new key for the cluster's
/// suite, has the signer issue certificates for it, reads the cluster's CAs, and replaces the
/// destination's files as one set (a reader never pairs a key with another renewal's
/// certificate). Renewals happen at start, every <see cref="IdentityOutputOptions.RenewalInterval"/>,
/// before two thirds of the granted lifetime, whenever the bot identity changes, and on
/// <see cref="RenewNowAsync"/>; failures keep the previous files and are retried with backoff.</para>
/// <para>Several services may share one bot and one signer. Without dependency injection:
/// <c>await using var output = IdentityOutputService.Create(signer, options); await output.StartAsync();</c>
/// or, for a one-shot tool, <c>await output.RenewNowAsync()</c>. Thread-safe.</para>
/// </remarks>
public sealed class IdentityOutputService : IAsyncDisposable, IOutputService
{
    private readonly IOutputBackend _backend;
    private readonly IdentityOutputOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly (string Executable, IReadOnlyList<string> Prefix) _proxyCommand;
    private readonly OutputServiceRunner<IdentityOutputResult> _runner;

    private IdentityOutputService(IOutputBackend backend, IdentityOutputOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, Func<double>? random)
    {
        _backend = backend;
        _options = options;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger("Teleport.MachineId.Outputs.IdentityOutputService");
        Destination = options.Destination ?? new DirectoryDestination(
            new DirectoryDestinationOptions { Path = options.DestinationPath! }, loggerFactory.CreateLogger<DirectoryDestination>(), timeProvider);
        Name = options.Name ?? Destination.Description;
        _proxyCommand = ProxyCommandLocator.Resolve(options.ProxyCommandPath, [.. options.ProxyCommandArguments]);
        _runner = new OutputServiceRunner<IdentityOutputResult>(
            "Identity output " + Name,
            RenewCoreAsync,
            result => new RenewalTimes(result.Certificates.NotBefore, result.Certificates.NotAfter, result.WrittenAt),
            options.RenewalInterval,
            backend.Bot,
            _logger,
            timeProvider,
            random);
    }

    /// <summary>The output's name (for logs): the configured name or the destination's description.</summary>
    public string Name { get; }

    /// <summary>Where the output writes.</summary>
    public IDestinationWriter Destination { get; }

    /// <summary>The last set written, or <see langword="null"/> before the first.</summary>
    public IdentityOutputResult? Current => _runner.Current;

    /// <summary>The last failure since the last success, or <see langword="null"/>.</summary>
    public Exception? LastError => _runner.LastError;

    /// <summary>Tracks the background loop for simulated-time tests.</summary>
    internal LoopActivityTracker Activity => _runner.Activity;

    /// <summary>
    /// Creates an output fed by the cluster through <paramref name="signer"/> (renewed with its bot).
    /// </summary>
    /// <param name="signer">The signer (owned by the caller; several outputs may share it).</param>
    /// <param name="options">The output's options; copied.</param>
    /// <param name="loggerFactory">Where to log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for schedules; the system clock when <see langword="null"/>.</param>
    /// <returns>The service; call <see cref="StartAsync"/> or <see cref="RenewNowAsync"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static IdentityOutputService Create(TeleportSshCertificateSigner signer, IdentityOutputOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        CreateCore(signer, options, loggerFactory, timeProvider);

    /// <summary>Creates an output fed by a local certificate authority (no cluster, no bot).</summary>
    /// <param name="signer">The signer (owned by the caller).</param>
    /// <param name="options">The output's options; copied.</param>
    /// <param name="loggerFactory">Where to log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for schedules; the system clock when <see langword="null"/>.</param>
    /// <returns>The service.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static IdentityOutputService Create(LocalSshCertificateSigner signer, IdentityOutputOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        CreateCore(signer, options, loggerFactory, timeProvider);

    /// <summary>
    /// Renews now: checks the destination is writable, issues new credentials and writes them as one
    /// set. Runs after any renewal in progress.
    /// </summary>
    /// <param name="cancellationToken">Cancels the renewal; the previous files stay in place.</param>
    /// <returns>What was written.</returns>
    /// <exception cref="DestinationException">The destination is not writable or the write failed.</exception>
    /// <exception cref="TeleportException">The credentials could not be issued (see the subtype).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The service was disposed.</exception>
    public Task<IdentityOutputResult> RenewNowAsync(CancellationToken cancellationToken = default) =>
        _runner.RenewNowAsync(this, cancellationToken);

    /// <summary>
    /// Starts renewing in the background: the first renewal runs at once, later ones on the
    /// schedule and when the bot identity changes. Returns immediately.
    /// </summary>
    /// <param name="cancellationToken">Not used beyond an early check; stop with <see cref="DisposeAsync"/>.</param>
    /// <returns>A completed task.</returns>
    /// <exception cref="InvalidOperationException">The service was already started.</exception>
    /// <exception cref="ObjectDisposedException">The service was disposed.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _runner.Start(this);
        return Task.CompletedTask;
    }

    /// <summary>Waits until the first set has been written (by the background loop or <see cref="RenewNowAsync"/>).</summary>
    /// <param name="cancellationToken">Stops waiting; use it for a timeout.</param>
    /// <returns>The first set written.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<IdentityOutputResult> WaitUntilReadyAsync(CancellationToken cancellationToken = default) =>
        _runner.WaitUntilReadyAsync(cancellationToken);

    /// <summary>Stops renewing (the files stay in place).</summary>
    /// <returns>A task that completes when the background loop ended.</returns>
    public ValueTask DisposeAsync() => _runner.DisposeAsync();

    /// <summary>Creates an output over any backend; <paramref name="random"/> drives the retry jitter (tests seed it).</summary>
    internal static IdentityOutputService CreateCore(
        IOutputBackend backend, IdentityOutputOptions options, ILoggerFactory? loggerFactory, TimeProvider? timeProvider, Func<double>? random = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        copy.Validate();
        return new IdentityOutputService(backend, copy, loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System, random);
    }

    bool IOutputService.SupportsOneshot => true;

    Task IOutputService.WaitUntilReadyAsync(CancellationToken cancellationToken) => WaitUntilReadyAsync(cancellationToken);

    Task IOutputService.RenewOnceAsync(CancellationToken cancellationToken) => RenewNowAsync(cancellationToken);

    Task IOutputService.VerifyDestinationAsync(CancellationToken cancellationToken) => Destination.VerifyWritableAsync(cancellationToken);

    private async Task<IdentityOutputResult> RenewCoreAsync(string reason, CancellationToken cancellationToken)
    {
        using var activity = MachineIdActivities.Source.StartActivity(MachineIdActivities.OutputRenew);
        OutputsLog.Renewing(_logger, Name, reason);
        await Destination.VerifyWritableAsync(cancellationToken).ConfigureAwait(false);
        var cluster = await _backend.GetClusterInfoAsync(cancellationToken).ConfigureAwait(false);
        using var key = PrivateKey.Generate(cluster.Suite, KeyPurpose.BotImpersonatedIdentity);
        var certificates = await _backend.Signer.SignAsync(new SshCertificateSigningRequest
        {
            PublicKey = key.PublicKey,
            Roles = [.. _options.Roles],
            Ttl = _options.CredentialTtl,
            Cluster = _options.Cluster,
            AllowReissue = _options.AllowReissue,
        }, cancellationToken).ConfigureAwait(false);
        var material = new OutputClusterMaterial(
            cluster,
            await _backend.GetCertificateAuthoritiesAsync(CertAuthorityTypes.Host, cancellationToken).ConfigureAwait(false),
            await _backend.GetCertificateAuthoritiesAsync(CertAuthorityTypes.User, cancellationToken).ConfigureAwait(false),
            await _backend.GetCertificateAuthoritiesAsync(CertAuthorityTypes.Database, cancellationToken).ConfigureAwait(false));
        var directory = (Destination as DirectoryDestination)?.Path;
        var artifacts = IdentityOutputWriter.Build(key, certificates, material, _options.WriteSshConfig, directory,
            (dir, info) => ProxyCommandLocator.Create(_proxyCommand.Executable, _proxyCommand.Prefix, dir, info));
        await Destination.WriteAsync(artifacts, cancellationToken).ConfigureAwait(false);

        var now = _time.GetUtcNow();
        var result = new IdentityOutputResult(certificates, now, [.. artifacts.Keys], Destination.Description);
        OutputsLog.Written(_logger, Name, artifacts.Count, Destination.Description, certificates.TlsIdentity.Username,
            certificates.TlsIdentity.Roles, certificates.SshCertificate.Principals, certificates.NotAfter);
        if (certificates.NotAfter < now + _options.CredentialTtl - TimeSpan.FromMinutes(1))
        {
            OutputsLog.TtlShortened(_logger, Name, _options.CredentialTtl, certificates.NotAfter);
        }

        return result;
    }
}

/// <summary>One set of credentials an identity output wrote.</summary>
public sealed class IdentityOutputResult
{
    internal IdentityOutputResult(SignedCertificates certificates, DateTimeOffset writtenAt, IReadOnlyList<string> artifactNames, string destination)
    {
        Certificates = certificates;
        WrittenAt = writtenAt;
        ArtifactNames = artifactNames;
        Destination = destination;
    }

    /// <summary>The certificates written (no private key).</summary>
    public SignedCertificates Certificates { get; }

    /// <summary>When the set was written.</summary>
    public DateTimeOffset WrittenAt { get; }

    /// <summary>The names of the files written.</summary>
    public IReadOnlyList<string> ArtifactNames { get; }

    /// <summary>The destination's description.</summary>
    public string Destination { get; }

    /// <summary>Describes the set without secrets.</summary>
    /// <returns>Destination, identity and expiry.</returns>
    public override string ToString() => $"{Destination}: {Certificates}";
}
