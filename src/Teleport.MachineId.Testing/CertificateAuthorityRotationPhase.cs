namespace Teleport.MachineId.Testing;

/// <summary>Phases of a manual CA rotation, in order (Teleport's rotation phases).</summary>
public enum CertificateAuthorityRotationPhase
{
    /// <summary>No rotation in progress.</summary>
    Standby = 0,

    /// <summary>New keys exist and are trusted (additional trusted keys) but do not sign yet.</summary>
    Init = 1,

    /// <summary>New keys sign; old keys are still trusted. Clients must renew (tbot renews on this phase).</summary>
    UpdateClients = 2,

    /// <summary>Servers switch to certificates from the new keys; old keys still trusted.</summary>
    UpdateServers = 3,
}
