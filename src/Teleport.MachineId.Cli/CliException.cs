namespace Teleport.MachineId.Cli;

/// <summary>
/// A failure whose one-line message is already written for the command line user (naming the flag,
/// tbot.yaml key or file to fix), with the exit code it maps to (<see cref="ExitCodes"/>).
/// </summary>
internal sealed class CliException : Exception
{
    public CliException(int exitCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    /// <summary>The process exit code.</summary>
    public int ExitCode { get; }

    /// <summary>A usage or configuration error (exit code 2).</summary>
    public static CliException Usage(string message, Exception? innerException = null) => new(ExitCodes.Usage, message, innerException);

    /// <summary>Refused by the cluster (exit code 3).</summary>
    public static CliException Refused(string message, Exception? innerException = null) => new(ExitCodes.AuthFailure, message, innerException);
}
