using Grpc.Core;

namespace Teleport.MachineId.Wire.Streams;

/// <summary>
/// Surfaces the real reason of a streaming call that failed before or while a message was
/// written: grpc-dotnet reports such a write as cancelled or invalid, while the call's status (or
/// its response headers task) carries the <see cref="RpcException"/> with the cause.
/// </summary>
internal static class GrpcCallFailures
{
    /// <summary>Writes one message; if the call already failed, throws its <see cref="RpcException"/> instead of a bare cancellation.</summary>
    /// <param name="call">The call.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <param name="drainOnFailure">
    /// On failure, read the response stream to its end to learn the status (exact, but only allowed
    /// when nobody else reads the call: opening exchanges and the join). Otherwise only the response
    /// headers and a finished status are consulted.
    /// </param>
    /// <exception cref="RpcException">The call failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or the status could not be learned.</exception>
    public static async Task WriteAsync<TRequest, TResponse>(
        AsyncDuplexStreamingCall<TRequest, TResponse> call, TRequest message, CancellationToken cancellationToken, bool drainOnFailure = true)
        where TRequest : class
        where TResponse : class
    {
        try
        {
            await call.RequestStream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            await ThrowStatusAsync(call, drainOnFailure).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Throws the call's failure as an <see cref="RpcException"/> when it has one; returns otherwise.</summary>
    /// <exception cref="RpcException">The call failed.</exception>
    public static async Task ThrowStatusAsync<TRequest, TResponse>(AsyncDuplexStreamingCall<TRequest, TResponse> call, bool drain)
    {
        // A write fails like this only when the call is ending; the bound is a safety net.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            if (drain)
            {
                // A failed call throws its RpcException from here.
                while (await call.ResponseStream.MoveNext(bound.Token).ConfigureAwait(false))
                {
                }
            }
            else
            {
                await call.ResponseHeadersAsync.WaitAsync(bound.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Status below.
        }

        if (TryGetStatus(call) is { } status && status.StatusCode != StatusCode.OK)
        {
            throw new RpcException(status);
        }
    }

    /// <summary>The call's status if it has finished, else <see langword="null"/>.</summary>
    public static Status? TryGetStatus<TRequest, TResponse>(AsyncDuplexStreamingCall<TRequest, TResponse> call)
    {
        try
        {
            return call.GetStatus();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
