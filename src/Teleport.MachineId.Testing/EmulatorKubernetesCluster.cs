using System.Globalization;
using Teleport.MachineId.Testing.Server;

namespace Teleport.MachineId.Testing;

/// <summary>
/// A stand-in for the Kubernetes cluster a bot's pod runs in: it signs projected service account
/// tokens (RS256, with the <c>kubernetes.io</c> claims) and publishes its keys as a JWKS for
/// <c>static_jwks</c> tokens. For <c>in_cluster</c> tokens the emulator's Auth answers the
/// TokenReview from this stand-in, as if Auth ran in that cluster.
/// </summary>
public sealed class EmulatorKubernetesCluster
{
    /// <summary>The issuer of the tokens (the API server's default).</summary>
    public const string IssuerUrl = "https://kubernetes.default.svc.cluster.local";

    /// <summary>The API server's default audience (accepted by a TokenReview besides the cluster name).</summary>
    public const string DefaultAudience = "https://kubernetes.default.svc.cluster.local";

    private readonly EmulatorRuntime _runtime;

    internal EmulatorKubernetesCluster(EmulatorRuntime runtime) => _runtime = runtime;

    /// <summary>The service-account signing keys as a JWKS document (<c>spec.kubernetes.static_jwks.jwks</c>).</summary>
    public string Jwks => _runtime.ServiceAccountMinter.Jwks;

    /// <summary>Mints a service account token as the kubelet projects it into a pod.</summary>
    /// <param name="serviceAccount"><c>&lt;namespace&gt;:&lt;name&gt;</c>.</param>
    /// <param name="options">Pod binding, audience, times, forged signature; defaults when null.</param>
    /// <returns>The compact JWT (the content of the token file).</returns>
    /// <exception cref="ArgumentException"><paramref name="serviceAccount"/> is not <c>namespace:name</c>.</exception>
    public string MintServiceAccountToken(string serviceAccount, EmulatorServiceAccountTokenOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(serviceAccount);
        var parts = serviceAccount.Split(':');
        if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            throw new ArgumentException("Expected <namespace>:<name>.", nameof(serviceAccount));
        }

        options ??= new EmulatorServiceAccountTokenOptions();
        var issuedAt = options.IssuedAt ?? _runtime.Clock.GetUtcNow();
        var kubernetes = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["namespace"] = parts[0],
            ["serviceaccount"] = new Dictionary<string, object> { ["name"] = parts[1], ["uid"] = Guid.NewGuid().ToString("D", CultureInfo.InvariantCulture) },
        };
        if (options.PodName is not null)
        {
            kubernetes["pod"] = new Dictionary<string, object> { ["name"] = options.PodName, ["uid"] = Guid.NewGuid().ToString("D", CultureInfo.InvariantCulture) };
        }

        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["sub"] = $"system:serviceaccount:{parts[0]}:{parts[1]}",
            ["kubernetes.io"] = kubernetes,
        };
        return _runtime.ServiceAccountMinter.Mint(
            IssuerUrl, options.Audience ?? _runtime.Settings.ClusterName, claims,
            issuedAt, issuedAt, options.Expires ?? issuedAt + options.Lifetime, options.SignWithUnpublishedKey);
    }
}
