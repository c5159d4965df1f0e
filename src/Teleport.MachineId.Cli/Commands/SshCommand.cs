using System.CommandLine;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs.Ssh;
using Teleport.MachineId.SshNet;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>
/// <c>ssh</c>: like <c>tsh -i identity --proxy … ssh user@host command</c> — runs a command on a node
/// through the Teleport Proxy with SSH.NET and exits with the remote command's exit status.
/// </summary>
internal static class SshCommand
{
    private static readonly Option<string?> Identity = new("--identity", "-i") { Description = "Identity file (tbot's <destination>/identity)." };
    private static readonly Option<string?> DestinationDir = new("--destination-dir") { Description = "Identity output directory (instead of -i)." };
    private static readonly Option<string> Proxy = new("--proxy") { Description = "The proxy's SSH transport address host:port (the web port with TLS routing).", Required = true };
    private static readonly Option<string?> Cluster = new("--cluster") { Description = "The node's cluster (default: the identity's)." };
    private static readonly Option<string?> Login = new("--login", "-l") { Description = "Remote login (alternative to user@host)." };
    private static readonly Option<int> Port = CommonOptions.Port("--port", "-p", "Node SSH port.", TeleportDefaults.NodeSshPort);
    private static readonly Argument<string> Destination = new("destination") { Description = "[user@]host" };
    private static readonly Argument<string[]> Remote = new("command") { Description = "The command to run (put it after -- when it has options).", Arity = ArgumentArity.ZeroOrMore };

    public static Command Create(TimeProvider timeProvider)
    {
        var command = new Command("ssh", "Run a command on a node through the Teleport Proxy (tsh -i … ssh), with SSH.NET.")
        {
            Identity, DestinationDir, Proxy, Cluster, Login, Port, Destination, Remote,
        };
        command.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Warning, async loggerFactory =>
        {
            var identity = parseResult.GetValue(Identity);
            var directory = parseResult.GetValue(DestinationDir);
            if ((identity is null) == (directory is null))
            {
                throw CliException.Usage("Give exactly one of -i <identity file> and --destination-dir <directory>.");
            }

            var target = parseResult.GetValue(Destination)!;
            var at = target.LastIndexOf('@');
            var user = at > 0 ? target[..at] : parseResult.GetValue(Login)
                ?? throw CliException.Usage("Give the login as user@host or with -l.");
            var host = at > 0 ? target[(at + 1)..] : target;
            var remote = string.Join(' ', parseResult.GetValue(Remote) ?? []);
            if (remote.Length == 0)
            {
                throw CliException.Usage("Give a command to run; interactive sessions are not supported (use ssh -F <destination>/ssh_config).");
            }

            var options = new TeleportNodeDialerOptions
            {
                Cluster = parseResult.GetValue(Cluster),
                LoggerFactory = loggerFactory,
                TimeProvider = timeProvider,
            };
            var proxy = parseResult.GetValue(Proxy)!;
            TeleportSshClientFactory factory;
            try
            {
                factory = identity is not null
                    ? await TeleportSshClientFactory.FromIdentityFileAsync(identity, proxy, options, cancellationToken).ConfigureAwait(false)
                    : await TeleportSshClientFactory.FromDirectoryAsync(directory!, proxy, options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TeleportFormatException or ArgumentException)
            {
                throw CliException.Usage($"{(identity is not null ? "-i" : "--destination-dir")}: {CliErrors.OneLine(ex.Message)}", ex);
            }

            using var _ = factory;
            Renci.SshNet.SshClient client;
            try
            {
                client = await factory.ConnectAsync(user, host, parseResult.GetValue(Port), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not (ArgumentException or CliException or OperationCanceledException))
            {
                CliLog.Failed(loggerFactory.CreateLogger("tbot-dotnet"), $"ssh {user}@{host}: {CommonOptions.Describe(ex)}", ex);
                return ExitCodes.SshConnectionFailed;
            }

            using (client)
            {
                return await RunRemoteAsync(client, remote, cancellationToken).ConfigureAwait(false);
            }
        }));
        return command;
    }

    /// <summary>Runs the command, streaming its output, and returns its exit status (255 when it died of a signal).</summary>
    internal static async Task<int> RunRemoteAsync(Renci.SshNet.SshClient client, string remote, CancellationToken cancellationToken)
    {
        using var command = client.CreateCommand(remote);
        var run = command.ExecuteAsync(cancellationToken);
        var stdout = Console.OpenStandardOutput();
        var stderr = Console.OpenStandardError();
        await using (stdout.ConfigureAwait(false))
        await using (stderr.ConfigureAwait(false))
        {
            var copyOut = command.OutputStream.CopyToAsync(stdout, cancellationToken);
            var copyErr = command.ExtendedOutputStream.CopyToAsync(stderr, cancellationToken);
            await run.ConfigureAwait(false);
            await Task.WhenAll(copyOut, copyErr).ConfigureAwait(false);
        }

        return command.ExitStatus ?? ExitCodes.SshConnectionFailed;
    }
}
