using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// Issues impersonated identities from the cluster's Auth Service on the bot's identity, exactly as
/// tbot's identity output does (teleport-protocol.md §5.1): <c>GenerateUserCerts</c> with the
/// output's roles (or every role the bot role may impersonate, from <c>GetRole</c>), its lifetime,
/// the route to the bot's (or a leaf) cluster and <c>allow_reissue</c>; the TLS CA certificates are
/// the user CA from the reply plus the host CA from <c>GetClusterCACert</c>, the SSH CA keys those
/// of the bot identity.
/// </summary>
/// <remarks>
/// Each call reads the bot's current identity, so renewals of the bot are picked up without
/// rebuilding anything. The signer opens its own connections to the cluster (through the proxy or
/// Auth, as <see cref="MachineIdOptions"/> say); dispose it to close them. Thread-safe.
/// </remarks>
public sealed class TeleportSshCertificateSigner : ISshCertificateSigner, IOutputBackend, IAsyncDisposable
{
    private readonly IBotIdentityProvider _bot;
    private readonly TeleportWireClient _wire;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates a signer for a bot; nothing connects until the first request.</summary>
    /// <param name="bot">The bot identity provider (started separately).</param>
    /// <param name="options">Where the cluster is and how it is trusted (the bot's options).</param>
    /// <param name="loggerFactory">Where to log; none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock; the system clock when <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options name no valid cluster address, or the proxy CA bundle cannot be read.</exception>
    public TeleportSshCertificateSigner(IBotIdentityProvider bot, MachineIdOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(bot, MachineIdWireOptions.Create(options ?? throw new ArgumentNullException(nameof(options)),
            loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System))
    {
    }

    internal TeleportSshCertificateSigner(IBotIdentityProvider bot, WireClientOptions wireOptions)
    {
        ArgumentNullException.ThrowIfNull(bot);
        ArgumentNullException.ThrowIfNull(wireOptions);
        _bot = bot;
        _time = wireOptions.TimeProvider;
        _logger = wireOptions.LoggerFactory.CreateLogger("Teleport.MachineId.Outputs.TeleportSshCertificateSigner");
        _wire = TeleportWireClient.Create(wireOptions, MachineIdWireOptions.BotWireIdentity(() => bot.Current));
    }

    ISshCertificateSigner IOutputBackend.Signer => this;

    IBotIdentityProvider? IOutputBackend.Bot => _bot;

    /// <summary>The wire client (for the SSH client factory and tests).</summary>
    internal TeleportWireClient Wire => _wire;

    /// <summary>
    /// A new wire client to the same cluster presenting <paramref name="identity"/> (an impersonated
    /// identity this signer issued), for calls made with the output's own roles. Owned by the caller.
    /// </summary>
    internal TeleportWireClient CreateWireClient(Func<WireIdentity?> identity) => TeleportWireClient.Create(_wire.Options, identity);

    /// <inheritdoc />
    /// <remarks>Waits until the bot has a valid identity.</remarks>
    public async Task<SignedCertificates> SignAsync(SshCertificateSigningRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.PublicKey, nameof(request));
        if (request.Ttl <= TimeSpan.Zero)
        {
            throw new ArgumentException("The requested lifetime must be positive.", nameof(request));
        }

        var identity = await _bot.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> roles = request.Roles;
        if (roles.Count == 0)
        {
            // tbot: an output without roles gets every role the bot role may impersonate.
            var botRole = await _wire.GetRoleAsync(identity.Username, cancellationToken).ConfigureAwait(false);
            roles = botRole.ImpersonateRoles;
            OutputsLog.RolesResolved(_logger, identity.Username, roles);
        }

        var route = string.IsNullOrEmpty(request.Cluster) ? identity.ClusterName : request.Cluster;
        var expires = _time.GetUtcNow() + request.Ttl;
        var certificates = await _wire.GenerateUserCertsAsync(
            UserCertificateRequest.ForImpersonation(identity.Username, request.PublicKey, expires, roles, route, request.AllowReissue),
            cancellationToken).ConfigureAwait(false);
        if (certificates.SshCertificate is null || certificates.TlsCertificate is null)
        {
            throw new TeleportProtocolException("GenerateUserCerts returned no SSH or no TLS certificate for an identity output.");
        }

        // tbot appends the host CA (the reply to an impersonation carries only the user CA) and
        // uses the bot identity's SSH CA keys.
        var hostCas = await _wire.GetClusterCaCertificatesAsync(cancellationToken).ConfigureAwait(false);
        var tlsCas = new List<X509Certificate2>();
        foreach (var ca in certificates.TlsCaCertificates.Concat(hostCas))
        {
            if (!tlsCas.Any(c => c.RawDataMemory.Span.SequenceEqual(ca.RawDataMemory.Span)))
            {
                tlsCas.Add(ca);
            }
        }

        try
        {
            return new SignedCertificates(certificates.SshCertificate, certificates.TlsCertificate, tlsCas, identity.SshCaKeys);
        }
        catch (ArgumentException ex)
        {
            throw new TeleportProtocolException($"GenerateUserCerts returned certificates that do not fit the request: {ex.Message}", ex);
        }
    }

    /// <summary>Closes the signer's connections.</summary>
    /// <returns>A task that completes when closed.</returns>
    public ValueTask DisposeAsync() => _wire.DisposeAsync();

    async Task<OutputClusterInfo> IOutputClusterSource.GetClusterInfoAsync(CancellationToken cancellationToken)
    {
        await _bot.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
        var discovery = await _wire.DiscoverAsync(cancellationToken).ConfigureAwait(false);
        SignatureAlgorithmSuite suite;
        try
        {
            suite = (await _wire.GetAuthPreferenceAsync(cancellationToken).ConfigureAwait(false)).SignatureAlgorithmSuite;
        }
        catch (TeleportException ex) when (ex is not TeleportAccessDeniedException)
        {
            // Older clusters: the suite /webapi/find reported.
            OutputsLog.SuiteFallback(_logger, ex.Message);
            suite = discovery.SignatureAlgorithmSuite;
        }

        return new OutputClusterInfo(discovery.ClusterName, discovery.SshProxyAddress.Host, discovery.SshProxyAddress.Port, discovery.TlsRoutingEnabled, suite)
        {
            ConnectionUpgrade = await _wire.IsConnectionUpgradeRequiredAsync(cancellationToken).ConfigureAwait(false),
        };
    }

    async Task<IReadOnlyList<CertificateAuthorityMaterial>> IOutputClusterSource.GetCertificateAuthoritiesAsync(string type, CancellationToken cancellationToken)
    {
        await _bot.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
        var authorities = await _wire.GetCertAuthoritiesAsync(type, cancellationToken).ConfigureAwait(false);
        return [.. authorities.Select(a => new CertificateAuthorityMaterial(a.ClusterName, a.TrustedTlsCertificates, a.TrustedSshPublicKeys))];
    }
}
