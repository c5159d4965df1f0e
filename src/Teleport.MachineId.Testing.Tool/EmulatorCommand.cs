using System.CommandLine;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Cli;
using Teleport.MachineId.Cli.Commands;

namespace Teleport.MachineId.Testing.Tool;

/// <summary>
/// <c>run</c>: runs the Teleport cluster emulator (<see cref="EmulatorHost"/>) from an
/// <c>emulator.yaml</c> until interrupted, writing the client files (proxy address, web CA, user CA
/// for sshd, known_hosts, node host certificates, join tokens) to the output directory.
/// </summary>
internal static class EmulatorCommand
{
    private static readonly Option<string?> Config = new("--config", "-c") { Description = "Emulator configuration (examples/emulator.yaml); defaults when omitted." };
    private static readonly Option<string> Output = new("--output", "-o") { Description = "Directory for cluster.json, proxy-address, web-ca.pem, user-ca.pub, known_hosts, tokens/.", DefaultValueFactory = _ => "teleport-emulator" };

    public static Command Create()
    {
        var command = new Command("run", "Run the Teleport cluster emulator (Auth + Proxy on local ports) until Ctrl+C.") { Config, Output };
        command.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Information, async loggerFactory =>
        {
            var path = parseResult.GetValue(Config);
            var configuration = path is null ? new EmulatorConfiguration() : await EmulatorConfiguration.LoadAsync(path, cancellationToken).ConfigureAwait(false);
            var output = Path.GetFullPath(parseResult.GetValue(Output)!);
            await EmulatorHost.RunAsync(configuration, output, cancellationToken, loggerFactory).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }
}
