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
    /// Takes Auth offline: new connections to Auth (direct or through the proxy) are closed at once,
    /// existing Auth connections and streams are broken, and proxy calls that need Auth (joins) fail
    /// with Unavailable / HTTP 504. The proxy itself (find, ping, ProxySSH) keeps working.
    /// </summary>
    public void TakeAuthOffline() => _runtime.SetAuthOnline(false);

    /// <summary>Brings Auth back.</summary>
    public void BringAuthOnline() => _runtime.SetAuthOnline(true);
}
