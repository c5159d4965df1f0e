using System.CommandLine;
using Teleport.MachineId.Cli;
using Teleport.MachineId.Cli.Commands;

namespace Teleport.MachineId.Testing.Tool;

/// <summary>
/// tbot-dotnet-emulator: the Teleport cluster emulator and the quick-start demo, kept out of
/// <c>tbot-dotnet</c> so that the production tool (the ssh ProxyCommand) carries no ASP.NET Core.
/// Exit codes are tbot-dotnet's (<see cref="ExitCodes"/>).
/// </summary>
internal static class EmulatorTool
{
    public const string CommandName = "tbot-dotnet-emulator";

    public static Task<int> Main(string[] args) => TbotDotnet.InvokeAsync(CreateRootCommand(TimeProvider.System), args, CommandName);

    public static RootCommand CreateRootCommand(TimeProvider timeProvider) => new(
        "tbot-dotnet-emulator: an in-process Teleport cluster emulator (Auth + Proxy on local ports) for trying and testing " +
        "Teleport Machine ID clients without a cluster, and the tbot-dotnet quick start.")
    {
        CommonOptions.Debug,
        EmulatorCommand.Create(),
        DemoCommand.Create(timeProvider),
    };
}
