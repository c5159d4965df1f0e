using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>An authenticated caller: a client certificate that chains to the user or host CA.</summary>
internal sealed class CallerIdentity
{
    public required TeleportTlsIdentity Identity { get; init; }

    public required X509Certificate2 Certificate { get; init; }

    /// <summary>Issued by the host CA (a server identity) rather than the user CA.</summary>
    public bool IsHost { get; init; }

    public string Username => Identity.Username;

    public IReadOnlyList<string> Roles => Identity.Roles;
}

/// <summary>
/// Verifies client certificates against the trusted (active + additional) TLS keys of the user and
/// host CAs at the emulator's time. Results are cached per certificate and CA generation.
/// </summary>
internal sealed class IdentityVerifier
{
    private readonly CertificateAuthorities _authorities;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, (long Generation, bool IsHost, TeleportTlsIdentity? Identity)> _cache = new(StringComparer.Ordinal);
    private long _generation;

    public IdentityVerifier(CertificateAuthorities authorities, TimeProvider clock)
    {
        _authorities = authorities;
        _clock = clock;
    }

    /// <summary>Forgets cached results (call after the trusted CA keys change).</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _cache.Clear();
    }

    /// <summary>Whether the certificate chains to a trusted CA (any time) and is within its validity now.</summary>
    public bool IsTrustedAndCurrent(X509Certificate2 certificate, CertificateAuthorityType[] types) =>
        TryVerify(certificate, types, out _, out _);

    /// <summary>Verifies a client certificate presented to Auth (user or host CA).</summary>
    public CallerIdentity? Verify(X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return null;
        }

        return TryVerify(certificate, [CertificateAuthorityType.User, CertificateAuthorityType.Host], out var identity, out var isHost)
            ? new CallerIdentity { Identity = identity!, Certificate = certificate, IsHost = isHost }
            : null;
    }

    private bool TryVerify(X509Certificate2 certificate, CertificateAuthorityType[] types, out TeleportTlsIdentity? identity, out bool isHost)
    {
        identity = null;
        isHost = false;
        var now = _clock.GetUtcNow();
        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime || certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            return false;
        }

        var key = Convert.ToHexString(SHA256.HashData(certificate.RawData)) + "/" + string.Join(',', types);
        var generation = Interlocked.Read(ref _generation);
        if (_cache.TryGetValue(key, out var cached) && cached.Generation == generation)
        {
            identity = cached.Identity;
            isHost = cached.IsHost;
            return identity is not null;
        }

        foreach (var type in types)
        {
            if (ChainsTo(certificate, _authorities.TrustedTlsCertificates(type), now))
            {
                try
                {
                    identity = TeleportTlsIdentity.FromCertificate(certificate);
                }
                catch (TeleportFormatException)
                {
                    identity = null;
                }

                isHost = type == CertificateAuthorityType.Host;
                break;
            }
        }

        _cache[key] = (generation, isHost, identity);
        return identity is not null;
    }

    private static bool ChainsTo(X509Certificate2 certificate, List<X509Certificate2> roots, DateTimeOffset now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots.ToArray());
        try
        {
            if (!chain.Build(certificate))
            {
                return false;
            }

            // The chain must end at one of our roots (not just any root the platform knows).
            var root = chain.ChainElements[^1].Certificate;
            return roots.Any(r => r.RawData.AsSpan().SequenceEqual(root.RawData));
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
