using BenchmarkDotNet.Attributes;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Testing;

namespace Teleport.MachineId.Benchmarks;

/// <summary>Reading the current bot identity: one volatile field read, compared with a plain field read.</summary>
[MemoryDiagnoser]
public class BotIdentityReadBenchmarks
{
    private TeleportEmulator _emulator = null!;
    private BotIdentityProvider _provider = null!;
    private string _storage = null!;
    private BotIdentity? _field;

    [GlobalSetup]
    public void GlobalSetup()
    {
        (_emulator, _provider, _storage) = BotBenchmarkCluster.StartAsync().GetAwaiter().GetResult();
        _field = _provider.Current;
    }

    [GlobalCleanup]
    public void GlobalCleanup() => BotBenchmarkCluster.StopAsync(_emulator, _provider, _storage).GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "plain field read")]
    public BotIdentity? PlainField() => _field;

    [Benchmark(Description = "IBotIdentityProvider.Current")]
    public BotIdentity? Current() => _provider.Current;
}

/// <summary>
/// One bot renewal cycle on loopback against the in-process emulator: key generation, in-flight
/// record (durable), GenerateUserCerts over mTLS through the TLS-routing proxy, verification,
/// durable store, publish. Allocations include the emulator's server side (same process); the
/// client-only parts are measured separately.
/// </summary>
[MemoryDiagnoser]
public class BotRenewalBenchmarks
{
    private TeleportEmulator _emulator = null!;
    private BotIdentityProvider _provider = null!;
    private string _storage = null!;
    private DirectoryBotIdentityStore _store = null!;
    private string _storeDirectory = null!;
    private StoredBotIdentity _stored = null!;
    private BotIdentity _identity = null!;

    [GlobalSetup]
    public void GlobalSetup()
    {
        (_emulator, _provider, _storage) = BotBenchmarkCluster.StartAsync().GetAwaiter().GetResult();
        _identity = _provider.Current!;
        _stored = new StoredBotIdentity(_identity.PrivateKey.ExportPem(), _identity.Material, "0123", DateTimeOffset.UtcNow);
        _storeDirectory = Path.Combine(Path.GetTempPath(), "tmid-bench-store-" + Guid.NewGuid().ToString("N"));
        _store = DirectoryBotIdentityStore.Open(_storeDirectory);
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_storeDirectory, recursive: true);
        BotBenchmarkCluster.StopAsync(_emulator, _provider, _storage).GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "full renewal (RenewNowAsync, loopback emulator)")]
    public Task<BotIdentity> Renew() => _provider.RenewNowAsync();

    [Benchmark(Description = "client part: ECDSA P-256 key generation")]
    public PublicKeyInfo GenerateKey()
    {
        using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotIdentity);
        return key.PublicKey;
    }

    [Benchmark(Description = "client part: parse and verify the issued identity")]
    public BotIdentity VerifyIdentity() => BotIdentity.Create(_identity.PrivateKey, _identity.Material);

    [Benchmark(Description = "client part: durable writes (in-flight record, identity, clear)")]
    public async Task DurableWrites()
    {
        await _store.WriteInFlightAsync(new InFlightRenewal(1, "i", "k", DateTimeOffset.UtcNow), CancellationToken.None);
        await _store.SaveIdentityAsync(_stored, CancellationToken.None);
        await _store.ClearInFlightAsync(CancellationToken.None);
    }
}

/// <summary>An emulator with a joined bot (real clock, directory storage).</summary>
internal static class BotBenchmarkCluster
{
    public static async Task<(TeleportEmulator, BotIdentityProvider, string)> StartAsync()
    {
        var emulator = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions());
        emulator.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        emulator.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        var storage = Path.Combine(Path.GetTempPath(), "tmid-bench-" + Guid.NewGuid().ToString("N"));
        var options = new MachineIdOptions
        {
            ProxyServer = emulator.ProxyAddress,
            Token = emulator.CreateJoinToken("robot").Name,
            StoragePath = storage,
            CredentialTtl = TimeSpan.FromHours(1),
        };
        options.ProxyCaCertificates.Add(emulator.WebCaCertificate);
        var provider = BotIdentityProvider.Create(options);
        await provider.StartAsync();
        await provider.WaitUntilReadyAsync();
        return (emulator, provider, storage);
    }

    public static async Task StopAsync(TeleportEmulator emulator, BotIdentityProvider provider, string storage)
    {
        await provider.DisposeAsync();
        await emulator.DisposeAsync();
        Directory.Delete(storage, recursive: true);
    }
}
