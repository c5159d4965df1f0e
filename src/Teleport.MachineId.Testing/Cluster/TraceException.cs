using System.Net;
using Grpc.Core;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>The error kinds of Teleport's <c>trace</c> package, which decide the gRPC code and HTTP status.</summary>
internal enum TraceKind
{
    BadParameter,
    NotFound,
    AlreadyExists,
    AccessDenied,
    CompareFailed,
    NotImplemented,
    ConnectionProblem,
    LimitExceeded,
    Unknown,
}

/// <summary>
/// A failed emulator operation with the Teleport error kind it maps to; services convert it to
/// a gRPC status (as <c>trail.ToGRPC</c>) or an HTTP status with a JSON body (as <c>trace.WriteError</c>).
/// </summary>
internal sealed class TraceException : Exception
{
    public TraceException()
        : this(TraceKind.Unknown, "unknown error")
    {
    }

    public TraceException(string message)
        : this(TraceKind.Unknown, message)
    {
    }

    public TraceException(string message, Exception innerException)
        : base(message, innerException)
    {
        Kind = TraceKind.Unknown;
    }

    public TraceException(TraceKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    public TraceKind Kind { get; }

    public static TraceException BadParameter(string message) => new(TraceKind.BadParameter, message);

    public static TraceException NotFound(string message) => new(TraceKind.NotFound, message);

    public static TraceException AlreadyExists(string message) => new(TraceKind.AlreadyExists, message);

    public static TraceException AccessDenied(string message) => new(TraceKind.AccessDenied, message);

    public static TraceException CompareFailed(string message) => new(TraceKind.CompareFailed, message);

    public static TraceException NotImplemented(string message) => new(TraceKind.NotImplemented, message);

    public static TraceException ConnectionProblem(string message) => new(TraceKind.ConnectionProblem, message);

    public static TraceException LimitExceeded(string message) => new(TraceKind.LimitExceeded, message);

    /// <summary>The gRPC code Teleport's <c>trail</c> package uses for the kind.</summary>
    public static StatusCode ToStatusCode(TraceKind kind) => kind switch
    {
        TraceKind.BadParameter => StatusCode.InvalidArgument,
        TraceKind.NotFound => StatusCode.NotFound,
        TraceKind.AlreadyExists => StatusCode.AlreadyExists,
        TraceKind.AccessDenied => StatusCode.PermissionDenied,
        TraceKind.CompareFailed => StatusCode.FailedPrecondition,
        TraceKind.NotImplemented => StatusCode.Unimplemented,
        TraceKind.ConnectionProblem => StatusCode.Unavailable,
        TraceKind.LimitExceeded => StatusCode.ResourceExhausted,
        _ => StatusCode.Unknown,
    };

    /// <summary>The HTTP status <c>trace.ErrorToCode</c> uses for the kind.</summary>
    public static HttpStatusCode ToHttpStatus(TraceKind kind) => kind switch
    {
        TraceKind.BadParameter => HttpStatusCode.BadRequest,
        TraceKind.NotFound => HttpStatusCode.NotFound,
        TraceKind.AlreadyExists => HttpStatusCode.Conflict,
        TraceKind.AccessDenied => HttpStatusCode.Forbidden,
        TraceKind.CompareFailed => HttpStatusCode.PreconditionFailed,
        TraceKind.NotImplemented => HttpStatusCode.NotImplemented,
        TraceKind.ConnectionProblem => HttpStatusCode.GatewayTimeout,
        TraceKind.LimitExceeded => HttpStatusCode.TooManyRequests,
        _ => HttpStatusCode.InternalServerError,
    };

    /// <summary>The HTTP status for a gRPC code (for injected faults on HTTP routes).</summary>
    public static HttpStatusCode ToHttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => HttpStatusCode.BadRequest,
        StatusCode.NotFound => HttpStatusCode.NotFound,
        StatusCode.AlreadyExists => HttpStatusCode.Conflict,
        StatusCode.PermissionDenied or StatusCode.Unauthenticated => HttpStatusCode.Forbidden,
        StatusCode.FailedPrecondition => HttpStatusCode.PreconditionFailed,
        StatusCode.Unimplemented => HttpStatusCode.NotImplemented,
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => HttpStatusCode.GatewayTimeout,
        StatusCode.ResourceExhausted => HttpStatusCode.TooManyRequests,
        _ => HttpStatusCode.InternalServerError,
    };

    public RpcException ToRpcException() => new(new Status(ToStatusCode(Kind), Message));
}
