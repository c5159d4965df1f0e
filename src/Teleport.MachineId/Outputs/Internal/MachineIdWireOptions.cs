using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Outputs.Internal;

/// <summary>Maps the public <see cref="MachineIdOptions"/> to the wire client's options.</summary>
internal static class MachineIdWireOptions
{
    /// <summary>Default proxy web port (tbot: 443).</summary>
    public const int DefaultProxyPort = 443;

    /// <summary>Default Auth port (tbot: 3025).</summary>
    public const int DefaultAuthPort = 3025;

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
            ProxyServer = string.IsNullOrWhiteSpace(options.ProxyServer) ? null : HostPort.Parse(options.ProxyServer.Trim(), DefaultProxyPort),
            AuthServer = string.IsNullOrWhiteSpace(options.AuthServer) ? null : HostPort.Parse(options.AuthServer.Trim(), DefaultAuthPort),
            Insecure = options.Insecure,
            ProxyCaCertificates = bundle,
            CaPins = [.. options.CaPins],
            CaPath = options.CaPath,
            TimeProvider = timeProvider,
            LoggerFactory = loggerFactory,
        };
    }

    /// <summary>
    /// The wire identity of a bot identity (its key, certificate and CAs), cached for the last
    /// identity seen so connection pools are reused until the identity changes.
    /// </summary>
    public sealed class BotWireIdentity(IBotIdentityProvider bot)
    {
        private Entry? _last;

        public WireIdentity? Current()
        {
            var identity = bot.Current;
            if (identity is null)
            {
                return null;
            }

            var last = Volatile.Read(ref _last);
            if (last is not null && ReferenceEquals(last.Bot, identity))
            {
                return last.Wire;
            }

            // A fresh certificate object: the provider's copy already carries the key.
            var certificate = X509CertificateLoader.LoadCertificate(identity.TlsCertificate.RawData);
            var wire = WireIdentity.Create(identity.PrivateKey, certificate, identity.TlsCaCertificates);
            Volatile.Write(ref _last, new Entry(identity, wire));
            return wire;
        }

        private sealed record Entry(BotIdentity Bot, WireIdentity Wire);
    }
}
