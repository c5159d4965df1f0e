using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Teleport.MachineId.Hosting;

/// <summary>
/// Reports the bot identity's health: <see cref="HealthStatus.Healthy"/> while a valid identity is
/// served and renewals succeed; <see cref="HealthStatus.Degraded"/> while starting, or while a still
/// valid identity is served after failed renewals; the registration's failure status
/// (<see cref="HealthStatus.Unhealthy"/> by default) when the identity expired or a fresh join is needed.
/// </summary>
/// <remarks>
/// Register it with <c>services.AddHealthChecks().AddCheck&lt;BotIdentityHealthCheck&gt;("teleport-machine-id")</c>.
/// The result's data has <c>generation</c>, <c>expires</c>, <c>consecutive_failures</c> and
/// <c>next_attempt</c>; the description says what to do, never a secret.
/// </remarks>
public sealed class BotIdentityHealthCheck : IHealthCheck
{
    private readonly IBotIdentityProvider _provider;

    /// <summary>Creates the check.</summary>
    /// <param name="provider">The provider to report on.</param>
    public BotIdentityHealthCheck(IBotIdentityProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        _provider = provider;
    }

    /// <summary>Reports the provider's status.</summary>
    /// <param name="context">The registration (for its failure status).</param>
    /// <param name="cancellationToken">Unused; the check does not block.</param>
    /// <returns>The health.</returns>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = _provider.Status;
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["health"] = status.Health.ToString(),
            ["consecutive_failures"] = status.ConsecutiveFailures,
        };
        if (status.Identity is { } identity)
        {
            data["generation"] = identity.Generation;
            data["expires"] = identity.NotAfter.ToString("O", CultureInfo.InvariantCulture);
        }

        if (status.NextAttempt is { } next)
        {
            data["next_attempt"] = next.ToString("O", CultureInfo.InvariantCulture);
        }

        var result = status.Health switch
        {
            BotIdentityHealth.Healthy => HealthCheckResult.Healthy(status.Description, data),
            BotIdentityHealth.Degraded or BotIdentityHealth.Initializing => HealthCheckResult.Degraded(status.Description, status.LastError, data),
            _ => new HealthCheckResult(context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy, status.Description, status.LastError, data),
        };
        return Task.FromResult(result);
    }
}
