using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Teleport.MachineId.Outputs.Ssh;
using Teleport.MachineId.Wire.Connections;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>
/// The fast path of <c>ssh-proxy-command</c>: a plain parser for the flags ssh_config passes, with
/// no System.CommandLine (building its command tree and parsing costs start-up time on every ssh
/// connection). It only accepts what it fully understands; everything else is parsed by
/// System.CommandLine (<see cref="SshProxyCommandCommand"/>), which owns help and error messages.
/// </summary>
internal static class SshProxyCommandLine
{
    public const string Command = "ssh-proxy-command";
    public const string DestinationDir = "--destination-dir";
    public const string ProxyServer = "--proxy-server";
    public const string Cluster = "--cluster";
    public const string User = "--user";
    public const string Host = "--host";
    public const string Port = "--port";
    public const int DefaultPort = TeleportDefaults.NodeSshPort;

    public const string ConnectionUpgrade = "--connection-upgrade";
    public const string NoConnectionUpgrade = "--no-connection-upgrade";

    /// <summary>tbot's transport flags this client accepts without effect (no value): it dials <c>--proxy-server</c> with TLS and ALPN, without resumption.</summary>
    public static readonly IReadOnlyList<string> IgnoredFlags = ["--tls-routing", "--no-tls-routing", "--resume", "--no-resume"];

    /// <summary>tbot's <c>--[no-]connection-upgrade</c> (no value): go through the ALPN connection upgrade, or not.</summary>
    public static readonly IReadOnlyList<string> UpgradeFlags = [ConnectionUpgrade, NoConnectionUpgrade];

    /// <summary>The policy the two upgrade flags give; both is a usage error (null), neither is Teleport's detection.</summary>
    public static AlpnUpgradePolicy? UpgradePolicy(bool upgrade, bool noUpgrade) => (upgrade, noUpgrade) switch
    {
        (true, true) => null,
        (true, false) => AlpnUpgradePolicy.Always,
        (false, true) => AlpnUpgradePolicy.Never,
        _ => AlpnUpgradePolicy.Detect,
    };

    private static readonly string[] ValueFlags = [DestinationDir, ProxyServer, Cluster, User, Host, Port];

    /// <summary>
    /// Recognises the command lines this tool and tbot write into ssh_config: <c>ssh-proxy-command</c>
    /// followed by <c>--name=value</c> or <c>--name value</c> for the value flags, the ignored transport
    /// flags and <c>--debug</c>/<c>-d</c>, each at most once, with the required flags present.
    /// Anything else returns <see langword="false"/> and is left to System.CommandLine.
    /// </summary>
    public static bool TryParse(IReadOnlyList<string> args, [NotNullWhen(true)] out SshProxyCommandRequest? request, out bool debug)
    {
        ArgumentNullException.ThrowIfNull(args);
        request = null;
        debug = false;
        if (args.Count == 0 || args[0] != Command)
        {
            return false;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flagsSeen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Count; i++)
        {
            var argument = args[i];
            if (argument is "--debug" or "-d")
            {
                if (debug)
                {
                    return false;
                }

                debug = true;
                continue;
            }

            if (!argument.StartsWith("--", StringComparison.Ordinal))
            {
                return false;
            }

            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? argument : argument[..equals];
            if (IgnoredFlags.Contains(name) || UpgradeFlags.Contains(name))
            {
                // A value ("--resume=false", "--resume false") is System.CommandLine's business.
                if (equals >= 0 || !flagsSeen.Add(name) || (i + 1 < args.Count && bool.TryParse(args[i + 1], out _)))
                {
                    return false;
                }

                continue;
            }

            if (!ValueFlags.Contains(name) || values.ContainsKey(name))
            {
                return false;
            }

            string value;
            if (equals >= 0)
            {
                value = argument[(equals + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                return false;
            }

            if (value.Length == 0 || value[0] == '-' || CommonOptions.HasControlCharacters(value))
            {
                // System.CommandLine reports it.
                return false;
            }

            values[name] = value;
        }

        if (!values.TryGetValue(DestinationDir, out var destinationDir)
            || !values.TryGetValue(ProxyServer, out var proxyServer)
            || !values.TryGetValue(Host, out var host))
        {
            return false;
        }

        var port = DefaultPort;
        if (values.TryGetValue(Port, out var portText)
            && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            // System.CommandLine reports it, naming the flag.
            return false;
        }

        if (UpgradePolicy(flagsSeen.Contains(ConnectionUpgrade), flagsSeen.Contains(NoConnectionUpgrade)) is not { } upgrade)
        {
            return false;
        }

        request = new SshProxyCommandRequest(destinationDir, proxyServer, values.GetValueOrDefault(Cluster), host, port) { ConnectionUpgrade = upgrade };
        return true;
    }
}
