using System.CommandLine;
using System.Text;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>
/// <c>ssh-multiplexer-proxy-command &lt;socket&gt; &lt;target&gt;</c>: the ProxyCommand of the multiplexer's
/// ssh_config (with <c>ProxyUseFDPass yes</c>). It connects to the multiplexer socket, sends the target
/// and a NUL with its stderr attached (so dial errors reach the user), hands the connected socket to ssh
/// over stdout (one <c>0x00</c> byte with <c>SCM_RIGHTS</c>) and exits — as tbot's helper and
/// <c>fdpass-teleport</c> do. It touches nothing else (no configuration, no logging, no TLS), because
/// ssh starts it for every connection.
/// </summary>
internal static class SshMultiplexerProxyCommand
{
    public const string Name = "ssh-multiplexer-proxy-command";

    private const int StdoutFd = 1;
    private const int StderrFd = 2;

    /// <summary>The fast path's test: exactly <c>ssh-multiplexer-proxy-command &lt;socket&gt; &lt;target&gt;</c>.</summary>
    public static bool Matches(string[] args) =>
        args.Length == 3 && args[0] == Name && args[1].Length > 0 && args[1][0] != '-' && args[2].Length > 0 && args[2][0] != '-';

    public static Command Create()
    {
        var socket = new Argument<string>("socket") { Description = "The multiplexer socket (<dir>/v1.sock)." };
        var target = new Argument<string>("target") { Description = "What to connect to: host:port[|cluster] (ssh_config passes '%h:%p|<cluster>')." };
        var command = new Command(Name,
            "The ProxyCommand of the ssh-multiplexer's ssh_config: connect to the multiplexer, send the target, and pass the connection to ssh (ProxyUseFDPass).")
        {
            socket,
            target,
        };
        command.SetAction(parseResult => Run(parseResult.GetValue(socket)!, parseResult.GetValue(target)!));
        return command;
    }

    /// <summary>Runs the helper; errors go to stderr.</summary>
    /// <returns><see cref="ExitCodes.Success"/>, <see cref="ExitCodes.Usage"/> when stdout is not a Unix socket, <see cref="ExitCodes.Transient"/> when the multiplexer cannot be reached.</returns>
    public static int Run(string socketPath, string target)
    {
        if (!UnixSocketRights.IsSupported)
        {
            return Fail(ExitCodes.Usage, "descriptor passing is implemented for 64-bit Linux only");
        }

        if (target.Contains('\0', StringComparison.Ordinal))
        {
            return Fail(ExitCodes.Usage, "the target must not contain a NUL byte");
        }

        // ssh runs a ProxyCommand with ProxyUseFDPass with one end of a socketpair as stdout.
        if (!UnixSocketRights.IsUnixSocket(StdoutFd))
        {
            return Fail(ExitCodes.Usage, "stdout is not a Unix socket; run this as an ssh ProxyCommand with 'ProxyUseFDPass yes'");
        }

        int connection;
        try
        {
            UnixSocketRights.MakeBlocking(StdoutFd);
            connection = Connect(socketPath);
        }
        catch (IOException ex)
        {
            return Fail(ExitCodes.Transient, $"could not connect to the ssh-multiplexer at '{socketPath}': {ex.Message} Is it running?");
        }

        try
        {
            var request = Encoding.UTF8.GetBytes(target + "\0");
            var sent = UnixSocketRights.SendWithDescriptor(connection, request, StderrFd);
            while (sent < request.Length)
            {
                sent += UnixSocketRights.SendWithDescriptor(connection, request.AsSpan(sent), StderrFd);
            }

            UnixSocketRights.SendWithDescriptor(StdoutFd, [0], connection);
            return ExitCodes.Success;
        }
        catch (IOException ex)
        {
            return Fail(ExitCodes.Transient, ex.Message);
        }
        finally
        {
            _ = UnixSocketRights.Close(connection);
        }
    }

    /// <summary>
    /// Connects by file name from inside the socket's directory (Unix socket paths are limited to 107
    /// bytes; only the last component then counts), else by the full path.
    /// </summary>
    private static int Connect(string socketPath)
    {
        var directory = Path.GetDirectoryName(socketPath);
        var name = Path.GetFileName(socketPath);
        if (!string.IsNullOrEmpty(directory) && !string.IsNullOrEmpty(name))
        {
            try
            {
                Environment.CurrentDirectory = directory;
                return UnixSocketRights.Connect(name);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A clearer error comes from connecting by the full path.
            }
        }

        return UnixSocketRights.Connect(socketPath);
    }

    private static int Fail(int exitCode, string message)
    {
        var stderr = Console.Error;
        stderr.Write("tbot-dotnet ssh-multiplexer-proxy-command: ");
        stderr.WriteLine(message);
        return exitCode;
    }
}
