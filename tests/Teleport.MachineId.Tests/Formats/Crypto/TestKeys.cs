using System.Collections.Concurrent;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Tests.Formats.Crypto;

/// <summary>Keys shared by tests (generated once per run; never disposed) and test data paths.</summary>
internal static class TestKeys
{
    private static readonly ConcurrentDictionary<(KeyAlgorithm, int), PrivateKey> Cache = new();

    public static readonly KeyAlgorithm[] All =
    [
        KeyAlgorithm.Ed25519, KeyAlgorithm.EcdsaP256, KeyAlgorithm.EcdsaP384, KeyAlgorithm.EcdsaP521, KeyAlgorithm.Rsa,
    ];

    /// <summary>A shared key of <paramref name="algorithm"/>; <paramref name="index"/> picks distinct keys.</summary>
    public static PrivateKey Get(KeyAlgorithm algorithm, int index = 0) =>
        Cache.GetOrAdd((algorithm, index), static k => PrivateKey.Generate(k.Item1));

    public static string DataPath(params string[] parts) =>
        Path.Combine([TestContext.CurrentContext.TestDirectory, "TestData", .. parts]);

    public static string ReadKeyFile(string name) => File.ReadAllText(DataPath("Crypto", "keys", name));
}
