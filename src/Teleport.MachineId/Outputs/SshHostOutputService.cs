using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// tbot's <c>ssh_host</c> output: keeps an OpenSSH server's host identity issued by the cluster —
/// <c>ssh_host</c> (the host private key), <c>ssh_host-cert.pub</c> (its certificate from the host CA,
/// valid for the configured principals) and <c>ssh_host-user-ca.pub</c> (the cluster's user CA keys, for
/// <c>TrustedUserCAKeys</c>) — so a deployment tool can stand up a node Teleport clients trust
/// without <c>tctl auth sign</c>.
/// </summary>
/// <remarks>
/// <para>sshd_config: <c>HostKey &lt;dir&gt;/ssh_host</c>, <c>HostCertificate &lt;dir&gt;/ssh_host-cert.pub</c>,
/// <c>TrustedUserCAKeys &lt;dir&gt;/ssh_host-user-ca.pub</c>; reload sshd after a renewal.</para>
/// <para>Each renewal, as tbot: an impersonated identity for <see cref="SshHostOutputOptions.Roles"/>, a
/// new host key for the cluster's suite, <c>TrustService.GenerateHostCert</c> with that identity (role
/// <c>Node</c>, the principals, the output's lifetime), then the user CA of the local cluster. The
/// roles need a rule allowing <c>create</c> on <c>host_cert</c>. The three files are replaced as one set.
/// Renewed at start, on schedule and when the bot identity changes. Thread-safe.</para>
/// </remarks>
public sealed class SshHostOutputService : IAsyncDisposable, IOutputService
{
    /// <summary>The host private key file (tbot's <c>ssh_host</c>).</summary>
    public const string HostKeyFileName = "ssh_host";

    /// <summary>The host certificate file.</summary>
    public const string HostCertificateFileName = "ssh_host-cert.pub";

    /// <summary>The user CA keys file (<c>TrustedUserCAKeys</c>).</summary>
    public const string UserCaFileName = "ssh_host-user-ca.pub";

    private readonly TeleportSshCertificateSigner _signer;
    private readonly IOutputBackend _backend;
    private readonly SshHostOutputOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OutputServiceRunner<SshHostOutputResult> _runner;

    private SshHostOutputService(TeleportSshCertificateSigner signer, SshHostOutputOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        _signer = signer;
        _backend = signer;
        _options = options;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger("Teleport.MachineId.Outputs.SshHostOutputService");
        Destination = options.Destination ?? new DirectoryDestination(
            new DirectoryDestinationOptions { Path = options.DestinationPath! }, loggerFactory.CreateLogger<DirectoryDestination>(), timeProvider);
        Name = "ssh_host output " + (options.Name ?? Destination.Description);
        _runner = new OutputServiceRunner<SshHostOutputResult>(
            Name,
            RenewCoreAsync,
            result => new RenewalTimes(result.HostCertificate.ValidAfter, result.HostCertificate.ValidBefore, result.WrittenAt),
            options.RenewalInterval,
            _backend.Bot,
            _logger,
            timeProvider);
    }

    /// <summary>The output's name for logs.</summary>
    public string Name { get; }

    /// <summary>Where the files are written.</summary>
    public IDestinationWriter Destination { get; }

    /// <summary>The last set written, or <see langword="null"/> before the first.</summary>
    public SshHostOutputResult? Current => _runner.Current;

    /// <summary>The last failure since the last success, or <see langword="null"/>.</summary>
    public Exception? LastError => _runner.LastError;

    /// <summary>Creates an output for the bot behind <paramref name="signer"/>.</summary>
    /// <param name="signer">The signer (owned by the caller; outputs may share it).</param>
    /// <param name="options">The options; copied.</param>
    /// <param name="loggerFactory">Where to log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock; the system clock when <see langword="null"/>.</param>
    /// <returns>The service; call <see cref="StartAsync"/> or <see cref="RenewNowAsync"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid (no principals, both or no destinations, …).</exception>
    public static SshHostOutputService Create(TeleportSshCertificateSigner signer, SshHostOutputOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        copy.Validate();
        return new SshHostOutputService(signer, copy, loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);
    }

    /// <summary>Renews now and writes the three files as one set.</summary>
    /// <param name="cancellationToken">Cancels the renewal; the previous files stay.</param>
    /// <returns>What was written.</returns>
    /// <exception cref="TeleportAccessDeniedException">The roles may not create host certificates (for these principals).</exception>
    /// <exception cref="TeleportException">The certificate could not be issued.</exception>
    /// <exception cref="DestinationException">The destination is not writable.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public Task<SshHostOutputResult> RenewNowAsync(CancellationToken cancellationToken = default) =>
        _runner.RenewNowAsync(this, cancellationToken);

