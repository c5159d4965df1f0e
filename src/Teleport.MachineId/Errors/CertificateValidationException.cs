namespace Teleport.MachineId;

/// <summary>Why a well-formed certificate was not accepted.</summary>
public enum CertificateValidationFailure
{
    /// <summary>The signature does not verify with the signing key the certificate names.</summary>
    InvalidSignature,

    /// <summary>The certificate is signed by a key that is not among the trusted authorities or pins.</summary>
    UntrustedAuthority,

    /// <summary>The certificate's validity period has ended.</summary>
    Expired,

    /// <summary>The certificate's validity period has not started yet (check the clock).</summary>
    NotYetValid,

    /// <summary>The certificate is of the wrong kind (for example a host certificate where a user certificate is required).</summary>
    WrongType,

    /// <summary>The certificate does not list the required principal or name.</summary>
    PrincipalNotAllowed,
}

/// <summary>A certificate was parsed successfully but failed verification.</summary>
public class CertificateValidationException : TeleportException
{
    /// <summary>Creates an exception for a verification failure.</summary>
    /// <param name="failure">The reason the certificate was refused.</param>
    /// <param name="message">What was checked and what to do about it.</param>
    public CertificateValidationException(CertificateValidationFailure failure, string message)
        : base(message)
    {
        Failure = failure;
    }

    /// <summary>Creates an exception for a verification failure with an underlying cause.</summary>
    /// <param name="failure">The reason the certificate was refused.</param>
    /// <param name="message">What was checked and what to do about it.</param>
    /// <param name="innerException">The underlying cause.</param>
    public CertificateValidationException(CertificateValidationFailure failure, string message, Exception? innerException)
        : base(message, innerException)
    {
        Failure = failure;
    }

    /// <summary>The reason the certificate was refused.</summary>
    public CertificateValidationFailure Failure { get; }
}
