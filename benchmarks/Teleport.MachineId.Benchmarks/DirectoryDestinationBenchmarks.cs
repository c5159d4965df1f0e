using BenchmarkDotNet.Attributes;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Destinations.Internal;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// One renewal's output: an 11-artifact set of about 10 KB (the tbot identity output's files)
/// written to a directory destination — a new generation, fsyncs, the ..data swap, links and
/// cleanup — compared with an in-memory destination and a single durable file write.
/// </summary>
[MemoryDiagnoser]
public class DirectoryDestinationBenchmarks
{
    private static readonly (string Name, int Length)[] Layout =
    [
        ("identity", 3000), ("key", 420), ("key.pub", 100), ("key-cert.pub", 1100), ("tlscert", 1400),
        ("teleport-host-ca.crt", 700), ("teleport-user-ca.crt", 700), ("teleport-database-ca.crt", 700),
        ("known_hosts", 400), ("ssh_config", 1200), ("ssh_known_hosts_extra", 200),
    ];

    private string _root = null!;
    private DestinationArtifacts _artifacts = null!;
    private DirectoryDestination _linux = null!;
    private DirectoryDestination _portable = null!;
    private DirectoryDestination _reader = null!;
    private readonly MemoryDestination _memory = new();
    private byte[] _single = null!;

    [GlobalSetup]
    public void GlobalSetup()
    {
        var random = new Random(11);
        _artifacts = DestinationArtifacts.Empty;
        foreach (var (name, length) in Layout)
        {
            var content = new byte[length];
            random.NextBytes(content);
            _artifacts = _artifacts.SetItem(name, content);
        }

        _single = new byte[(int)_artifacts.TotalLength];
        random.NextBytes(_single);
        _root = Directory.CreateTempSubdirectory("tmid-bench-").FullName;
        _linux = new DirectoryDestination(new DirectoryDestinationOptions { Path = Path.Combine(_root, "linux") });
        _portable = new DirectoryDestination(new DirectoryDestinationOptions { Path = Path.Combine(_root, "portable"), ForcePortableFileSystem = true });
        _reader = _linux;
        _linux.WriteAsync(_artifacts).GetAwaiter().GetResult();
        _portable.WriteAsync(_artifacts).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void GlobalCleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Baseline = true, Description = "DirectoryDestination.WriteAsync (11 artifacts, ~10 KB)")]
    public Task WriteDirectory() => _linux.WriteAsync(_artifacts);

    [Benchmark(Description = "DirectoryDestination.WriteAsync, portable code path")]
    public Task WriteDirectoryPortable() => _portable.WriteAsync(_artifacts);

    [Benchmark(Description = "DirectoryDestination.ReadAsync (11 artifacts)")]
    public Task<DestinationArtifacts?> ReadDirectory() => _reader.ReadAsync();

    [Benchmark(Description = "AtomicFile.WriteAsync (one ~10 KB file)")]
    public Task WriteSingleAtomicFile() => AtomicFile.WriteAsync(Path.Combine(_root, "single"), _single);

    [Benchmark(Description = "MemoryDestination.WriteAsync")]
    public Task WriteMemory() => _memory.WriteAsync(_artifacts);
}
