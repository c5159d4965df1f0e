using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Teleport.MachineId.Outputs.SshMultiplexer;

/// <summary>
/// What a client asks tbot's <c>ssh-multiplexer</c> for on <c>v1.sock</c>: <c>host:port</c>, optionally
/// followed by <c>|cluster</c> (OpenSSH never allows <c>|</c> in host names or ports), sent as UTF-8
/// and terminated by a NUL byte. Immutable.
/// </summary>
public sealed record SshMultiplexerTarget
{
    /// <summary>The longest request the multiplexer reads before the NUL (host, port and cluster).</summary>
    public const int MaxRequestLength = 4096;

    /// <summary>Creates a target.</summary>
    /// <param name="host">The node: a name, a <c>name.cluster</c> form, an address or a node UUID.</param>
    /// <param name="port">The port (ssh_config uses <c>%p</c>; Teleport nodes listen on 3022, 0 means "the node's").</param>
    /// <param name="cluster">The cluster; <see langword="null"/> for the multiplexer's own.</param>
    /// <exception cref="ArgumentException">The host is empty or contains a NUL or <c>|</c>; the cluster contains them.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The port is not 0–65535.</exception>
    public SshMultiplexerTarget(string host, int port, string? cluster = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        if (host.AsSpan().IndexOfAny('\0', '|') >= 0)
        {
            throw new ArgumentException("The host must not contain NUL or '|'.", nameof(host));
        }

        if (cluster is not null && (cluster.Length == 0 || cluster.AsSpan().IndexOfAny('\0', '|') >= 0))
        {
            throw new ArgumentException("The cluster must be non-empty and must not contain NUL or '|'.", nameof(cluster));
        }

        Host = host;
        Port = port;
        Cluster = cluster;
    }

    /// <summary>The node.</summary>
    public string Host { get; }

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>The cluster, or <see langword="null"/> for the multiplexer's own.</summary>
    public string? Cluster { get; }

    /// <summary>The request as sent on the socket, without the NUL: <c>host:port[|cluster]</c> (IPv6 hosts in brackets).</summary>
    /// <returns>The request text.</returns>
    public override string ToString()
    {
        var host = Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host;
        var text = host + ":" + Port.ToString(CultureInfo.InvariantCulture);
        return Cluster is null ? text : text + "|" + Cluster;
    }

    /// <summary>The request bytes, NUL included.</summary>
    /// <returns>UTF-8 text and a NUL.</returns>
    public byte[] ToRequestBytes() => Encoding.UTF8.GetBytes(ToString() + "\0");

    /// <summary>
    /// Parses a request (without its NUL) as tbot does: at most two <c>|</c>-separated fields; the first is
    /// <c>host:port</c> (Go's <c>SplitHostPort</c>: <c>[v6]:port</c> or a host without colons), the host not empty.
    /// Stricter than tbot in one way: the port must be a decimal number 0–65535.
    /// </summary>
    /// <param name="request">The request text.</param>
    /// <param name="target">The target when the result is <see langword="true"/>.</param>
    /// <param name="error">Why the request is malformed, when the result is <see langword="false"/> (quotes the request).</param>
    /// <returns>Whether the request is well formed.</returns>
    public static bool TryParse(string request, [NotNullWhen(true)] out SshMultiplexerTarget? target, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        target = null;
        var fields = request.Split('|');
        if (fields.Length > 2)
        {
            error = $"malformed request, expected at most 2 fields, got {fields.Length}: {Quote(request)}";
            return false;
        }

        if (!TrySplitHostPort(fields[0], out var host, out var portText, out var reason))
        {
            error = $"malformed request {Quote(request)}: {reason}";
            return false;
        }

        if (host.Length == 0)
        {
            error = $"malformed request {Quote(request)}: empty hostname";
            return false;
        }

        if (portText.Length is 0 or > 5 || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            error = $"malformed request {Quote(request)}: invalid port {Quote(portText)}";
            return false;
        }

        if (host.Contains('\0', StringComparison.Ordinal))
        {
            error = $"malformed request {Quote(request)}: the host contains a NUL byte";
            return false;
        }

        string? cluster = null;
        if (fields.Length == 2)
        {
            if (fields[1].Length == 0)
            {
                error = $"malformed request {Quote(request)}: empty cluster name";
                return false;
            }

            if (fields[1].Contains('\0', StringComparison.Ordinal))
            {
                // Found by fuzzing: the constructor refuses it, and TryParse must not throw.
                error = $"malformed request {Quote(request)}: the cluster name contains a NUL byte";
                return false;
            }

            cluster = fields[1];
        }

        target = new SshMultiplexerTarget(host, port, cluster);
        error = null;
        return true;
    }

    private static bool TrySplitHostPort(string text, out string host, out string port, [NotNullWhen(false)] out string? reason)
    {
        host = port = string.Empty;
        reason = null;
        if (text.StartsWith('['))
        {
            var end = text.IndexOf(']', StringComparison.Ordinal);
            if (end < 0)
            {
                reason = "missing ']' in address";
                return false;
            }

            if (end + 1 == text.Length)
            {
                reason = "missing port in address";
                return false;
            }

            if (text[end + 1] != ':')
            {
                reason = "unexpected text after ']' in address";
                return false;
            }

            host = text[1..end];
            port = text[(end + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                reason = "missing port in address";
                return false;
            }

            host = text[..colon];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                reason = "too many colons in address";
                return false;
            }

            port = text[(colon + 1)..];
        }

        if (host.AsSpan().IndexOfAny('[', ']') >= 0 || port.AsSpan().IndexOfAny('[', ']') >= 0)
        {
            reason = "unexpected '[' or ']' in address";
            return false;
        }

        return true;
    }

    // Go's %q, simplified: quotes and escapes what is not printable ASCII, so a hostile request cannot
    // forge lines in a log or on the client's terminal.
    private static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value.Length > 256 ? value[..256] + "…" : value)
        {
            switch (c)
            {
                case '"' or '\\':
                    sb.Append('\\').Append(c);
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                default:
                    if (c < 0x20 || c == 0x7f)
                    {
                        sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }
}
