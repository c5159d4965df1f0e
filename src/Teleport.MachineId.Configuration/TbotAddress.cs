using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Teleport.MachineId.Configuration;

/// <summary>
/// A <c>host:port</c> address from the tbot configuration (<c>proxy_server</c>, <c>auth_server</c>,
/// <c>diag_addr</c>).
/// </summary>
/// <remarks>
/// When the port is left out, <c>proxy_server</c> means port 443 — tbot hands the text to
/// Teleport's web client, which requests <c>https://&lt;proxy_server&gt;/webapi/find</c>, so a bare
/// host is the HTTPS default port — and <c>auth_server</c> means 3025, the Auth Service's default
/// listen port. <see cref="PortSpecified"/> tells the two cases apart. IPv6 hosts need brackets
/// (<c>[::1]:3080</c>).
/// </remarks>
public sealed record TbotAddress
{
    /// <summary>The port <c>proxy_server</c> uses when none is written: HTTPS, 443.</summary>
    public const int DefaultProxyPort = TeleportDefaults.ProxyPort;

    /// <summary>The port <c>auth_server</c> uses when none is written: the Auth Service's 3025.</summary>
    public const int DefaultAuthPort = TeleportDefaults.AuthPort;

    /// <summary>The host name or IP address, without brackets.</summary>
    public required string Host { get; init; }

    /// <summary>The port (1–65535), written or defaulted.</summary>
    public required int Port { get; init; }

    /// <summary><see langword="true"/> when the configuration wrote the port explicitly.</summary>
    public bool PortSpecified { get; init; }

    /// <summary>The address as <c>host:port</c>, with brackets around an IPv6 host.</summary>
    /// <returns>The address text.</returns>
    public override string ToString()
    {
        var host = Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host;
        return host + ":" + Port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Parses <c>host</c>, <c>host:port</c>, <c>[v6]</c> or <c>[v6]:port</c>.</summary>
    /// <param name="text">The text as written.</param>
    /// <param name="defaultPort">The port to use when none is written, or null when a port is required.</param>
    /// <param name="address">The address, when valid.</param>
    /// <param name="error">Why the text is not an address (quotes the text; addresses are not secret).</param>
    internal static bool TryParse(string text, int? defaultPort, out TbotAddress? address, out string error)
    {
        address = null;
        if (text.Contains("://", StringComparison.Ordinal))
        {
            error = $"'{text}' is not a host:port address; remove the URL scheme (for example 'teleport.example.com:443')";
            return false;
        }

        if (text.Any(c => char.IsWhiteSpace(c) || c is '/' or '?' or '#' or '@'))
        {
            error = $"'{text}' is not a host:port address; it must not contain spaces, '/', '?', '#' or '@'";
            return false;
        }

        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{text}' is not a host:port address; a '[' needs a matching ']'";
                return false;
            }

            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    error = $"'{text}' is not a host:port address; expected ':port' after ']'";
                    return false;
                }

                portText = rest[1..];
            }

            if (!IPAddress.TryParse(host, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"'{text}' is not a host:port address; only IPv6 addresses go in brackets";
                return false;
            }
        }
        else
        {
            var colons = text.Count(c => c == ':');
            if (colons > 1)
            {
                error = $"'{text}' is not a host:port address; put an IPv6 address in brackets, e.g. '[::1]:3080'";
                return false;
            }

            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? text : text[..colon];
            portText = colon < 0 ? null : text[(colon + 1)..];
        }

        if (host.Length == 0)
        {
            error = $"'{text}' is not a host:port address; the host is missing";
            return false;
        }

        int port;
        if (portText is null)
        {
            if (defaultPort is not { } fallback)
            {
                error = $"'{text}' needs a port, e.g. '127.0.0.1:3001'";
                return false;
            }

            port = fallback;
        }
        else if (portText.Length is 0 or > 5
            || !portText.All(char.IsAsciiDigit)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port)
            || port is < 1 or > 65535)
        {
            error = $"'{text}' is not a host:port address; the port must be a number from 1 to 65535";
            return false;
        }

        address = new TbotAddress { Host = host, Port = port, PortSpecified = portText is not null };
        error = string.Empty;
        return true;
    }
}
