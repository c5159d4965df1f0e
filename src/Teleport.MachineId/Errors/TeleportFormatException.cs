namespace Teleport.MachineId;

/// <summary>
/// Input that should be a key, certificate, PEM block, identity file, SSH wire structure or
/// configuration document could not be parsed.
/// </summary>
/// <remarks>
/// Raised for truncated, garbage or structurally invalid input; parsers never let an
/// <see cref="IndexOutOfRangeException"/> or <see cref="NullReferenceException"/> escape.
/// The message says what was expected and where, never the secret content itself.
/// </remarks>
public class TeleportFormatException : TeleportException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What was malformed.</param>
    public TeleportFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    /// <param name="message">What was malformed.</param>
    /// <param name="innerException">The underlying cause.</param>
    public TeleportFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
