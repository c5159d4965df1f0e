using Grpc.Core;
using Teleport.MachineId.Testing.Server;

namespace Teleport.MachineId.Testing;

/// <summary>Fault injection for reliability tests. Thread-safe; faults apply to calls that start after they are set.</summary>
public sealed class EmulatorFaults
{
    private readonly EmulatorRuntime _runtime;

    internal EmulatorFaults(EmulatorRuntime runtime) => _runtime = runtime;

    /// <summary>Whether the Auth service accepts connections.</summary>
    public bool IsAuthOnline => _runtime.Faults.AuthOnline;

    /// <summary>
    /// Delay added before every gRPC call and web request is handled (default zero). Uses real time,
    /// not the emulator's <see cref="TimeProvider"/>, so it works with a fake clock.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public TimeSpan Latency
    {
        get => _runtime.Faults.Latency;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            _runtime.Faults.Latency = value;
        }
    }

    /// <summary>
    /// How far the emulator's clock is ahead of (positive) or behind (negative) the configured
    /// <see cref="TeleportEmulatorOptions.TimeProvider"/>: certificate validity, token and lock expiry
    /// and client certificate checks all use the skewed clock. Default zero.
    /// </summary>
    public TimeSpan ClockSkew
    {
        get => _runtime.Clock.Skew;
        set
        {
            _runtime.Clock.Skew = value;
            _runtime.Verifier.Invalidate();
        }
    }

    /// <summary>
    /// Takes Auth offline: new connections to Auth (direct or through the proxy) are closed at once,
    /// existing Auth connections and streams are broken, and proxy calls that need Auth (joins,
    /// ProxyCluster) fail with Unavailable / HTTP 504. The proxy itself (find, ping, ProxySSH) keeps working.
    /// </summary>
    public void TakeAuthOffline() => _runtime.SetAuthOnline(false);

    /// <summary>Brings Auth back.</summary>
    public void BringAuthOnline() => _runtime.SetAuthOnline(true);

    /// <summary>Whether the proxy accepts connections.</summary>
    public bool IsProxyOnline => _runtime.Faults.ProxyOnline;

    /// <summary>
    /// Takes the proxy down as a crashed or stopped proxy process is: every open connection to its
    /// ports (web API, join gRPC, Auth passthrough, ProxySSH streams) is reset, and new connections
    /// are reset at once until <see cref="BringProxyOnline"/>. Auth itself keeps running.
    /// </summary>
    public void TakeProxyOffline() => _runtime.SetProxyOnline(false);

    /// <summary>Brings the proxy back: new connections are accepted again.</summary>
    public void BringProxyOnline() => _runtime.SetProxyOnline(true);

    /// <summary>A proxy restart: every open proxy connection is reset, then new ones are accepted again.</summary>
    public void RestartProxy()
    {
        _runtime.SetProxyOnline(false);
        _runtime.SetProxyOnline(true);
    }

    /// <summary>Makes the next <paramref name="count"/> matching calls fail with <paramref name="status"/> before they are handled.</summary>
    /// <param name="count">How many calls fail.</param>
    /// <param name="status">The gRPC status; web requests get the HTTP status Teleport maps it to (e.g. Unavailable ⇒ 504).</param>
    /// <param name="method">
    /// Which calls: a gRPC method as <c>/proto.AuthService/GenerateUserCerts</c> or just <c>GenerateUserCerts</c>,
    /// or a web path such as <c>/webapi/find</c> (also matches the <c>/v1</c> form); every call when null.
    /// </param>
    /// <param name="message">The error message; a default names the injected status.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive or <paramref name="status"/> is OK.</exception>
    public void FailNextCalls(int count, StatusCode status, string? method = null, string? message = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (status == StatusCode.OK)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "An injected failure needs a non-OK status.");
        }

        _runtime.Faults.AddFailures(count, status, method, message);
    }

    /// <summary>Clears every fault: pending failures, latency, clock skew; brings Auth and the proxy online.</summary>
    public void Reset()
    {
        _runtime.Faults.Reset();
        ClockSkew = TimeSpan.Zero;
        _runtime.SetAuthOnline(true);
        _runtime.SetProxyOnline(true);
    }
}
