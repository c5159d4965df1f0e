using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Wire.Join;

/// <summary>Which API a join used.</summary>
internal enum JoinApi
{
    /// <summary><c>teleport.join.v1.JoinService/Join</c> (later v18.x and v19 servers).</summary>
    Unified,

    /// <summary><c>POST /webapi/host/credentials</c> on the proxy (v18.0).</summary>
    LegacyHttp,

    /// <summary><c>proto.JoinService/RegisterUsingToken</c> on Auth (v18.0, direct Auth).</summary>
    LegacyGrpc,

    /// <summary><c>proto.JoinService/RegisterUsingBoundKeypairMethod</c> (bound_keypair on v18.0/18.1).</summary>
    LegacyBoundKeypairStream,
}

/// <summary>
/// The outcome of a successful join: the bot's new key and the certificates issued for it (a
/// renewable identity with generation 1, plus the cluster's user and host CAs).
/// </summary>
/// <remarks>The caller owns <see cref="PrivateKey"/> and must store the identity durably before using it (teleport-protocol.md §4.1).</remarks>
internal sealed class JoinResult
{
    /// <summary>Creates a result.</summary>
    public JoinResult(PrivateKey privateKey, IssuedCertificates certificates, SignatureAlgorithmSuite suite, JoinApi api)
    {
        PrivateKey = privateKey;
        Certificates = certificates;
        SignatureAlgorithmSuite = suite;
        Api = api;
    }

    /// <summary>The bot's private key (generated for <see cref="SignatureAlgorithmSuite"/>); secret.</summary>
    public PrivateKey PrivateKey { get; }

    /// <summary>The certificates: SSH and TLS bot certificates, TLS CA certificates, SSH CA keys.</summary>
    public IssuedCertificates Certificates { get; }

    /// <summary>The suite the key was generated for.</summary>
    public SignatureAlgorithmSuite SignatureAlgorithmSuite { get; }

    /// <summary>Which join API succeeded.</summary>
    public JoinApi Api { get; }

    /// <summary>The identity to use for calls (client certificate with the key, CA certificates as trust).</summary>
    /// <returns>The identity.</returns>
    public WireIdentity CreateIdentity() => WireIdentity.Create(PrivateKey, Certificates);
}
