namespace Teleport.MachineId;

/// <summary>
/// The cluster refused the request: the identity lacks permission, has expired, was locked, or
/// (for a bot) its renewal generation did not match. Retrying with the same identity will not help.
/// </summary>
public class TeleportAccessDeniedException : TeleportException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What was denied and what to do about it.</param>
    public TeleportAccessDeniedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    /// <param name="message">What was denied and what to do about it.</param>
    /// <param name="innerException">The underlying cause.</param>
    public TeleportAccessDeniedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The cluster does not have the requested resource (role, certificate authority, node, …).</summary>
public class TeleportNotFoundException : TeleportException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What was not found.</param>
    public TeleportNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    /// <param name="message">What was not found.</param>
    /// <param name="innerException">The underlying cause.</param>
    public TeleportNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The cluster could not be reached or did not answer in time (DNS, TCP, TLS handshake,
/// HTTP/2, service unavailable, deadline). Usually worth retrying.
/// </summary>
public class TeleportConnectionException : TeleportException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What could not be reached.</param>
    public TeleportConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    /// <param name="message">What could not be reached.</param>
    /// <param name="innerException">The underlying cause.</param>
    public TeleportConnectionException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override bool IsTransient => true;
}

/// <summary>
/// Joining the cluster failed: the token is unknown, expired or already used, the join method
/// is not allowed for it, or the server gave up on the join.
/// </summary>
public class TeleportJoinException : TeleportException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">Why the join failed and what to do about it.</param>
    public TeleportJoinException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    /// <param name="message">Why the join failed and what to do about it.</param>
    /// <param name="innerException">The underlying cause.</param>
    public TeleportJoinException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The server answered with something this client cannot use: an unexpected message, a missing
/// field, a malformed certificate, or a protocol version it does not speak.
/// </summary>
public class TeleportProtocolException : TeleportException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What was wrong with the reply.</param>
    public TeleportProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    /// <param name="message">What was wrong with the reply.</param>
    /// <param name="innerException">The underlying cause.</param>
    public TeleportProtocolException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
