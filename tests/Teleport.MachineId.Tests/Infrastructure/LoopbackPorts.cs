using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>
/// Loopback ports for servers a test starts in another process (sshd, nginx) or for an address nothing
/// may answer on. A port taken from a port-0 listener and released is in the kernel's ephemeral range,
/// where any outgoing connection or port-0 listener of a parallel test (Kestrel, the emulator) can take
/// it before its user binds it. These come from just below that range instead, which the kernel never
/// hands out by itself, and never twice from this process.
/// </summary>
internal static class LoopbackPorts
{
    private static readonly object Gate = new();
    private static readonly HashSet<int> Given = [];
    private static readonly (int Low, int High) Range = ChooseRange();

    /// <summary>A port on 127.0.0.1 that was free a moment ago and that nothing else in this process is given.</summary>
    public static int Reserve()
    {
        if (Range.Low == 0)
        {
            return FromKernel();
        }

        lock (Gate)
        {
            for (var attempt = 0; attempt < 200; attempt++)
            {
                var port = Random.Shared.Next(Range.Low, Range.High);
                if (!Given.Contains(port) && IsFree(port))
                {
                    Given.Add(port);
                    return port;
                }
            }
        }

        return FromKernel();
    }

    /// <summary>Up to 10,000 ports just below the ephemeral range; none (0, 0) when that range starts too low to leave room.</summary>
    private static (int Low, int High) ChooseRange()
    {
        var ephemeralLow = 32768;
        try
        {
            if (OperatingSystem.IsLinux())
            {
                ephemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            // Keep the common default.
        }

        return ephemeralLow >= 12000 ? (Math.Max(10000, ephemeralLow - 10000), ephemeralLow) : (0, 0);
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FromKernel()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
