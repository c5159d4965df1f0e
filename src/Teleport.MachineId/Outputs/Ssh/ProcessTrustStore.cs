using System.Runtime.InteropServices;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>
/// Keeps the operating system's trust store out of a ProxyCommand process. On Linux SslStream builds
/// the client certificate's chain at the start of every mutual-TLS handshake, whatever trust the
/// connection uses, and the first chain in a process reads and parses every file of the store
/// (/etc/ssl/certs and the bundle: 80–100 ms, two thirds of a Native AOT ProxyCommand's start-up).
/// The ProxyCommand verifies the proxy only against the cluster CAs in the destination, so the store
/// is never needed there: pointing OpenSSL's <c>SSL_CERT_FILE</c>/<c>SSL_CERT_DIR</c> at nothing for
/// this process makes that chain build cheap. The client chain it builds only collects
/// intermediates to send; Teleport's certificates are issued directly by the cluster CA.
/// </summary>
internal static partial class ProcessTrustStore
{
    private const string Nothing = "/dev/null";

    /// <summary>
    /// Makes this process see an empty OS trust store. Call before any certificate chain is built;
    /// only from a process whose every TLS peer is verified against explicit CA certificates.
    /// </summary>
    /// <returns>Whether the store is now excluded (Linux only; elsewhere the platform store is left alone).</returns>
    public static bool ExcludeFromThisProcess()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        // The native environment, not Environment.SetEnvironmentVariable: .NET's OpenSSL shim reads
        // these with getenv(3) when it first opens the root store.
        return SetEnvironmentVariable("SSL_CERT_FILE", Nothing, 1) == 0
            && SetEnvironmentVariable("SSL_CERT_DIR", Nothing, 1) == 0;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnvironmentVariable(string name, string value, int overwrite);
}
