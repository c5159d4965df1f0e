namespace Teleport.MachineId.Wire.Connections;

/// <summary>
/// Reads the current identity through the caller's provider and keeps one
/// <see cref="ConnectionProfile"/> per identity (client certificate + the identity's CAs as trust),
/// so each renewed identity gets its own connection pool.
/// </summary>
internal sealed class IdentityProfiles(Func<WireIdentity?> provider)
{
    private readonly DerivedPerInstance<WireIdentity, ConnectionProfile> _profiles = new(
        provider,
        identity => new ConnectionProfile(
            identity, ServerTrust.CustomRoots(identity.TrustedCertificateAuthorities, "the cluster's CA certificates held by the identity", "ca")));

    /// <summary>The current identity, or <see langword="null"/> before the first join.</summary>
    public WireIdentity? Current => _profiles.Source;

    /// <summary>The profile of the current identity, or <see langword="null"/> when there is none.</summary>
    public ConnectionProfile? TryGetCurrent() => _profiles.Current();

    /// <summary>The profile of the current identity.</summary>
    /// <param name="endpoint">The endpoint that needs it, for the message.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="InvalidOperationException">There is no identity yet.</exception>
    public ConnectionProfile GetCurrent(string endpoint) =>
        TryGetCurrent() ?? throw new InvalidOperationException($"Calls to {endpoint} need a bot identity; join the cluster first.");
}
