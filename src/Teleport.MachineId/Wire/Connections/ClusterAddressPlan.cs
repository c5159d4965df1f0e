namespace Teleport.MachineId.Wire.Connections;

/// <summary>How a configured address is tried: as a proxy's web address, or as the Auth Service.</summary>
internal enum ClusterAddressRole
{
    /// <summary>The proxy's web address: discovery, join through the proxy, Auth through the proxy.</summary>
    Proxy,

    /// <summary>The Auth Service, dialled directly.</summary>
    Auth,
}

/// <summary>One way to try the configured address.</summary>
/// <param name="Role">As what the address is tried.</param>
/// <param name="Address">The address.</param>
internal sealed record ClusterAddressCandidate(ClusterAddressRole Role, HostPort Address)
{
    /// <summary>How this attempt is named in logs and messages (e.g. <c>as a proxy</c>).</summary>
    public string Description { get; } = Role == ClusterAddressRole.Proxy ? "as a proxy" : "as the Auth Service";
}

/// <summary>
/// Teleport's order for trying the configured address (<c>lib/auth/join/join.go</c> <c>Register</c>,
/// and tbot's later connections): with <c>proxy_server</c>, only the proxy; with <c>auth_server</c>,
/// Auth first and then the same address as a proxy, except when the port is 443 or 3080 (the address
/// "appears to be a proxy"), where the proxy is tried first and Auth second.
/// </summary>
internal static class ClusterAddressPlan
{
    /// <summary>The proxy web port Teleport listens on by default.</summary>
    public const int ProxyListenPort = 3080;

    /// <summary>The standard HTTPS port.</summary>
    public const int HttpsPort = 443;

    /// <summary>Whether an <c>auth_server</c> address looks like a proxy (Teleport's <c>LooksLikeProxy</c>: port 443 or 3080).</summary>
    public static bool LooksLikeProxy(HostPort address) => address.Port is ProxyListenPort or HttpsPort;

    /// <summary>The candidates in the order they are tried.</summary>
    /// <param name="options">The client's options (exactly one address is set).</param>
    /// <returns>One or two candidates.</returns>
    public static IReadOnlyList<ClusterAddressCandidate> For(WireClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ProxyServer is { } proxy)
        {
            return [new(ClusterAddressRole.Proxy, proxy)];
        }

        var auth = options.AuthServer ?? throw new ArgumentException("Neither ProxyServer nor AuthServer is set.", nameof(options));
        ClusterAddressCandidate asAuth = new(ClusterAddressRole.Auth, auth), asProxy = new(ClusterAddressRole.Proxy, auth);
        return LooksLikeProxy(auth) ? [asProxy, asAuth] : [asAuth, asProxy];
    }
}
