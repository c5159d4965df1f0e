using System.Text;

namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// Quoting for ssh_config values, checked against OpenSSH's parser (argv_split, percent and
/// environment expansion) and /bin/sh, which runs ProxyCommand.
/// </summary>
internal static class SshConfigText
{
    /// <summary>
    /// tbot's ProxyCommand argument quoting: single quotes with <c>'</c> → <c>'"'"'</c> and
    /// <c>%</c> → <c>%%</c> (so OpenSSH's %-expansion leaves it alone). A backslash becomes
    /// <c>'"\\"'</c>: ssh_config's tokenizer treats <c>\'</c> as an escaped quote even inside single
    /// quotes, so a plain backslash could unbalance the line (tbot does not handle this).
    /// </summary>
    public static void AppendProxyCommandArgument(StringBuilder sb, string value)
    {
        sb.Append('\'');
        foreach (var c in value)
        {
            switch (c)
            {
                case '\'':
                    sb.Append("'\"'\"'");
                    break;
                case '%':
                    sb.Append("%%");
                    break;
                case '\\':
                    sb.Append("'\"\\\\\"'");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        sb.Append('\'');
    }

    /// <summary>
    /// A double-quoted path for IdentityFile, CertificateFile and UserKnownHostsFile, which OpenSSH
    /// unquotes (<c>\\</c>, <c>\"</c>) and then %-expands (<c>%%</c>). Identical to tbot's output
    /// for paths without <c>\</c>, <c>"</c> or <c>%</c>.
    /// </summary>
    public static void AppendQuotedPath(StringBuilder sb, string path)
    {
        sb.Append('"');
        foreach (var c in path)
        {
            switch (c)
            {
                case '\\' or '"':
                    sb.Append('\\').Append(c);
                    break;
                case '%':
                    sb.Append("%%");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }

    /// <summary>A Host pattern, double-quoted only when OpenSSH's tokenizer would otherwise misread it.</summary>
    public static void AppendHostPattern(StringBuilder sb, string pattern)
    {
        if (pattern.AsSpan().IndexOfAny("'\"\\#") < 0)
        {
            sb.Append(pattern);
            return;
        }

        sb.Append('"');
        foreach (var c in pattern)
        {
            if (c is '\\' or '"')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        sb.Append('"');
    }

    /// <summary>Throws unless <paramref name="value"/> fits on one ssh_config line.</summary>
    public static void EnsureSingleLine(string value, string paramName)
    {
        if (value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
        {
            throw new ArgumentException("The value must not contain line breaks or NUL characters.", paramName);
        }
    }

    /// <summary>A generator name for the header comments (both ssh_config renderers): non-empty, one line.</summary>
    /// <exception cref="ArgumentException">Empty or contains a line break.</exception>
    public static string CheckedGeneratorName(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, paramName);
        EnsureSingleLine(value, paramName);
        return value;
    }

    /// <summary>A node SSH port (both ssh_config renderers).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a TCP port.</exception>
    public static int CheckedTcpPort(int value, string paramName)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, paramName);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 65535, paramName);
        return value;
    }

    /// <summary>Throws unless <paramref name="clusterName"/> can be a host pattern, a known_hosts name and part of a file name.</summary>
    public static void EnsureValidClusterName(string clusterName, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName, paramName);
        foreach (var c in clusterName)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || c is ',' or '/' or '\\')
            {
                throw new ArgumentException(
                    $"The cluster name '{clusterName}' cannot be written to ssh_config/known_hosts: it contains whitespace, a control character, ',' , '/' or '\\'.",
                    paramName);
            }
        }

        if (clusterName is "." or "..")
        {
            throw new ArgumentException($"The cluster name '{clusterName}' is not a valid file name part.", paramName);
        }
    }

    /// <summary>Throws unless <paramref name="host"/> is a plain host name or address.</summary>
    public static void EnsureValidHost(string host, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(host, paramName);
        foreach (var c in host)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || c is ',' or '/' or '\\' or '\'' or '"' or '#' or '!' or '*' or '?')
            {
                throw new ArgumentException($"The proxy host '{host}' is not a host name or address.", paramName);
            }
        }
    }

    /// <summary>Throws unless <paramref name="directory"/> is an absolute path ssh can read back unchanged.</summary>
    public static void EnsureValidDirectory(string directory, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory, paramName);
        EnsureSingleLine(directory, paramName);
        if (!Path.IsPathFullyQualified(directory))
        {
            throw new ArgumentException($"The destination directory '{directory}' must be an absolute path (ssh resolves relative paths against ~/.ssh).", paramName);
        }

        if (directory.Contains("${", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The destination directory '{directory}' contains '${{', which OpenSSH would expand as an environment variable.", paramName);
        }
    }
}
