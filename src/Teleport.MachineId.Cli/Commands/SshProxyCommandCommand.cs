using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs.Ssh;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>
/// <c>ssh-proxy-command</c>: the ProxyCommand of the generated ssh_config, with tbot's flags. Pipes
/// ssh's stdin/stdout to the node through <c>TransportService.ProxySSH</c>, authenticated with the
/// destination's <c>tlscert</c> and <c>key</c> (one consistent set) and verified with its CA files.
/// </summary>
/// <remarks>
/// ssh starts this command for every connection, so its start-up is connection latency. The
/// command lines ssh_config holds are recognised by <see cref="SshProxyCommandLine.TryParse"/> and
/// run without building the System.CommandLine tree; anything else (help, a mistake, an unusual
/// spelling) goes through System.CommandLine, so messages and exit codes are the same on both paths.
/// </remarks>
internal static class SshProxyCommandCommand
{
    private static readonly Option<string> DestinationDir = new(SshProxyCommandLine.DestinationDir) { Description = "The identity output directory.", Required = true };
    private static readonly Option<string> ProxyServer = new(SshProxyCommandLine.ProxyServer) { Description = "The proxy's SSH transport address host:port.", Required = true };
    private static readonly Option<string?> Cluster = new(SshProxyCommandLine.Cluster) { Description = "The node's cluster (default: the credentials' cluster)." };
    private static readonly Option<string?> User = new(SshProxyCommandLine.User) { Description = "The login (%r); not needed to connect, accepted for tbot compatibility." };
    private static readonly Option<string> Host = new Option<string>(SshProxyCommandLine.Host) { Description = "The host (%h); .<proxy host> and .<cluster> suffixes are removed.", Required = true }.WithoutControlCharacters();
    private static readonly Option<int> Port = CommonOptions.Port(SshProxyCommandLine.Port, null, "The port (%p).", SshProxyCommandLine.DefaultPort);
    private static readonly Option<bool> Upgrade = new(SshProxyCommandLine.ConnectionUpgrade)
    {
        Description = "Reach the proxy through the ALPN connection upgrade (a proxy behind an L7 load balancer). Default: Teleport's test and TELEPORT_TLS_ROUTING_CONN_UPGRADE.",
    };

    private static readonly Option<bool> NoUpgrade = new(SshProxyCommandLine.NoConnectionUpgrade) { Description = "Never use the ALPN connection upgrade." };

    public static Command Create()
    {
        var command = new Command(SshProxyCommandLine.Command, "ProxyCommand for OpenSSH: connect stdin/stdout to a node through the Teleport Proxy.")
        {
            DestinationDir, ProxyServer, Cluster, User, Host, Port,
        };

        // tbot's transport flags: this client always dials --proxy-server with TLS and ALPN, without resumption.
        foreach (var flag in SshProxyCommandLine.IgnoredFlags)
        {
            command.Options.Add(new Option<bool>(flag) { Description = "Accepted for tbot compatibility; has no effect.", Hidden = true });
        }

        command.Options.Add(Upgrade);
        command.Options.Add(NoUpgrade);
        command.Validators.Add(result =>
        {
            if (result.GetValue(Upgrade) && result.GetValue(NoUpgrade))
            {
                result.AddError($"Give only one of {SshProxyCommandLine.ConnectionUpgrade} and {SshProxyCommandLine.NoConnectionUpgrade}.");
            }
        });
        command.SetAction((parseResult, cancellationToken) => RunAsync(
            new SshProxyCommandRequest(
                parseResult.GetValue(DestinationDir)!,
                parseResult.GetValue(ProxyServer)!,
                parseResult.GetValue(Cluster),
                parseResult.GetValue(Host)!,
                parseResult.GetValue(Port))
            {
                ConnectionUpgrade = SshProxyCommandLine.UpgradePolicy(parseResult.GetValue(Upgrade), parseResult.GetValue(NoUpgrade)) ?? AlpnUpgradePolicy.Detect,
            },
            parseResult.GetValue(CommonOptions.Debug),
            trace: null,
            cancellationToken));
        return command;
    }

    /// <summary>Runs the ProxyCommand on the process's standard streams; exceptions become exit codes with a one-line message.</summary>
    public static Task<int> RunAsync(SshProxyCommandRequest request, bool debug, StartupTrace? trace, CancellationToken cancellationToken) =>
        CommonOptions.RunAsync(debug, LogLevel.Warning, async loggerFactory =>
        {
            // This process exists for one connection, verified against the destination's cluster CAs
            // only: the OS trust store would cost 80-100 ms of start-up and is never consulted —
            // unless a load balancer's certificate has to be verified for the connection upgrade.
            if (request.ConnectionUpgrade == AlpnUpgradePolicy.Never)
            {
                ProcessTrustStore.ExcludeFromThisProcess();
            }
            var input = Console.OpenStandardInput();
            var output = Console.OpenStandardOutput();
            await using (input.ConfigureAwait(false))
            await using (output.ConfigureAwait(false))
            {
                await SshProxyCommandRunner.RunAsync(request, input, output, loggerFactory, cancellationToken, trace).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        });
}
