using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>An emulated cluster with two roles and a bot holding both, the library's bot provider joined to it, and a signer.</summary>
internal sealed class OutputCluster : IAsyncDisposable
{
    public const string BotName = "robot";
    public const string AccessRole = "access";
    public const string OpsRole = "ops";

    private OutputCluster(TeleportEmulator emulator, BotIdentityProvider bot, MachineIdOptions options)
    {
        Emulator = emulator;
        Bot = bot;
        BotOptions = options;
        Signer = new TeleportSshCertificateSigner(bot, options);
    }

    public TeleportEmulator Emulator { get; }

    public BotIdentityProvider Bot { get; }

    public MachineIdOptions BotOptions { get; }

    public TeleportSshCertificateSigner Signer { get; }

    public static async Task<OutputCluster> StartAsync(TeleportEmulatorOptions? options = null, TimeSpan? roleMaxTtl = null)
    {
        var emulator = await TeleportEmulator.StartAsync(options ?? new TeleportEmulatorOptions());
        emulator.UpsertRole(new EmulatorRole { Name = AccessRole, Logins = ["root", "ubuntu"], NodeLabels = EmulatorRole.AllNodes, MaxSessionTtl = roleMaxTtl });
        emulator.UpsertRole(new EmulatorRole { Name = OpsRole, Logins = ["ops"], NodeLabels = EmulatorRole.AllNodes });
        emulator.AddBot(new EmulatorBot { Name = BotName, Roles = [AccessRole, OpsRole] });
        var botOptions = NodeEnvironment.BotOptionsFor(emulator, emulator.CreateJoinToken(BotName).Name);
        var bot = BotIdentityProvider.Create(botOptions);
        await bot.StartAsync();
        await bot.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new OutputCluster(emulator, bot, botOptions);
    }

    public async ValueTask DisposeAsync()
    {
        await Signer.DisposeAsync();
        await Bot.DisposeAsync();
        await Emulator.DisposeAsync();
    }
}
