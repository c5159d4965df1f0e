namespace Teleport.MachineId;

/// <summary>
/// Base type of every error Teleport.MachineId raises for a failed operation (as opposed to
/// argument misuse, which raises the usual <see cref="ArgumentException"/> family).
/// </summary>
/// <remarks>
/// Messages never contain join tokens, private keys or certificate bytes; they name the
/// operation, the peer and what to do next. Catch a subtype to branch on the cause, or use
/// <see cref="IsTransient"/> to decide whether a retry can help.
/// </remarks>
public class TeleportException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed and what to do about it.</param>
    public TeleportException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    /// <param name="message">What failed and what to do about it.</param>
    /// <param name="innerException">The underlying cause.</param>
    public TeleportException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// <see langword="true"/> when the same call may succeed later without any change by the
    /// caller (network failure, server unavailable, rate limited).
    /// </summary>
    public virtual bool IsTransient => false;
}
