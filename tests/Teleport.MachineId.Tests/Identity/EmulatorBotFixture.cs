using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Identity;

/// <summary>
/// A cluster emulator sharing a <see cref="FakeTimeProvider"/> with the providers under test, a
/// bot with a role, a temporary directory for storage and token files.
/// </summary>
internal sealed class EmulatorBotFixture : IAsyncDisposable
{
    public const string BotName = "robot";

    private readonly TempDirectory _directory = new("tmid-identity-");

    private EmulatorBotFixture(TeleportEmulator emulator, FakeTimeProvider time)
    {
        Emulator = emulator;
        Time = time;
    }

    public TeleportEmulator Emulator { get; }

    public FakeTimeProvider Time { get; }

    public string Directory => _directory.Path;

    public string StoragePath => Path.Combine(Directory, "storage");

    public string TokenFile => Path.Combine(Directory, "token");

    public static async Task<EmulatorBotFixture> StartAsync(EmulatorJoinApis? joinApis = null)
    {
        // Whole seconds: certificates carry second precision.
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        var emulator = await TeleportEmulator.StartAsync(new TeleportEmulatorOptions { TimeProvider = time, JoinApis = joinApis });
        emulator.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        emulator.AddBot(new EmulatorBot { Name = BotName, Roles = ["access"] });
        return new EmulatorBotFixture(emulator, time);
    }

    /// <summary>Writes a fresh join token to <see cref="TokenFile"/> and returns it.</summary>
    public async Task<string> WriteNewTokenAsync()
    {
        var token = Emulator.CreateJoinToken(BotName, TimeSpan.FromDays(30)).Name;
        await File.WriteAllTextAsync(TokenFile, token);
        return token;
    }

    public MachineIdOptions Options(bool directoryStorage = true)
    {
        var options = new MachineIdOptions
        {
            ProxyServer = Emulator.ProxyAddress,
            TokenFile = TokenFile,
            StorageType = directoryStorage ? BotStorageType.Directory : BotStorageType.Memory,
            StoragePath = directoryStorage ? StoragePath : null,
        };
        options.ProxyCaCertificates.Add(Emulator.WebCaCertificate);
        return options;
    }

    public BotIdentityProvider CreateProvider(
        MachineIdOptions? options = null, ILoggerFactory? loggerFactory = null, int seed = 7, MachineId.Identity.Joining.JoinMethodRegistry? registry = null)
    {
        var random = new Random(seed);
        return BotIdentityProvider.CreateInternal(options ?? Options(), loggerFactory, Time, null, null, registry, () => random.NextDouble());
    }

    public int GenerationMismatches => Emulator.AuditEvents.Count(e => e.Type == "cert.generation_mismatch");

    public async ValueTask DisposeAsync()
    {
        await Emulator.DisposeAsync();
        _directory.Dispose();
    }
}
