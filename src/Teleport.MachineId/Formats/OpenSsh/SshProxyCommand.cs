using System.Globalization;
using System.Text;

namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// The <c>ProxyCommand</c> written into generated ssh_config files: an executable and an argument
/// template in which <see cref="ClusterPlaceholder"/> stands for the (quoted) cluster name.
/// </summary>
/// <remarks>
/// <para>The executable path is quoted with tbot's rules (<see cref="Quote"/>); the template is
/// written as it is, so values in it must already be quoted with <see cref="Quote"/>, while
/// OpenSSH tokens such as <c>%r</c>, <c>%h</c>, <c>%p</c> stay unquoted.</para>
/// <para><see cref="ForTbot"/> reproduces tbot's command byte for byte; <see cref="ForTbotDotnet"/>
/// gives the same flags to this project's <c>tbot-dotnet</c> CLI. Immutable.</para>
/// </remarks>
public sealed class SshProxyCommand
{
    /// <summary>The placeholder replaced by the quoted cluster name.</summary>
    public const string ClusterPlaceholder = "{cluster}";

    private readonly string[] _segments;

    /// <summary>Creates a proxy command.</summary>
    /// <param name="executablePath">The program to run (absolute path, or a name on PATH).</param>
    /// <param name="argumentTemplate">The arguments as ssh_config text, with <see cref="ClusterPlaceholder"/> where the cluster name goes.</param>
    /// <exception cref="ArgumentException">A value is empty or contains a line break.</exception>
    public SshProxyCommand(string executablePath, string argumentTemplate)
    {
        ArgumentException.ThrowIfNullOrEmpty(executablePath);
        ArgumentNullException.ThrowIfNull(argumentTemplate);
        SshConfigText.EnsureSingleLine(executablePath, nameof(executablePath));
        SshConfigText.EnsureSingleLine(argumentTemplate, nameof(argumentTemplate));
        ExecutablePath = executablePath;
        ArgumentTemplate = argumentTemplate;
        _segments = argumentTemplate.Split(ClusterPlaceholder);
    }

    /// <summary>The program that ssh runs.</summary>
    public string ExecutablePath { get; }

    /// <summary>The argument template (ssh_config text with <see cref="ClusterPlaceholder"/>).</summary>
    public string ArgumentTemplate { get; }

    /// <summary>
    /// tbot's proxy command: <c>'&lt;tbot&gt;' ssh-proxy-command --destination-dir='&lt;dir&gt;'
    /// --proxy-server='&lt;host&gt;:&lt;port&gt;' --cluster='&lt;cluster&gt;' --[no-]tls-routing
    /// --[no-]connection-upgrade --[no-]resume --user=%r --host=%h --port=%p</c>.
    /// </summary>
    /// <param name="tbotPath">Path of the tbot executable.</param>
    /// <param name="destinationDirectory">The identity output directory (absolute).</param>
    /// <param name="proxyHost">The proxy host name.</param>
    /// <param name="proxyPort">The proxy port (the web port with TLS routing, else the SSH proxy port, usually 3023).</param>
    /// <param name="tlsRouting">Whether the proxy multiplexes on one port (<c>tls_routing_enabled</c>).</param>
    /// <param name="connectionUpgrade">Whether the ALPN connection upgrade is needed (tbot only sets it with TLS routing).</param>
    /// <param name="resume">Whether to use Teleport's SSH connection resumption (tbot: on).</param>
    /// <returns>The proxy command.</returns>
    /// <exception cref="ArgumentException">A value is empty, out of range or contains a line break.</exception>
    public static SshProxyCommand ForTbot(string tbotPath, string destinationDirectory, string proxyHost, int proxyPort,
        bool tlsRouting, bool connectionUpgrade, bool resume = true) =>
        ForSshProxyCommandTool(tbotPath, destinationDirectory, proxyHost, proxyPort, tlsRouting, connectionUpgrade, resume);

    /// <summary>
    /// The same command for this project's CLI: <c>'&lt;tbot-dotnet&gt;' ssh-proxy-command …</c> with tbot's flags.
    /// </summary>
    /// <param name="executablePath">Path of the <c>tbot-dotnet</c> executable.</param>
    /// <param name="destinationDirectory">The identity output directory (absolute).</param>
    /// <param name="proxyHost">The proxy host name.</param>
    /// <param name="proxyPort">The proxy port.</param>
    /// <param name="tlsRouting">Whether the proxy multiplexes on one port.</param>
    /// <param name="connectionUpgrade">Whether the ALPN connection upgrade is needed.</param>
    /// <param name="resume">Whether to use connection resumption.</param>
    /// <returns>The proxy command.</returns>
    /// <exception cref="ArgumentException">A value is empty, out of range or contains a line break.</exception>
    public static SshProxyCommand ForTbotDotnet(string executablePath, string destinationDirectory, string proxyHost, int proxyPort,
        bool tlsRouting, bool connectionUpgrade, bool resume = true) =>
        ForSshProxyCommandTool(executablePath, destinationDirectory, proxyHost, proxyPort, tlsRouting, connectionUpgrade, resume);

    private static SshProxyCommand ForSshProxyCommandTool(string executablePath, string destinationDirectory, string proxyHost, int proxyPort,
        bool tlsRouting, bool connectionUpgrade, bool resume)
    {
        ArgumentException.ThrowIfNullOrEmpty(destinationDirectory);
        SshConfigText.EnsureSingleLine(destinationDirectory, nameof(destinationDirectory));
        SshConfigText.EnsureValidHost(proxyHost, nameof(proxyHost));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proxyPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(proxyPort, 65535);
        var template = new StringBuilder(256);
        template.Append("ssh-proxy-command --destination-dir=").Append(Quote(destinationDirectory))
            .Append(" --proxy-server=").Append(Quote(proxyHost + ":" + proxyPort.ToString(CultureInfo.InvariantCulture)))
            .Append(" --cluster=").Append(ClusterPlaceholder)
            .Append(tlsRouting ? " --tls-routing" : " --no-tls-routing")
            .Append(connectionUpgrade ? " --connection-upgrade" : " --no-connection-upgrade")
            .Append(resume ? " --resume" : " --no-resume")
            .Append(" --user=%r --host=%h --port=%p");
        return new SshProxyCommand(executablePath, template.ToString());
    }

    /// <summary>
    /// Quotes one argument for a ProxyCommand: single quotes (<c>'</c> → <c>'"'"'</c>), <c>%</c> → <c>%%</c>
    /// (as tbot), and <c>\</c> → <c>'"\\"'</c> so that OpenSSH's own tokenizer stays balanced.
    /// </summary>
    /// <param name="value">The argument value.</param>
    /// <returns>The quoted text.</returns>
    /// <exception cref="ArgumentException"><paramref name="value"/> contains a line break.</exception>
    public static string Quote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        SshConfigText.EnsureSingleLine(value, nameof(value));
        var sb = new StringBuilder(value.Length + 8);
        SshConfigText.AppendProxyCommandArgument(sb, value);
        return sb.ToString();
    }

    /// <summary>Appends <c>&lt;quoted executable&gt; &lt;template with quoted cluster&gt;</c>.</summary>
    internal void AppendTo(StringBuilder sb, string clusterName)
    {
        SshConfigText.AppendProxyCommandArgument(sb, ExecutablePath);
        if (ArgumentTemplate.Length == 0)
        {
            return;
        }

        sb.Append(' ').Append(_segments[0]);
        for (var i = 1; i < _segments.Length; i++)
        {
            SshConfigText.AppendProxyCommandArgument(sb, clusterName);
            sb.Append(_segments[i]);
        }
    }
}
