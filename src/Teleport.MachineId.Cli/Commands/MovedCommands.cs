using System.CommandLine;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>
/// <c>emulator</c> and <c>demo</c> moved to <c>tbot-dotnet-emulator</c> (package
/// Teleport.MachineId.Testing.Tool), so that tbot-dotnet carries no ASP.NET Core; these hidden
/// commands say where they went.
/// </summary>
internal static class MovedCommands
{
    public static IEnumerable<Command> Create() => [Moved("emulator", "run"), Moved("demo", "demo")];

    private static Command Moved(string name, string newName)
    {
        var command = new Command(name, $"Moved to 'tbot-dotnet-emulator {newName}'.") { Hidden = true, TreatUnmatchedTokensAsErrors = false };
        command.SetAction(async (_, cancellationToken) =>
        {
            await Console.Error.WriteLineAsync(
                $"tbot-dotnet: '{name}' moved to the emulator tool: run 'tbot-dotnet-emulator {newName}' " +
                $"(dotnet tool install -g Teleport.MachineId.Testing.Tool, or in the repository: dotnet run --project src/Teleport.MachineId.Testing.Tool -- {newName}).")
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            return ExitCodes.Usage;
        });
        return command;
    }
}
