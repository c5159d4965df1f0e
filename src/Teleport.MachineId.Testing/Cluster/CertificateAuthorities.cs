using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>One CA key set: an SSH key (none for the database CA) and a TLS key with its self-signed certificate.</summary>
internal sealed class CaKey : IDisposable
{
    public CaKey(string id, PrivateKey? ssh, PrivateKey tls, X509Certificate2 tlsCertificate)
    {
        Id = id;
        Ssh = ssh;
        Tls = tls;
        TlsCertificate = tlsCertificate;
        TlsCertificatePem = tlsCertificate.ExportCertificatePem() + "\n";
        SshAuthorizedKey = ssh?.PublicKey.ToAuthorizedKey();
    }

    public string Id { get; }

    public PrivateKey? Ssh { get; }

    public PrivateKey Tls { get; }

    public X509Certificate2 TlsCertificate { get; }

    /// <summary>The CA certificate, PEM with a trailing newline.</summary>
    public string TlsCertificatePem { get; }

    /// <summary>The SSH public key, <c>&lt;type&gt; &lt;base64&gt;</c> without newline; null for the database CA.</summary>
    public string? SshAuthorizedKey { get; }

    public void Dispose()
    {
        Ssh?.Dispose();
        Tls.Dispose();
        TlsCertificate.Dispose();
    }
}

/// <summary>An immutable view of one certificate authority: active keys, additional trusted keys, rotation status.</summary>
internal sealed class CaSnapshot
{
    public required CertificateAuthorityType Type { get; init; }

    public required string ClusterName { get; init; }

    public required IReadOnlyList<CaKey> Active { get; init; }

    public IReadOnlyList<CaKey> AdditionalTrusted { get; init; } = [];

    public CertificateAuthorityRotationPhase Phase { get; init; }

    /// <summary>Teleport's rotation state: empty before any rotation, <c>in_progress</c>, or <c>standby</c>.</summary>
    public string RotationState { get; init; } = string.Empty;

    public string CurrentId { get; init; } = string.Empty;

    public DateTimeOffset? Started { get; init; }

    public DateTimeOffset? LastRotated { get; init; }

    public CaKey Signer => Active[0];

    /// <summary>Active keys, then additional trusted keys.</summary>
    public IEnumerable<CaKey> Trusted => Active.Concat(AdditionalTrusted);

    /// <summary>Teleport's CA type name: <c>host</c>, <c>user</c>, <c>db</c>.</summary>
    public string TypeName => CertificateAuthorities.TypeName(Type);

    /// <summary>Teleport's phase name (<c>standby</c> after a completed rotation, empty before any).</summary>
    public string PhaseName => Phase switch
    {
        CertificateAuthorityRotationPhase.Init => "init",
        CertificateAuthorityRotationPhase.UpdateClients => "update_clients",
        CertificateAuthorityRotationPhase.UpdateServers => "update_servers",
        _ => RotationState.Length == 0 ? string.Empty : "standby",
    };
}

