namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>
/// Starts an <see cref="NginxLoadBalancer"/> for a test: without nginx the test is ignored with a
/// reason carrying <see cref="SkipMarker"/>; under CI (<c>CI=true</c>) it fails instead, because
/// .ci/run installs nginx (and checks the marker).
/// </summary>
internal static class NginxFixture
{
    /// <summary>Marker that .ci/run looks for in the reasons of skipped tests.</summary>
    public const string SkipMarker = "[requires-nginx]";

    /// <summary>The path of nginx, or the test is ignored (failed under CI).</summary>
    public static string Nginx
    {
        get
        {
            var path = OpenSshTools.Find("nginx");
            if (path is not null)
            {
                return path;
            }

            var reason = $"{SkipMarker} 'nginx' is not installed; install it with: apt-get install -y nginx";
            if (OpenSshTools.IsCi)
            {
                Assert.Fail($"CI=true but {reason}");
            }

            Assert.Ignore(reason);
            return null!;
        }
    }

    /// <inheritdoc cref="NginxLoadBalancer.ReservePort"/>
    public static int ReservePort() => NginxLoadBalancer.ReservePort();

    /// <summary>Starts nginx in front of <paramref name="upstream"/>, or ignores the test without nginx.</summary>
    public static Task<NginxLoadBalancer> StartAsync(string upstream, System.Security.Cryptography.X509Certificates.X509Certificate2 upstreamCa, NginxLoadBalancerOptions? options = null) =>
        NginxLoadBalancer.StartAsync(Nginx, upstream, upstreamCa, options);
}
