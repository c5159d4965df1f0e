using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Teleport.MachineId.Wire;

/// <summary>
/// Parsed CA certificates, shared by content. The same few CA certificates arrive with every join,
/// renewal, impersonation and CA query; parsing one costs as much as a loopback call, so each
/// distinct DER is parsed once. Entries are public certificates without keys and are never
/// disposed; the cache is cleared when it grows past a bound (CA sets are small).
/// </summary>
internal static class CertificateCache
{
    private const int MaxEntries = 256;

    private static readonly ConcurrentDictionary<string, X509Certificate2> Entries = new(StringComparer.Ordinal);

    /// <summary>The certificate for <paramref name="der"/>, parsed once per distinct content.</summary>
    /// <exception cref="CryptographicException">The bytes are not a certificate.</exception>
    public static X509Certificate2 Get(ReadOnlySpan<byte> der)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(der, hash);
        var key = Convert.ToBase64String(hash);
        if (Entries.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var certificate = X509CertificateLoader.LoadCertificate(der);
        if (Entries.Count >= MaxEntries)
        {
            Entries.Clear();
        }

        return Entries.GetOrAdd(key, certificate);
    }
}
