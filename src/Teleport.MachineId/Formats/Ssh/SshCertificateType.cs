namespace Teleport.MachineId.Ssh;

/// <summary>The kind of an OpenSSH certificate (PROTOCOL.certkeys <c>type</c> field).</summary>
public enum SshCertificateType
{
    /// <summary>A user certificate (<c>SSH2_CERT_TYPE_USER</c>), presented by a client to log in.</summary>
    User = 1,

    /// <summary>A host certificate (<c>SSH2_CERT_TYPE_HOST</c>), presented by a server to prove its identity.</summary>
    Host = 2,
}
