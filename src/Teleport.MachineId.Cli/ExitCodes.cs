using Renci.SshNet.Common;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Destinations;

namespace Teleport.MachineId.Cli;

/// <summary>
/// tbot-dotnet's exit codes. Scripts can tell a usage mistake (fix the command) from a refused
/// join or login (fix the token, roles or trust) from a transient failure (retry later).
/// </summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;

    /// <summary>An unexpected failure (a bug or an unclassified error; the message says what).</summary>
    public const int Failure = 1;

    /// <summary>Usage or configuration error: unknown flag, missing value, invalid tbot.yaml, unreadable file.</summary>
    public const int Usage = 2;

    /// <summary>
    /// Refused by the cluster: bad or used token, access denied, untrusted certificate, login refused,
    /// no such role or node — or the bot needs a new join token (expired identity, a renewal whose
    /// outcome is unknown, a refused renewal); the message says what to do.
    /// </summary>
    public const int AuthFailure = 3;

    /// <summary>Transient failure: the cluster or a node could not be reached or timed out; retrying may succeed.</summary>
    public const int Transient = 4;

    /// <summary>The destination or storage cannot be used: not writable, locked by another process, unsafe symlink.</summary>
    public const int Destination = 5;

    /// <summary><c>ssh</c>: the connection failed before the remote command ran (as OpenSSH).</summary>
    public const int SshConnectionFailed = 255;

    /// <summary>Interrupted (Ctrl+C / SIGTERM).</summary>
    public const int Interrupted = 130;

    /// <summary>Maps an exception to an exit code.</summary>
    public static int For(Exception exception) => exception switch
    {
        CliException cli => cli.ExitCode,
        OperationCanceledException => Interrupted,
        BotJoinRequiredException { Reason: BotJoinRequiredReason.NoIdentity } => Usage,
        BotJoinRequiredException => AuthFailure,
        TbotConfigurationException or ArgumentException or Microsoft.Extensions.Options.OptionsValidationException or FileNotFoundException => Usage,
        DestinationException => Destination,
        TeleportJoinException or TeleportAccessDeniedException or TeleportNotFoundException or CertificateValidationException or SshAuthenticationException => AuthFailure,
        TeleportException { IsTransient: true } or TimeoutException or System.Net.Sockets.SocketException or SshConnectionException => Transient,
        TeleportFormatException => Usage,
        IOException { InnerException: TeleportException inner } => For(inner),
        _ => Failure,
    };
}
