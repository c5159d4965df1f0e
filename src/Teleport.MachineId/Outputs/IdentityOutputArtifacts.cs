namespace Teleport.MachineId.Outputs;

/// <summary>The names of the files an identity output writes (tbot's <c>identity</c> service, teleport-protocol.md §6.1).</summary>
public static class IdentityOutputArtifacts
{
    /// <summary><c>identity</c>: the <c>tsh -i</c> identity file (key, SSH and TLS certificates, host CAs).</summary>
    public const string IdentityFile = "identity";

    /// <summary><c>key</c>: the private key, PEM (PKCS#1 for RSA, PKCS#8 otherwise), mode 0600.</summary>
    public const string PrivateKey = "key";

    /// <summary><c>key.pub</c>: the public key, an authorized_keys line.</summary>
    public const string PublicKey = "key.pub";

    /// <summary><c>key-cert.pub</c>: the SSH user certificate.</summary>
    public const string SshCertificate = "key-cert.pub";

    /// <summary><c>tlscert</c>: the TLS client certificate, PEM.</summary>
    public const string TlsCertificate = "tlscert";

    /// <summary><c>teleport-host-ca.crt</c>: the TLS certificates of every host CA.</summary>
    public const string HostCaCertificates = "teleport-host-ca.crt";

    /// <summary><c>teleport-user-ca.crt</c>: the TLS certificates of every user CA.</summary>
    public const string UserCaCertificates = "teleport-user-ca.crt";

    /// <summary><c>teleport-database-ca.crt</c>: the TLS certificates of every database CA.</summary>
    public const string DatabaseCaCertificates = "teleport-database-ca.crt";

    /// <summary><c>known_hosts</c>: <c>@cert-authority</c> lines for the clusters' host CAs (with <c>ssh_config: on</c>).</summary>
    public const string KnownHosts = "known_hosts";

    /// <summary><c>ssh_config</c>: OpenSSH configuration using the ProxyCommand (directory destinations with <c>ssh_config: on</c>).</summary>
    public const string SshConfig = "ssh_config";
}
