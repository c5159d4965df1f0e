using System.Security.Cryptography.X509Certificates;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>How a server certificate is verified.</summary>
internal enum ServerTrustMode
{
    /// <summary>Chain to the operating system's trust store (the proxy's web certificate).</summary>
    SystemStore,

    /// <summary>Chain to a fixed set of CA certificates (cluster CAs, a caller CA bundle, pinned CAs).</summary>
    CustomRoots,

    /// <summary>Not verified; only on explicit opt-in (<c>insecure</c>) or for the CA-pin bootstrap call.</summary>
    Unverified,

    /// <summary>
    /// A proxy reached through the ALPN connection upgrade before the cluster's CAs are known:
    /// <see cref="ServerTrust.Inner"/>, or else Teleport's rule for such connections — a certificate
    /// for <c>teleport.cluster.local</c> that has not expired (the proxy's host certificate).
    /// </summary>
    UpgradedProxy,
}

/// <summary>An immutable description of which server certificates a connection accepts.</summary>
internal sealed class ServerTrust
{
    private ServerTrust(ServerTrustMode mode, X509Certificate2Collection? roots, string description, string label, ServerTrust? inner = null)
    {
        Mode = mode;
        Roots = roots;
        Description = description;
        Label = label;
        Inner = inner;
    }

    /// <summary>The operating system's trust store.</summary>
    public static ServerTrust SystemStore { get; } = new(ServerTrustMode.SystemStore, null, "the operating system's trust store", "os");

    /// <summary>No verification because the caller set <c>insecure</c>.</summary>
    public static ServerTrust Insecure { get; } = new(ServerTrustMode.Unverified, null, "nothing (insecure mode)", "insecure");

    /// <summary>No verification for the first call of the CA-pin bootstrap, whose answer is checked against the pins.</summary>
    public static ServerTrust PinBootstrap { get; } = new(ServerTrustMode.Unverified, null, "nothing (CA-pin bootstrap; the CA certificates are checked against the pins)", "pinboot");

    /// <summary>The verification mode.</summary>
    public ServerTrustMode Mode { get; }

    /// <summary>The trusted CA certificates for <see cref="ServerTrustMode.CustomRoots"/>.</summary>
    public X509Certificate2Collection? Roots { get; }

    /// <summary>For <see cref="ServerTrustMode.UpgradedProxy"/>: the trust tried first.</summary>
    public ServerTrust? Inner { get; }

    /// <summary>What is trusted, for messages (e.g. "the cluster's CA certificates").</summary>
    public string Description { get; }

    /// <summary>Short DNS-safe label that keys connection pools.</summary>
    public string Label { get; }

    /// <summary>Trust a fixed set of CA certificates.</summary>
    /// <param name="roots">The CA certificates.</param>
    /// <param name="description">What they are, for messages.</param>
    /// <param name="label">Pool label (DNS-safe).</param>
    /// <returns>The trust.</returns>
    public static ServerTrust CustomRoots(X509Certificate2Collection roots, string description, string label)
    {
        ArgumentNullException.ThrowIfNull(roots);
        if (roots.Count == 0)
        {
            throw new ArgumentException("At least one trusted certificate is needed.", nameof(roots));
        }

        return new ServerTrust(ServerTrustMode.CustomRoots, roots, description, label);
    }

    /// <summary>
    /// The trust for the proxy's unauthenticated endpoints reached through the ALPN connection
    /// upgrade: <paramref name="web"/>, or Teleport's <c>verifyALPNUpgradedConn</c> rule (unexpired, DNS name
    /// <c>teleport.cluster.local</c>), because behind a load balancer the proxy presents its host
    /// certificate, which cannot be verified before joining; the load balancer's certificate was
    /// verified with <paramref name="web"/> on the way in.
    /// </summary>
    /// <param name="web">The trust of the web certificate.</param>
    /// <returns>The trust (<paramref name="web"/> itself when it verifies nothing).</returns>
    public static ServerTrust ForUpgradedProxy(ServerTrust web)
    {
        ArgumentNullException.ThrowIfNull(web);
        return web.Mode is ServerTrustMode.Unverified or ServerTrustMode.UpgradedProxy ? web
            : new ServerTrust(ServerTrustMode.UpgradedProxy, null,
                $"{web.Description}, or a proxy host certificate for {WireProtocol.ApiDomain} (connection upgrade)", web.Label + "-upgraded", web);
    }

    /// <summary>How a proxy's web certificate (or a load balancer's in front of it) is verified: not at all only when <c>insecure</c> is set, else the configured CA bundle, else the OS trust store.</summary>
    /// <param name="options">The client options.</param>
    /// <returns>The trust.</returns>
    public static ServerTrust ForProxyWeb(WireClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Insecure ? Insecure
            : options.ProxyCaCertificates is { Count: > 0 } bundle ? CustomRoots(bundle, "the configured proxy CA certificates", "webca")
            : SystemStore;
    }
}
