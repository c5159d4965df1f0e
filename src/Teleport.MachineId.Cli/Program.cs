using System.CommandLine;
using System.Runtime.InteropServices;
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
            : RunAsync(args, TimeProvider.System);
    }

    /// <summary>Parses and runs; parse errors print the problem and exit with <see cref="ExitCodes.Usage"/>.</summary>
    public static async Task<int> RunAsync(string[] args, TimeProvider timeProvider)
    {
        var root = CreateRootCommand(timeProvider);
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await Console.Error.WriteLineAsync("tbot-dotnet: " + error.Message).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("Run 'tbot-dotnet --help' for usage.").ConfigureAwait(false);
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

    /// <summary>
    /// SIGINT/SIGTERM (and SIGQUIT) cancel the command's token: daemons stop renewing and exit 0,
    /// one-shot runs stop where they are (exit code 130).
    /// </summary>
    private sealed class StopSignals : IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();
        private readonly PosixSignalRegistration[] _registrations;

        public StopSignals()
        {
            _registrations =
            [
                PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop),
                PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Stop),
            ];
        }

        public CancellationToken Token => _stopping.Token;

        public void Dispose()
        {
            foreach (var registration in _registrations)
            {
                registration.Dispose();
            }

            _stopping.Dispose();
        }

        private void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            _stopping.Cancel();
        }
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
            EmulatorCommand.Create(),
            DemoCommand.Create(timeProvider),
        };
        return root;
    }
}
