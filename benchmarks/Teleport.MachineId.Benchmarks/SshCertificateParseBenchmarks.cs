using BenchmarkDotNet.Attributes;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// Parsing a Teleport-like user certificate (Ed25519 and ECDSA P-256 subject keys, signed by an
/// Ed25519 user CA as in balanced-v1). Target: ≤ 2 µs and ≤ 2 KB allocated.
/// </summary>
[MemoryDiagnoser]
public class SshCertificateParseBenchmarks
{
    private byte[] _ed25519Wire = null!;
    private byte[] _ecdsaWire = null!;
    private string _ecdsaLine = null!;

    [GlobalSetup]
    public void Setup()
    {
        using var ca = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var ed = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var ec = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        _ed25519Wire = BenchmarkCertificates.TeleportUser(ed.PublicKey).Sign(ca).ToWire();
        var ecdsa = BenchmarkCertificates.TeleportUser(ec.PublicKey).Sign(ca);
        _ecdsaWire = ecdsa.ToWire();
        _ecdsaLine = ecdsa.ToAuthorizedKey();
    }

    [Benchmark]
    public SshCertificate ParseEd25519UserCertificate() => SshCertificate.FromWire(_ed25519Wire);

    [Benchmark]
    public SshCertificate ParseEcdsaUserCertificate() => SshCertificate.FromWire(_ecdsaWire);

    /// <summary>From the <c>-cert.pub</c> text (base64 decoding included).</summary>
    [Benchmark]
    public SshCertificate ParseEcdsaUserCertificateLine() => SshCertificate.ParseAuthorizedKey(_ecdsaLine);

    /// <summary>Parse plus what a renewal loop reads: key ID, principals, expiry.</summary>
    [Benchmark]
    public int ParseEcdsaAndReadKeyIdPrincipalsExpiry()
    {
        var certificate = SshCertificate.FromWire(_ecdsaWire);
        return certificate.KeyId.Length + certificate.Principals.Count + certificate.ValidBefore.Second;
    }
}
