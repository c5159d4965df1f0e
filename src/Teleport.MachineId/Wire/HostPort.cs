using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Teleport.MachineId.Wire;

/// <summary>A network address as <c>host</c> and <c>port</c>; the host has no brackets.</summary>
/// <param name="Host">Host name or IP address (IPv6 without brackets).</param>
/// <param name="Port">TCP port, 1–65535.</param>
internal readonly record struct HostPort(string Host, int Port)
{
    /// <summary>The address as <c>host:port</c>, with brackets around an IPv6 host.</summary>
    /// <returns>The address text.</returns>
    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}" : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Whether the host is a loopback address or <c>localhost</c> (Teleport's <c>utils.IsLoopback</c> without DNS).</summary>
    public bool IsLoopback =>
        string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>The endpoint to connect a socket to.</summary>
    public EndPoint ToEndPoint() =>
        IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new DnsEndPoint(Host, Port, AddressFamily.Unspecified);

    /// <summary>
    /// Parses an address the way Teleport's web client does: an optional <c>tcp://</c>,
    /// <c>http://</c> or <c>https://</c> prefix, then <c>host</c>, <c>host:port</c>, <c>[v6]</c> or
    /// <c>[v6]:port</c>. <paramref name="defaultPort"/> fills a missing port and
    /// <paramref name="overridePort"/> replaces any port.
    /// </summary>
    /// <param name="text">The address text.</param>
    /// <param name="defaultPort">Port used when the text has none.</param>
    /// <param name="overridePort">Port that replaces the written one (Teleport's <c>WithOverridePort</c>).</param>
    /// <param name="address">The address when the result is <see langword="true"/>.</param>
    /// <returns><see langword="false"/> when the text is empty or not an address.</returns>
    public static bool TryParse(string? text, int? defaultPort, int? overridePort, out HostPort address)
    {
        address = default;
        var rest = (text ?? string.Empty).Trim().AsSpan();
        var scheme = rest.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            var name = rest[..scheme];
            if (!(name.Equals("tcp", StringComparison.OrdinalIgnoreCase) || name.Equals("http", StringComparison.OrdinalIgnoreCase)
                || name.Equals("https", StringComparison.OrdinalIgnoreCase)))
            {
                return false;
            }

            rest = rest[(scheme + 3)..];
            var slash = rest.IndexOf('/');
            if (slash >= 0)
            {
                rest = rest[..slash];
            }
        }

        if (rest.IsEmpty)
        {
            return false;
        }

        ReadOnlySpan<char> host;
        ReadOnlySpan<char> portText = default;
        if (rest[0] == '[')
        {
            var close = rest.IndexOf(']');
            if (close < 2)
            {
                return false;
            }

            host = rest[1..close];
            var after = rest[(close + 1)..];
            if (!after.IsEmpty)
            {
                if (after[0] != ':')
                {
                    return false;
                }

                portText = after[1..];
            }
        }
        else
        {
            var colon = rest.LastIndexOf(':');
            if (colon >= 0 && rest[..colon].Contains(':'))
            {
                // A bare IPv6 address without brackets: no port.
                host = rest;
            }
            else if (colon >= 0)
            {
                host = rest[..colon];
                portText = rest[(colon + 1)..];
            }
            else
            {
                host = rest;
            }
        }

        if (host.IsEmpty || host.ContainsAny(" \t/\\@"))
        {
            return false;
        }

        // A host with colons must be an IPv6 address (":::" is none); control characters never belong in a name.
        if ((host.Contains(':') && !(IPAddress.TryParse(host, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6))
            || host.ContainsAnyInRange('\0', '\x1f') || host.Contains('\x7f'))
        {
            return false;
        }

        int port;
        if (overridePort is int forced)
        {
            port = forced;
        }
        else if (!portText.IsEmpty)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port))
            {
                return false;
            }
        }
        else if (defaultPort is int fallback)
        {
            port = fallback;
        }
        else
        {
            return false;
        }

        if (port is < 1 or > 65535)
        {
            return false;
        }

        address = new HostPort(host.ToString(), port);
        return true;
    }

    /// <summary>Parses like <see cref="TryParse"/> and throws for bad input.</summary>
    /// <param name="text">The address text.</param>
    /// <param name="defaultPort">Port used when the text has none.</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentException">The text is not an address.</exception>
    public static HostPort Parse(string text, int? defaultPort = null) =>
        TryParse(text, defaultPort, null, out var address)
            ? address
            : throw new ArgumentException($"'{text}' is not a host:port address.", nameof(text));

    /// <summary>The port written in <paramref name="text"/>, if any (Teleport's <c>parsePort</c>).</summary>
    public static int? PortOf(string? text) => TryParse(text, null, null, out var address) ? address.Port : null;
}
