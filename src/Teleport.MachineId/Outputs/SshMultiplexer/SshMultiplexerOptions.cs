using Teleport.MachineId.Destinations;

namespace Teleport.MachineId.Outputs.SshMultiplexer;

/// <summary>
/// One <c>ssh-multiplexer</c> service (tbot's <c>type: ssh-multiplexer</c>): the directory it serves
/// <c>v1.sock</c>, <c>agent.sock</c>, <c>ssh_config</c> and <c>known_hosts</c> from, how long its
/// in-memory credentials live, and the ProxyCommand written into <c>ssh_config</c>.
/// </summary>
/// <remarks>
/// Set exactly one of <see cref="Destination"/> and <see cref="DestinationPath"/>. The credentials
/// carry every role the bot may impersonate, as tbot's multiplexer does. Copied when a service is
/// created.
/// </remarks>
public sealed class SshMultiplexerOptions
{
    /// <summary>The default number of connections opened through one upstream proxy client before a fresh one is used (tbot: 100).</summary>
    public const int DefaultConnectionsPerUpstreamClient = 100;

    /// <summary>A name for logs (tbot's <c>name</c>); the destination's description when <see langword="null"/>.</summary>
    public string? Name { get; set; }

    /// <summary>The directory (tbot requires a <c>directory</c> destination), with its symlink and ACL settings.</summary>
    public DirectoryDestination? Destination { get; set; }

    /// <summary>A directory path with the default directory settings, instead of <see cref="Destination"/>.</summary>
    public string? DestinationPath { get; set; }

    /// <summary>The requested lifetime of the in-memory credentials (tbot's <c>credential_ttl</c>). Default 1 hour.</summary>
    public TimeSpan CredentialTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How often the credentials are renewed (tbot's <c>renewal_interval</c>); also whenever the bot
    /// identity changes and before two thirds of their lifetime. Default 20 minutes. Open connections
    /// are not affected by a renewal.
    /// </summary>
    public TimeSpan RenewalInterval { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>
    /// The ProxyCommand's program and leading arguments (tbot's <c>proxy_command</c>); the socket path and
    /// <c>'%h:%p|&lt;cluster&gt;'</c> are appended. Default: this process when it is <c>tbot-dotnet</c> (else
    /// <c>tbot-dotnet</c> on <c>PATH</c>) with <c>ssh-multiplexer-proxy-command</c>. tbot's own helpers also
    /// work, e.g. <c>["/usr/local/bin/fdpass-teleport"]</c>.
    /// </summary>
    public IList<string> ProxyCommand { get; } = new List<string>();

    /// <summary>
    /// How many connections go through one upstream proxy client before a fresh client (and TLS
    /// connection) is used; the old one closes when its last connection ends. Default 100, as tbot.
    /// </summary>
    public int ConnectionsPerUpstreamClient { get; set; } = DefaultConnectionsPerUpstreamClient;

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">A setting is missing or invalid; the message says which.</exception>
    internal void Validate()
    {
        if ((Destination is null) == string.IsNullOrWhiteSpace(DestinationPath))
        {
            throw new ArgumentException("Set exactly one of Destination and DestinationPath for an ssh-multiplexer (a directory).");
        }

        if (CredentialTtl <= TimeSpan.Zero)
        {
            throw new ArgumentException("CredentialTtl must be positive.");
        }

        if (RenewalInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("RenewalInterval must be positive.");
        }

        if (ConnectionsPerUpstreamClient <= 0)
        {
            throw new ArgumentException("ConnectionsPerUpstreamClient must be positive.");
        }

        if (ProxyCommand.Count > 0 && string.IsNullOrWhiteSpace(ProxyCommand[0]))
        {
            throw new ArgumentException("ProxyCommand must start with a program.");
        }

        if (ProxyCommand.Any(a => a is null || a.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0))
        {
            throw new ArgumentException("A ProxyCommand argument is null or contains a line break.");
        }
    }

    internal SshMultiplexerOptions Clone()
    {
        var copy = new SshMultiplexerOptions
        {
            Name = Name,
            Destination = Destination,
            DestinationPath = DestinationPath,
            CredentialTtl = CredentialTtl,
            RenewalInterval = RenewalInterval,
            ConnectionsPerUpstreamClient = ConnectionsPerUpstreamClient,
        };
        foreach (var argument in ProxyCommand)
        {
            copy.ProxyCommand.Add(argument);
        }

        return copy;
    }
}
