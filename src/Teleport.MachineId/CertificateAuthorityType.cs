namespace Teleport.MachineId;

/// <summary>Teleport certificate authority types (the CA <c>type</c> of <c>GetCertAuthorities</c>).</summary>
public enum CertificateAuthorityType
{
    /// <summary><c>host</c>: signs Auth/Proxy TLS certificates and SSH host certificates.</summary>
    Host = 1,

    /// <summary><c>user</c>: signs user and bot certificates (SSH and TLS).</summary>
    User = 2,

    /// <summary><c>db</c>: the database CA (TLS only, RSA in every suite, as in Teleport).</summary>
    Database = 3,

    /// <summary><c>openssh</c>: signs certificates for agentless OpenSSH nodes (SSH only).</summary>
    OpenSsh = 4,
}
