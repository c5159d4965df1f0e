using System.CommandLine;
using Teleport.MachineId.Cli.Commands;
using Teleport.MachineId.Outputs.Ssh;

namespace Teleport.MachineId.Cli;

/// <summary>tbot-dotnet: Teleport Machine ID for SSH access, in .NET. Exit codes: see <see cref="ExitCodes"/>.</summary>
internal static class TbotDotnet
{
    // An explicit entry point (not top-level statements, whose public Program class would clash
    // with other executables that reference this one to get its apphost).
    public static Task<int> Main(string[] args)
    {
        // ssh runs the ProxyCommand for every connection: its usual command lines skip System.CommandLine.
        if (SshMultiplexerProxyCommand.Matches(args))
        {
            return Task.FromResult(SshMultiplexerProxyCommand.Run(args[1], args[2]));
        }

        var trace = StartupTrace.FromEnvironment(CommonOptions.Environment, Console.Error, TimeProvider.System);
        return SshProxyCommandLine.TryParse(args, out var request, out var debug)
            ? RunProxyCommandAsync(request, debug, trace)
            : RunTracedAsync(args, trace);
    }

    private static async Task<int> RunTracedAsync(string[] args, StartupTrace? trace)
    {
        using (SpanTimingTrace.Attach(trace))
        {
            var code = await RunAsync(args, TimeProvider.System).ConfigureAwait(false);
            trace?.Mark("exit " + code.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return code;
        }
    }

    /// <summary>Parses and runs; parse errors print the problem and exit with <see cref="ExitCodes.Usage"/>.</summary>
    public static Task<int> RunAsync(string[] args, TimeProvider timeProvider) =>
        InvokeAsync(CreateRootCommand(timeProvider), args, "tbot-dotnet");

    /// <summary>
    /// Parses <paramref name="args"/> for <paramref name="root"/> and runs the command (also for
    /// <c>tbot-dotnet-emulator</c>); parse errors print the problem and exit with <see cref="ExitCodes.Usage"/>.
    /// </summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args, string commandName)
    {
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await Console.Error.WriteLineAsync(commandName + ": " + error.Message).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync($"Run '{commandName} --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // SIGINT/SIGTERM (and SIGQUIT) cancel the command's token: one-shot runs stop where they are
        // (exit code 130), daemons stop cleanly (exit code 0).
        using var stopping = new StopSignals();
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        return await parseResult.InvokeAsync(configuration, stopping.Token).ConfigureAwait(false);
    }

    /// <summary>The ProxyCommand's fast path (same run, logging and exit codes as through System.CommandLine).</summary>
    public static async Task<int> RunProxyCommandAsync(SshProxyCommandRequest request, bool debug, StartupTrace? trace)
    {
        using var stopping = new StopSignals();
        return await SshProxyCommandCommand.RunAsync(request, debug, trace, stopping.Token).ConfigureAwait(false);
    }

    public static RootCommand CreateRootCommand(TimeProvider timeProvider)
    {
        var root = new RootCommand(
            "tbot-dotnet: Teleport Machine ID for SSH access — join a cluster as a bot, keep identity outputs written, " +
            "and reach nodes with OpenSSH, Ansible and SSH.NET through the Teleport Proxy.\n" +
            "Exit codes: 0 ok, 1 unexpected failure, 2 usage or configuration error, 3 join/authentication refused, " +
            "4 transient (cluster unreachable; retry), 5 destination or storage unusable, 130 interrupted; " +
            "'ssh' returns the remote exit status, or 255 when the connection failed.")
        {
            CommonOptions.Debug,
            StartCommand.Create(timeProvider),
            SshProxyCommandCommand.Create(),
            SshMultiplexerProxyCommand.Create(),
            SshCommand.Create(timeProvider),
        };
        foreach (var moved in MovedCommands.Create())
        {
            root.Subcommands.Add(moved);
        }

        return root;
    }
}
