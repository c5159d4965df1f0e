using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// Signing a certificate against the raw signature of the same CA key over the same to-be-signed
/// bytes (the baseline of each category). Target: ratio ≤ 1.15.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class SshCertificateSignBenchmarks
{
    private PrivateKey _ed25519Ca = null!;
    private PrivateKey _ecdsaCa = null!;
    private PrivateKey _subject = null!;
    private SshCertificateBuilder _builder = null!;
    private byte[] _ed25519Tbs = null!;
    private byte[] _ecdsaTbs = null!;
    private byte[] _signature = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ed25519Ca = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        _ecdsaCa = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        _subject = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        _builder = BenchmarkCertificates.TeleportUser(_subject.PublicKey);
        _ed25519Tbs = _builder.Sign(_ed25519Ca).SignedData.ToArray();
        _ecdsaTbs = _builder.Sign(_ecdsaCa).SignedData.ToArray();
        _signature = new byte[132];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ed25519Ca.Dispose();
        _ecdsaCa.Dispose();
        _subject.Dispose();
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Ed25519 CA")]
    public byte[] Ed25519RawSignature()
    {
        _ed25519Ca.Ed25519Parameters.Sign(Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Algorithm.Ed25519, null, _ed25519Tbs, _signature.AsSpan(0, 64));
        return _signature;
    }

    [Benchmark]
    [BenchmarkCategory("Ed25519 CA")]
    public SshCertificate Ed25519SignCertificate() => _builder.Sign(_ed25519Ca);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("ECDSA P-256 CA")]
    public byte[] EcdsaRawSignature()
    {
        _ecdsaCa.Ecdsa.TrySignData(_ecdsaTbs, _signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out _);
        return _signature;
    }

    [Benchmark]
    [BenchmarkCategory("ECDSA P-256 CA")]
    public SshCertificate EcdsaSignCertificate() => _builder.Sign(_ecdsaCa);
}