/// <summary>
/// The cluster's user, host and database CAs, generated for a signature algorithm suite, with
/// manual rotation (init → update_clients → update_servers → standby). Thread-safe: readers take
/// immutable snapshots; retired keys stay alive until disposal because in-flight signing may use them.
/// </summary>
internal sealed class CertificateAuthorities : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<CertificateAuthorityType, CaSnapshot> _current = [];
    private readonly List<CaKey> _allKeys = [];
    private readonly string _clusterName;
    private readonly SignatureAlgorithmSuite _suite;
    private readonly TimeProvider _clock;

    // The database CA is RSA in every suite; generating it in the background keeps start-up short.
    private Task? _databaseReady;
    private bool _disposed;

    private CertificateAuthorities(string clusterName, SignatureAlgorithmSuite suite, TimeProvider clock)
    {
        _clusterName = clusterName;
        _suite = suite;
        _clock = clock;
    }

    public static async Task<CertificateAuthorities> CreateAsync(string clusterName, SignatureAlgorithmSuite suite, TimeProvider clock, CancellationToken cancellationToken)
    {
        var authorities = new CertificateAuthorities(clusterName, suite, clock);
        authorities._databaseReady = Task.Run(() => authorities.Install(CertificateAuthorityType.Database), CancellationToken.None);
        await Task.WhenAll(
            Task.Run(() => authorities.Install(CertificateAuthorityType.Host), cancellationToken),
            Task.Run(() => authorities.Install(CertificateAuthorityType.User), cancellationToken)).ConfigureAwait(false);
        return authorities;
    }

    public static string TypeName(CertificateAuthorityType type) => type switch
    {
        CertificateAuthorityType.Host => "host",
        CertificateAuthorityType.User => "user",
        CertificateAuthorityType.Database => "db",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown CA type."),
    };

    public static bool TryParseType(string? name, out CertificateAuthorityType type)
    {
        switch (name)
        {
            case "host":
                type = CertificateAuthorityType.Host;
                return true;
            case "user":
                type = CertificateAuthorityType.User;
                return true;
            case "db":
                type = CertificateAuthorityType.Database;
                return true;
            default:
                type = default;
                return false;
        }
    }

    public CaSnapshot this[CertificateAuthorityType type]
    {
        get
        {
            if (type == CertificateAuthorityType.Database)
            {
                // Rarely needed and usually long done; never on a thread with a synchronization context.
                _databaseReady?.GetAwaiter().GetResult();
            }

            lock (_gate)
            {
                return _current[type];
            }
        }
    }

    /// <summary>Moves the CA to its next rotation phase and returns the new snapshot.</summary>
    public async Task<CaSnapshot> AdvanceRotationAsync(CertificateAuthorityType type, CancellationToken cancellationToken)
    {
        CaKey? fresh = null;
        if (this[type].Phase == CertificateAuthorityRotationPhase.Standby)
        {
            fresh = await Task.Run(() => Generate(type), cancellationToken).ConfigureAwait(false);
        }

        lock (_gate)
        {
            var current = _current[type];
            var now = _clock.GetUtcNow();
            CaSnapshot next;
            switch (current.Phase)
            {
                case CertificateAuthorityRotationPhase.Standby:
                    if (fresh is null)
                    {
                        throw new InvalidOperationException("A rotation of this CA was started concurrently.");
                    }

                    _allKeys.Add(fresh);
                    next = new CaSnapshot
                    {
                        Type = type,
                        ClusterName = _clusterName,
                        Active = current.Active,
                        AdditionalTrusted = [fresh, .. current.AdditionalTrusted],
                        Phase = CertificateAuthorityRotationPhase.Init,
                        RotationState = "in_progress",
                        CurrentId = fresh.Id,
                        Started = now,
                        LastRotated = current.LastRotated,
                    };
                    break;
                case CertificateAuthorityRotationPhase.Init:
                    var incoming = current.AdditionalTrusted[0];
                    next = new CaSnapshot
                    {
                        Type = type,
                        ClusterName = _clusterName,
                        Active = [incoming],
                        AdditionalTrusted = current.Active,
                        Phase = CertificateAuthorityRotationPhase.UpdateClients,
                        RotationState = "in_progress",
                        CurrentId = current.CurrentId,
                        Started = current.Started,
                        LastRotated = current.LastRotated,
                    };
                    break;
                case CertificateAuthorityRotationPhase.UpdateClients:
                    next = new CaSnapshot
                    {
                        Type = type,
                        ClusterName = _clusterName,
                        Active = current.Active,
                        AdditionalTrusted = current.AdditionalTrusted,
                        Phase = CertificateAuthorityRotationPhase.UpdateServers,
                        RotationState = "in_progress",
                        CurrentId = current.CurrentId,
                        Started = current.Started,
                        LastRotated = current.LastRotated,
                    };
                    break;
                default:
                    next = new CaSnapshot
                    {
                        Type = type,
                        ClusterName = _clusterName,
                        Active = current.Active,
                        AdditionalTrusted = [],
                        Phase = CertificateAuthorityRotationPhase.Standby,
                        RotationState = "standby",
                        CurrentId = current.CurrentId,
                        LastRotated = now,
                    };
                    break;
            }

            _current[type] = next;
            return next;
        }
    }

    /// <summary>Trusted TLS CA certificates of the given CA types (active, then additional).</summary>
    public List<X509Certificate2> TrustedTlsCertificates(params CertificateAuthorityType[] types) =>
        types.SelectMany(t => this[t].Trusted.Select(k => k.TlsCertificate)).ToList();

    public void Dispose()
    {
        // A database CA still being generated disposes itself when done (see Install).
        lock (_gate)
        {
            _disposed = true;
            foreach (var key in _allKeys)
            {
                key.Dispose();
            }

            _allKeys.Clear();
        }
    }

    private void Install(CertificateAuthorityType type)
    {
        var key = Generate(type);
        lock (_gate)
        {
            if (_disposed)
            {
                key.Dispose();
                return;
            }

            _allKeys.Add(key);
            _current[type] = new CaSnapshot { Type = type, ClusterName = _clusterName, Active = [key], CurrentId = key.Id };
        }
    }

    private CaKey Generate(CertificateAuthorityType type)
    {
        var (sshPurpose, tlsPurpose) = type switch
        {
            CertificateAuthorityType.User => ((KeyPurpose?)KeyPurpose.UserCaSsh, KeyPurpose.UserCaTls),
            CertificateAuthorityType.Host => (KeyPurpose.HostCaSsh, KeyPurpose.HostCaTls),
            _ => ((KeyPurpose?)null, KeyPurpose.DatabaseCaTls),
        };

        PrivateKey? ssh = null;
        PrivateKey? tls = null;
        try
        {
            // The two keys of a CA in parallel: RSA generation (legacy suite) dominates start-up.
            var sshTask = sshPurpose is { } purpose ? Task.Run(() => PrivateKey.Generate(_suite, purpose)) : Task.FromResult<PrivateKey?>(null)!;
            tls = PrivateKey.Generate(_suite, tlsPurpose);
            ssh = sshTask.GetAwaiter().GetResult();
            var certificate = TeleportTlsCertificateBuilder.CreateCertificateAuthority(
                _clusterName, tls.GetAsymmetricAlgorithm(), _clock.GetUtcNow().AddMinutes(-1));
            return new CaKey(Guid.NewGuid().ToString("D"), ssh, tls, certificate);
        }
        catch
        {
            ssh?.Dispose();
            tls?.Dispose();
            throw;
        }
    }
}
