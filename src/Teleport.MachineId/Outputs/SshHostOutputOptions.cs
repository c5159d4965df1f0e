using Teleport.MachineId.Destinations;

namespace Teleport.MachineId.Outputs;

/// <summary>
/// One <c>ssh_host</c> output (tbot's <c>type: ssh_host</c>): a host key and a host certificate from the
/// cluster's host CA for an OpenSSH server, with the cluster's user CA keys for <c>TrustedUserCAKeys</c>.
/// </summary>
/// <remarks>
/// Set exactly one of <see cref="Destination"/> and <see cref="DestinationPath"/>; at least one
/// principal. The roles requested must allow <c>create</c> on <c>host_cert</c>. Copied when a service is created.
/// </remarks>
public sealed class SshHostOutputOptions
{
    /// <summary>The user CA exported by default (tbot's <c>ca_type: user</c>).</summary>
    public const string UserCaType = "user";

    /// <summary>The OpenSSH CA of agentless nodes (tbot's <c>ca_type: openssh</c>).</summary>
    public const string OpenSshCaType = "openssh";

    /// <summary>A name for logs (tbot's <c>name</c>); the destination's description when <see langword="null"/>.</summary>
    public string? Name { get; set; }

    /// <summary>Where the files are written.</summary>
    public IDestinationWriter? Destination { get; set; }

    /// <summary>A directory with the default settings, instead of <see cref="Destination"/>.</summary>
    public string? DestinationPath { get; set; }

    /// <summary>The host names the certificate is valid for (tbot's <c>principals</c>, at least one), e.g. <c>node1.example.com</c>.</summary>
    public IList<string> Principals { get; } = new List<string>();

    /// <summary>The roles to impersonate when asking for the certificate; empty means every role the bot may impersonate.</summary>
    public IList<string> Roles { get; } = new List<string>();

    /// <summary>Which CA goes into <c>ssh_host-user-ca.pub</c>: <see cref="UserCaType"/> (default) or <see cref="OpenSshCaType"/>.</summary>
    public string CaType { get; set; } = UserCaType;

    /// <summary>The requested lifetime of the host certificate (tbot's <c>credential_ttl</c>). Default 1 hour.</summary>
    public TimeSpan CredentialTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the files are renewed (tbot's <c>renewal_interval</c>); also when the bot identity changes. Default 20 minutes.</summary>
    public TimeSpan RenewalInterval { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">A setting is missing or invalid; the message says which.</exception>
    internal void Validate()
    {
        if ((Destination is null) == string.IsNullOrWhiteSpace(DestinationPath))
        {
            throw new ArgumentException("Set exactly one of Destination and DestinationPath for an ssh_host output.");
        }

        if (Principals.Count == 0 || Principals.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("An ssh_host output needs at least one principal (the host names sshd is reached by), and none may be empty.");
        }

        if (Roles.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("A role name is empty.");
        }

        if (CaType is not (UserCaType or OpenSshCaType))
        {
            throw new ArgumentException($"ca_type '{CaType}' is not supported; use '{UserCaType}' or '{OpenSshCaType}'.");
        }

        if (CredentialTtl <= TimeSpan.Zero)
        {
            throw new ArgumentException("CredentialTtl must be positive.");
        }

        if (RenewalInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("RenewalInterval must be positive.");
        }
    }

    internal SshHostOutputOptions Clone()
    {
        var copy = new SshHostOutputOptions
        {
            Name = Name,
            Destination = Destination,
            DestinationPath = DestinationPath,
            CaType = CaType,
            CredentialTtl = CredentialTtl,
            RenewalInterval = RenewalInterval,
        };
        foreach (var principal in Principals)
        {
            copy.Principals.Add(principal);
        }

        foreach (var role in Roles)
        {
            copy.Roles.Add(role);
        }

        return copy;
    }
}
