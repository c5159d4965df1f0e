namespace Teleport.MachineId.Crypto;

/// <summary>
/// What a key is for; together with a <see cref="SignatureAlgorithmSuite"/> it decides the key
/// algorithm (Teleport's <c>cryptosuites</c> table).
/// </summary>
public enum KeyPurpose
{
    /// <summary>The bot's own identity, generated on join and on every renewal (Teleport's <c>HostIdentity</c> purpose).</summary>
    BotIdentity = 1,

    /// <summary>The key of an impersonated identity written by an identity output.</summary>
    BotImpersonatedIdentity = 2,

    /// <summary>A database client key (database outputs); RSA in every suite.</summary>
    DatabaseClient = 3,

    /// <summary>The SSH key of a user certificate authority.</summary>
    UserCaSsh = 4,

    /// <summary>The SSH key of a host certificate authority.</summary>
    HostCaSsh = 5,

    /// <summary>The TLS key of a user certificate authority.</summary>
    UserCaTls = 6,

    /// <summary>The TLS key of a host certificate authority.</summary>
    HostCaTls = 7,

    /// <summary>The TLS key of the database certificate authority; RSA in every suite.</summary>
    DatabaseCaTls = 8,

    /// <summary>
    /// The long-lived keypair a <c>bound_keypair</c> bot proves itself with (Teleport's
    /// <c>BoundKeypairJoining</c> purpose): Ed25519 in balanced-v1 and hsm-v1, ECDSA P-256 in fips-v1,
    /// RSA 2048 in legacy.
    /// </summary>
    BoundKeypairJoining = 9,

    /// <summary>
    /// An SSH host key certified by the host CA (tbot's <c>ssh_host</c> output; Teleport's <c>HostSSH</c>):
    /// like user SSH keys, Ed25519 except in fips-v1 (ECDSA P-256) and RSA in legacy.
    /// </summary>
    HostSsh = 10,
}
