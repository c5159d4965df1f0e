using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>
/// Loads the operating system's trust store on a thread-pool thread. On Linux SslStream builds the
/// client certificate's chain at the start of every mutual-TLS handshake, whatever trust the
/// connection uses, and the first chain in a process reads and parses every file of the store
/// (/etc/ssl/certs: ~60-100 ms, the largest single cost of a ProxyCommand start). The store is
/// cached per process, so loading it while the credentials are read and the HTTP/2 channel is set
/// up takes it off the connection's critical path.
/// </summary>
internal static class TrustStoreWarmUp
{
    /// <summary>Starts loading; the task never faults. Await it before the handshake: .NET loads the store again when a chain is built while a first load is still running.</summary>
    public static Task Start() => OperatingSystem.IsLinux() ? Task.Run(Load) : Task.CompletedTask;

    private static void Load()
    {
        try
        {
            using var store = new X509Store(StoreName.Root, StoreLocation.LocalMachine);
            store.Open(OpenFlags.ReadOnly | OpenFlags.OpenExistingOnly);
            foreach (var certificate in store.Certificates)
            {
                certificate.Dispose();
            }
        }
        catch (CryptographicException)
        {
            // Only an optimisation: the handshake loads the store itself (and reports real problems).
        }
    }
}
