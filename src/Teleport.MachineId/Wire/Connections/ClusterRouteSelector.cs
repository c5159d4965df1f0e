using System.Text;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>
/// The one place where every operation of the wire client (joins of any method, Auth calls,
/// discovery, node connections) chooses how to reach the cluster through the configured address:
/// the routes of <see cref="ClusterAddressPlan"/> in order, the one that last worked first.
/// </summary>
/// <remarks>
/// <para>A route is left for the next one only when it failed before the request was sent
/// (<see cref="WireErrors.WasNotSent"/>: connection, TLS, trust bootstrap, discovery), so a join or
/// a renewal is never sent twice; an answer from the cluster (a refused token, access denied) ends
/// the operation at once. When every route fails, one exception names every attempt; its type is
/// that of the first attempt's failure (the address's most likely meaning), so callers and exit
/// codes classify it as they would that failure.</para>
/// <para>Teleport also falls back to an unverified Auth connection when an <c>auth_server</c> has
/// neither CA pins nor <c>ca_path</c>; this client does not: that attempt fails with an actionable
/// <see cref="CertificateValidationException"/> and the proxy route (verified with the OS trust
/// store or the configured CA bundle) is tried instead.</para>
/// </remarks>
internal sealed class ClusterRouteSelector : IDisposable
{
    private readonly IReadOnlyList<IClusterRoute> _routes;
    private readonly ILogger _logger;
    private int _preferred;

    /// <summary>Creates the routes for the configured address; nothing connects yet.</summary>
    public ClusterRouteSelector(WireClientOptions options, IdentityProfiles identities, ILogger logger)
    {
        _logger = logger;
        _routes = [.. ClusterAddressPlan.For(options).Select(candidate => candidate.Role == ClusterAddressRole.Proxy
            ? (IClusterRoute)new ProxyClusterRoute(candidate.Address, identities, options, logger)
            : new DirectAuthClusterRoute(candidate.Address, identities, options, logger))];
    }

    /// <summary>The route that worked last (or the first of the plan).</summary>
    public IClusterRoute Preferred => _routes[Volatile.Read(ref _preferred)];

    /// <summary>Runs <paramref name="action"/> on the routes in order until one does not fail before sending.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="operation">What is done, for logs and messages (e.g. <c>Join</c>).</param>
    /// <param name="action">The operation on one route.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The result of the first route that succeeded.</returns>
    /// <exception cref="TeleportException">Every route failed (one message names each attempt), or a route's answer was a refusal.</exception>
    public async Task<T> RunAsync<T>(string operation, Func<IClusterRoute, CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        var preferred = Volatile.Read(ref _preferred);
        if (_routes.Count == 1)
        {
            return await action(_routes[0], cancellationToken).ConfigureAwait(false);
        }

        List<(IClusterRoute Route, Exception Error)>? failures = null;
        foreach (var index in Order(preferred))
        {
            var route = _routes[index];
            WireLog.RouteAttempt(_logger, operation, route.Candidate.Address, route.Candidate.Description);
            try
            {
                var result = await action(route, cancellationToken).ConfigureAwait(false);
                if (index != preferred)
                {
                    Volatile.Write(ref _preferred, index);
                    WireLog.RouteSelected(_logger, route.Candidate.Address, route.Candidate.Description);
                }

                return result;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && WireErrors.WasNotSent(ex))
            {
                (failures ??= []).Add((route, ex));
                WireLog.RouteFailed(_logger, operation, route.Candidate.Address, route.Candidate.Description, ex.Message);
            }
        }

        throw AllFailed(operation, failures!);
    }

    /// <summary>Disposes every route.</summary>
    public void Dispose()
    {
        foreach (var route in _routes)
        {
            route.Dispose();
        }
    }

    private IEnumerable<int> Order(int preferred)
    {
        yield return preferred;
        for (var i = 0; i < _routes.Count; i++)
        {
            if (i != preferred)
            {
                yield return i;
            }
        }
    }

    private static TeleportException AllFailed(string operation, List<(IClusterRoute Route, Exception Error)> failures)
    {
        var address = failures[0].Route.Candidate.Address;
        var message = new StringBuilder()
            .Append(operation).Append(" failed: auth_server ").Append(address).Append(" was tried ")
            .AppendJoin(", then ", failures.Select(f => f.Route.Candidate.Description))
            .Append(" and neither worked.");
        foreach (var (route, failure) in failures)
        {
            message.Append(' ').Append(char.ToUpperInvariant(route.Candidate.Description[0])).Append(route.Candidate.Description.AsSpan(1))
                .Append(": ").Append(failure.Message.TrimEnd('.')).Append('.');
        }

        message.Append(" auth_server may name the Auth Service (verified with ca_pins or ca_path) or a proxy's web address " +
            "(verified with the system trust store or the configured CA bundle); prefer proxy_server for a proxy.");
        var inner = new AggregateException(failures.Select(f => f.Error));
        var first = WireErrors.FindTeleportException(failures[0].Error);
        var error = first is null ? new TeleportConnectionException(message.ToString(), inner) : WireErrors.WithMessage(first, message.ToString(), inner);
        return WireErrors.MarkNotSent(error);
    }
}
