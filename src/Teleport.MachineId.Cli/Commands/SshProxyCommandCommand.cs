using System.CommandLine;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs.Ssh;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>
/// <c>ssh-proxy-command</c>: the ProxyCommand of the generated ssh_config, with tbot's flags. Pipes
/// ssh's stdin/stdout to the node through <c>TransportService.ProxySSH</c>, authenticated with the
/// destination's <c>tlscert</c> and <c>key</c> (one consistent set) and verified with its CA files.
/// </summary>
internal static class SshProxyCommandCommand
{
    private static readonly Option<string> DestinationDir = new("--destination-dir") { Description = "The identity output directory.", Required = true };
    private static readonly Option<string> ProxyServer = new("--proxy-server") { Description = "The proxy's SSH transport address host:port.", Required = true };
    private static readonly Option<string?> Cluster = new("--cluster") { Description = "The node's cluster (default: the credentials' cluster)." };
    private static readonly Option<string?> User = new("--user") { Description = "The login (%r); not needed to connect, accepted for tbot compatibility." };
    private static readonly Option<string> Host = new("--host") { Description = "The host (%h); .<proxy host> and .<cluster> suffixes are removed.", Required = true };
    private static readonly Option<int> Port = new("--port") { Description = "The port (%p).", DefaultValueFactory = _ => 3022 };

    public static Command Create()
    {
        var command = new Command("ssh-proxy-command", "ProxyCommand for OpenSSH: connect stdin/stdout to a node through the Teleport Proxy.")
        {
            DestinationDir, ProxyServer, Cluster, User, Host, Port,
            Ignored("--tls-routing"), Ignored("--no-tls-routing"), Ignored("--connection-upgrade"), Ignored("--no-connection-upgrade"),
            Ignored("--resume"), Ignored("--no-resume"),
        };
        command.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Warning, async loggerFactory =>
        {
            var request = new SshProxyCommandRequest(
                parseResult.GetValue(DestinationDir)!,
                parseResult.GetValue(ProxyServer)!,
                parseResult.GetValue(Cluster),
                parseResult.GetValue(Host)!,
                parseResult.GetValue(Port));
            await RunAsync(request, loggerFactory, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>Runs the ProxyCommand on the process's standard streams.</summary>
    public static async Task RunAsync(SshProxyCommandRequest request, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var input = Console.OpenStandardInput();
        var output = Console.OpenStandardOutput();
        await using (input.ConfigureAwait(false))
        await using (output.ConfigureAwait(false))
        {
            await SshProxyCommandRunner.RunAsync(request, input, output, loggerFactory, cancellationToken).ConfigureAwait(false);
        }
    }

    // tbot's transport flags: this client always dials --proxy-server with TLS and ALPN, without resumption.
    private static Option<bool> Ignored(string name) => new(name) { Description = "Accepted for tbot compatibility; has no effect.", Hidden = true };
}
