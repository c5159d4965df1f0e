using System.Reflection;
using Teleport.MachineId.OpenSsh;

namespace Teleport.MachineId.Outputs.Internal;

/// <summary>Decides which program the generated ssh_config runs as its ProxyCommand.</summary>
internal static class ProxyCommandLocator
{
    /// <summary>The CLI's assembly and command name.</summary>
    public const string ToolName = "tbot-dotnet";

    /// <summary>
    /// The configured program, else this process when it is <c>tbot-dotnet</c> (its apphost, or
    /// <c>dotnet tbot-dotnet.dll</c>), else <c>tbot-dotnet</c> on <c>PATH</c>.
    /// </summary>
    public static (string Executable, IReadOnlyList<string> Prefix) Resolve(string? configuredPath, IReadOnlyList<string> configuredArguments)
    {
        if (configuredPath is not null)
        {
            return (configuredPath, configuredArguments);
        }

        var entry = Assembly.GetEntryAssembly();
        var process = Environment.ProcessPath;
        if (entry is not null && string.Equals(entry.GetName().Name, ToolName, StringComparison.Ordinal) && process is not null)
        {
            var processName = Path.GetFileNameWithoutExtension(process);
            if (string.Equals(processName, ToolName, StringComparison.Ordinal))
            {
                return (process, []);
            }

            // dotnet tbot-dotnet.dll (dotnet run, a framework-dependent tool): the host plus the dll.
            var dll = Path.Combine(AppContext.BaseDirectory, ToolName + ".dll");
            if (string.Equals(processName, "dotnet", StringComparison.Ordinal) && File.Exists(dll))
            {
                return (process, [dll]);
            }
        }

        return (ToolName, []);
    }

    /// <summary>tbot's <c>ssh-proxy-command</c> invocation for the resolved program.</summary>
    public static SshProxyCommand Create(string executable, IReadOnlyList<string> prefix, string directory, OutputClusterInfo cluster)
    {
        // --connection-upgrade from Teleport's ALPN test (as tbot); no connection resumption: this client does not offer it.
        var command = SshProxyCommand.ForTbotDotnet(executable, directory, cluster.ProxyHost, cluster.ProxyPort,
            cluster.TlsRouting, connectionUpgrade: cluster.ConnectionUpgrade, resume: false);
        return prefix.Count == 0
            ? command
            : new SshProxyCommand(executable, string.Join(' ', prefix.Select(SshProxyCommand.Quote)) + " " + command.ArgumentTemplate);
    }
}