    /// <summary>Starts renewing in the background (the first renewal at once). Returns immediately.</summary>
    /// <param name="cancellationToken">Not used beyond an early check; stop with <see cref="DisposeAsync"/>.</param>
    /// <returns>A completed task.</returns>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _runner.Start(this);
        return Task.CompletedTask;
    }

    /// <summary>Waits until the first set was written.</summary>
    /// <param name="cancellationToken">Stops waiting; use it for a timeout.</param>
    /// <returns>The first set.</returns>
    public Task<SshHostOutputResult> WaitUntilReadyAsync(CancellationToken cancellationToken = default) =>
        _runner.WaitUntilReadyAsync(cancellationToken);

    /// <summary>Stops renewing (the files stay).</summary>
    /// <returns>A task that completes when stopped.</returns>
    public ValueTask DisposeAsync() => _runner.DisposeAsync();

    /// <summary>
    /// The user CA keys of <paramref name="clusterName"/> as tbot writes <c>ssh_host-user-ca.pub</c>: one
    /// authorized_keys line per key, <c>&lt;type&gt; &lt;base64&gt; clustername=&lt;cluster&gt;&amp;type=user</c>
    /// (Teleport's <c>cert-authority</c> export without its prefix). Trusted clusters' CAs are left out.
    /// </summary>
    internal static string RenderUserCaKeys(IEnumerable<CertificateAuthorityMaterial> authorities, string clusterName)
    {
        var sb = new StringBuilder();
        foreach (var authority in authorities.Where(a => string.Equals(a.ClusterName, clusterName, StringComparison.Ordinal)))
        {
            foreach (var key in authority.SshPublicKeys)
            {
                // Go's url.Values.Encode: keys sorted, values query-escaped.
                sb.Append(key.ToAuthorizedKey()).Append(" clustername=").Append(QueryEscape(authority.ClusterName)).Append("&type=user\n");
            }
        }

        return sb.ToString();
    }

    private static string QueryEscape(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~')
            {
                sb.Append(c);
            }
            else if (c == ' ')
            {
                sb.Append('+');
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    bool IOutputService.SupportsOneshot => true;

    Task IOutputService.WaitUntilReadyAsync(CancellationToken cancellationToken) => WaitUntilReadyAsync(cancellationToken);

    Task IOutputService.RenewOnceAsync(CancellationToken cancellationToken) => RenewNowAsync(cancellationToken);

    Task IOutputService.VerifyDestinationAsync(CancellationToken cancellationToken) => Destination.VerifyWritableAsync(cancellationToken);

    private async Task<SshHostOutputResult> RenewCoreAsync(string reason, CancellationToken cancellationToken)
    {
        OutputsLog.Renewing(_logger, Name, reason);
        await Destination.VerifyWritableAsync(cancellationToken).ConfigureAwait(false);
        var cluster = await _backend.GetClusterInfoAsync(cancellationToken).ConfigureAwait(false);

        // The host certificate is asked for with the output's roles (an impersonated identity), so the
        // cluster checks those roles' host_cert rules, as tbot does.
        using var identityKey = PrivateKey.Generate(cluster.Suite, KeyPurpose.BotImpersonatedIdentity);
        var identity = await _backend.Signer.SignAsync(new SshCertificateSigningRequest
        {
            PublicKey = identityKey.PublicKey,
            Roles = [.. _options.Roles],
            Ttl = _options.CredentialTtl,
        }, cancellationToken).ConfigureAwait(false);
        var wireIdentity = WireIdentity.Create(identityKey, identity.TlsCertificate, identity.TlsCaCertificates);
        using var hostKey = PrivateKey.Generate(cluster.Suite, KeyPurpose.HostSsh);
        SshCertificate certificate;
        var impersonated = _signer.CreateWireClient(() => wireIdentity);
        await using (impersonated.ConfigureAwait(false))
        {
            certificate = await impersonated.GenerateHostCertAsync(new HostCertificateRequest
            {
                PublicKey = hostKey.PublicKey,
                Principals = [.. _options.Principals],
                ClusterName = identity.ClusterName,
                Ttl = _options.CredentialTtl,
            }, cancellationToken).ConfigureAwait(false);
        }

        var userCas = await _backend.GetCertificateAuthoritiesAsync(_options.CaType, cancellationToken).ConfigureAwait(false);
        var keyPem = hostKey.Algorithm == KeyAlgorithm.Ed25519 ? hostKey.ExportOpenSshPem() : hostKey.ExportPem();
        var artifacts = DestinationArtifacts.Create(
        [
            KeyValuePair.Create(HostKeyFileName, Encoding.UTF8.GetBytes(keyPem)),
            KeyValuePair.Create(HostCertificateFileName, Encoding.UTF8.GetBytes(certificate.ToAuthorizedKey() + "\n")),
            KeyValuePair.Create(UserCaFileName, Encoding.UTF8.GetBytes(RenderUserCaKeys(userCas, identity.ClusterName))),
        ]);
        await Destination.WriteAsync(artifacts, cancellationToken).ConfigureAwait(false);
        OutputsLog.SshHostOutputWritten(_logger, Name, certificate.Principals, Destination.Description, certificate.ValidBefore);
        return new SshHostOutputResult(certificate, _time.GetUtcNow(), Destination.Description);
    }
}

/// <summary>One host identity an <see cref="SshHostOutputService"/> wrote.</summary>
public sealed class SshHostOutputResult
{
    internal SshHostOutputResult(SshCertificate hostCertificate, DateTimeOffset writtenAt, string destination)
    {
        HostCertificate = hostCertificate;
        WrittenAt = writtenAt;
        Destination = destination;
    }

    /// <summary>The host certificate written to <c>ssh_host-cert.pub</c>.</summary>
    public SshCertificate HostCertificate { get; }

    /// <summary>When the files were written.</summary>
    public DateTimeOffset WrittenAt { get; }

    /// <summary>The destination's description.</summary>
    public string Destination { get; }

    /// <summary>Describes the result without secrets.</summary>
    /// <returns>Destination, principals and expiry.</returns>
    public override string ToString() =>
        $"{Destination}: host certificate for [{string.Join(", ", HostCertificate.Principals)}] valid until {HostCertificate.ValidBefore:u}";
}
