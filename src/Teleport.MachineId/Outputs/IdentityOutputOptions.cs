using Teleport.MachineId.Destinations;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// One identity output (tbot's <c>type: identity</c> service): where it writes, which roles and
/// cluster it asks for, how long the credentials live and how often they are renewed.
/// </summary>
/// <remarks>
/// Set exactly one of <see cref="Destination"/> and <see cref="DestinationPath"/>. The options are
/// copied when a service is created; later changes have no effect on it.
/// </remarks>
public sealed class IdentityOutputOptions
{
    /// <summary>A name for logs (tbot's <c>name</c>); the destination's description when <see langword="null"/>.</summary>
    public string? Name { get; set; }

    /// <summary>Where the credentials are written, e.g. a <see cref="DirectoryDestination"/> or <see cref="MemoryDestination"/>.</summary>
    public IDestinationWriter? Destination { get; set; }

    /// <summary>
    /// A directory to write to with the default directory options (mode 0700/0600, <c>symlinks:
    /// try-secure</c>), instead of <see cref="Destination"/>; convenient when binding from configuration.
    /// </summary>
    public string? DestinationPath { get; set; }

    /// <summary>The roles to impersonate; empty (the default) means every role the bot may impersonate.</summary>
    public IList<string> Roles { get; } = new List<string>();

    /// <summary>A leaf cluster to issue the credentials for; <see langword="null"/> (default) for the bot's cluster.</summary>
    public string? Cluster { get; set; }

    /// <summary>The requested lifetime of the credentials (tbot's <c>credential_ttl</c>). Default 1 hour.</summary>
    public TimeSpan CredentialTtl { get; set; } = TeleportDefaults.CredentialTtl;

    /// <summary>
    /// How often the credentials are renewed (tbot's <c>renewal_interval</c>); they are also renewed
    /// whenever the bot identity changes, and before two thirds of their granted lifetime. Default 20 minutes.
    /// </summary>
    public TimeSpan RenewalInterval { get; set; } = TeleportDefaults.RenewalInterval;

    /// <summary>Whether <c>known_hosts</c> and (for directories) <c>ssh_config</c> are written (tbot's <c>ssh_config: on</c>). Default true.</summary>
    public bool WriteSshConfig { get; set; } = true;

    /// <summary>Whether the credentials may be used to request further certificates (tbot's <c>allow_reissue</c>). Default false.</summary>
    public bool AllowReissue { get; set; }

    /// <summary>
    /// The program the generated ssh_config runs as ProxyCommand (<c>&lt;program&gt; ssh-proxy-command …</c>
    /// with tbot's flags). Default: the running <c>tbot-dotnet</c> when this process is it, else
    /// <c>tbot-dotnet</c> from <c>PATH</c> (install it with <c>dotnet tool install -g Teleport.MachineId.Cli</c>).
    /// </summary>
    public string? ProxyCommandPath { get; set; }

    /// <summary>
    /// Arguments placed before <c>ssh-proxy-command</c>, e.g. the path of <c>tbot-dotnet.dll</c> when
    /// <see cref="ProxyCommandPath"/> is the <c>dotnet</c> host. Default: none.
    /// </summary>
    public IList<string> ProxyCommandArguments { get; } = new List<string>();

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">A setting is missing or invalid; the message says which.</exception>
    internal void Validate()
    {
        if ((Destination is null) == string.IsNullOrWhiteSpace(DestinationPath))
        {
            throw new ArgumentException("Set exactly one of Destination and DestinationPath for an identity output.");
        }

        if (CredentialTtl <= TimeSpan.Zero)
        {
            throw new ArgumentException("CredentialTtl must be positive.");
        }

        if (RenewalInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("RenewalInterval must be positive.");
        }

        if (Roles.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("A role name is empty.");
        }

        if (ProxyCommandPath is not null && string.IsNullOrWhiteSpace(ProxyCommandPath))
        {
            throw new ArgumentException("ProxyCommandPath is empty.");
        }
    }

    internal IdentityOutputOptions Clone()
    {
        var copy = new IdentityOutputOptions
        {
            Name = Name,
            Destination = Destination,
            DestinationPath = DestinationPath,
            Cluster = Cluster,
            CredentialTtl = CredentialTtl,
            RenewalInterval = RenewalInterval,
            WriteSshConfig = WriteSshConfig,
            AllowReissue = AllowReissue,
            ProxyCommandPath = ProxyCommandPath,
        };
        foreach (var role in Roles)
        {
            copy.Roles.Add(role);
        }

        foreach (var argument in ProxyCommandArguments)
        {
            copy.ProxyCommandArguments.Add(argument);
        }

        return copy;
    }
}
