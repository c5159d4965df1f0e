using System.Collections.Concurrent;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>
/// Everything that decides how a connection authenticates: the client identity presented and how
/// the server is verified. Connections are pooled per profile, so calls never reuse a connection
/// that was authenticated with another identity or trust (important for bot renewal: Auth checks
/// the generation of the certificate presented on the connection).
/// </summary>
internal sealed class ConnectionProfile
{
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);

    /// <summary>Creates a profile.</summary>
    /// <param name="identity">The client certificate to present, or <see langword="null"/>.</param>
    /// <param name="trust">How to verify the server.</param>
    public ConnectionProfile(WireIdentity? identity, ServerTrust trust)
    {
        Identity = identity;
        Trust = trust ?? throw new ArgumentNullException(nameof(trust));
        Label = $"{identity?.ConnectionLabel ?? "anon"}-{trust.Label}";
    }

    /// <summary>The client certificate to present, or <see langword="null"/>.</summary>
    public WireIdentity? Identity { get; }

    /// <summary>How to verify the server.</summary>
    public ServerTrust Trust { get; }

    /// <summary>DNS-safe label unique to this profile.</summary>
    public string Label { get; }

    /// <summary>
    /// The request URI for <paramref name="pathAndQuery"/> in this profile's connection pool. The
    /// host is a label under <c>.invalid</c> that is never resolved: the endpoint's connect callback
    /// decides where to connect.
    /// </summary>
    public Uri GetRequestUri(string pathAndQuery) =>
        _uris.GetOrAdd(pathAndQuery, static (path, label) => new Uri($"http://{label}.teleport-wire.invalid{path}"), Label);
}
