using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// The one mapping from the public <see cref="MachineIdOptions"/> to the wire client's options, and
/// the one cache of a bot identity's wire form — shared by the bot's own client and the outputs'
/// signer.
/// </summary>
internal static class MachineIdWireOptions
{
    /// <exception cref="ArgumentException">An address is malformed or the proxy CA bundle cannot be read.</exception>
    public static WireClientOptions Create(MachineIdOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        X509Certificate2Collection? bundle = null;
        if (options.ProxyCaCertificates.Count > 0 || options.ProxyCaBundlePath is not null)
        {
            bundle = [.. options.ProxyCaCertificates];
            if (options.ProxyCaBundlePath is { } path)
            {
                try
                {
                    bundle.AddRange(IssuedCertificates.ReadPemCertificates(BoundedFile.ReadAllText(path, InputLimits.PemFileBytes, "proxy CA bundle"), $"proxy CA bundle '{path}'").ToArray());
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TeleportFormatException)
                {
                    throw new ArgumentException($"Cannot read the proxy CA bundle '{path}': {ex.Message}", nameof(options), ex);
                }
            }
        }

        return new WireClientOptions
        {
            ProxyServer = string.IsNullOrWhiteSpace(options.ProxyServer) ? null : HostPort.Parse(options.ProxyServer.Trim(), TeleportDefaults.ProxyPort),
            AuthServer = string.IsNullOrWhiteSpace(options.AuthServer) ? null : HostPort.Parse(options.AuthServer.Trim(), TeleportDefaults.AuthPort),
            Insecure = options.Insecure,
            ProxyCaCertificates = bundle,
            CaPins = [.. options.CaPins],
            CaPath = options.CaPath,
            TimeProvider = timeProvider,
            LoggerFactory = loggerFactory,
        };
    }

    /// <summary>
    /// The wire identity of the current bot identity (its key, certificate and CAs), built once per
    /// bot identity, so connection pools are reused until the identity changes and every call
    /// presents exactly the current one.
    /// </summary>
    /// <param name="current">The current bot identity.</param>
    /// <returns>The current wire identity, or <see langword="null"/> before the first join.</returns>
    public static Func<WireIdentity?> BotWireIdentity(Func<BotIdentity?> current) =>
        new DerivedPerInstance<BotIdentity, WireIdentity>(
            current,

            // The Teleport view's certificate carries no key (the provider's copy does), so the key can be attached.
            identity => WireIdentity.Create(identity.PrivateKey, identity.TlsIdentity.Certificate, identity.TlsCaCertificates)).Current;
}
