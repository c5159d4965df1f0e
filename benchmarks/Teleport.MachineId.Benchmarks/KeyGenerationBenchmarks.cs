using BenchmarkDotNet.Attributes;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Benchmarks;

/// <summary>Key generation per algorithm (the bot generates a fresh key on every join and renewal).</summary>
[MemoryDiagnoser]
public class KeyGenerationBenchmarks
{
    [Benchmark]
    public KeyAlgorithm Rsa2048()
    {
        using var key = PrivateKey.Generate(KeyAlgorithm.Rsa);
        return key.Algorithm;
    }

    [Benchmark]
    public KeyAlgorithm EcdsaP256()
    {
        using var key = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        return key.Algorithm;
    }

    [Benchmark]
    public KeyAlgorithm Ed25519()
    {
        using var key = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        return key.Algorithm;
    }
}
