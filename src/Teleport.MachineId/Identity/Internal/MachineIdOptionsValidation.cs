using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Wire;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>The rules <see cref="MachineIdOptions"/> must satisfy (shared by the provider and the DI validator).</summary>
internal static class MachineIdOptionsValidation
{
    /// <summary>Returns every problem, each naming the option; empty when the options are valid.</summary>
    public static List<string> Validate(MachineIdOptions options, JoinMethodRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var proxySet = !string.IsNullOrWhiteSpace(options.ProxyServer);
        var authSet = !string.IsNullOrWhiteSpace(options.AuthServer);
        if (proxySet == authSet)
        {
            errors.Add(proxySet
                ? "ProxyServer and AuthServer are mutually exclusive; set only one."
                : "Set ProxyServer (the Teleport Proxy address, host:port) or AuthServer (the Auth Service address).");
        }

        if (proxySet && !HostPort.TryParse(options.ProxyServer, TeleportDefaults.ProxyPort, null, out _))
        {
            errors.Add($"ProxyServer: '{options.ProxyServer}' is not a host:port address (for example 'teleport.example.com:443').");
        }

        if (authSet && !HostPort.TryParse(options.AuthServer, TeleportDefaults.AuthPort, null, out _))
        {
            errors.Add($"AuthServer: '{options.AuthServer}' is not a host:port address (for example 'auth.example.com:3025').");
        }

        if (string.IsNullOrWhiteSpace(options.JoinMethod))
        {
            errors.Add("JoinMethod is required (for example 'token').");
        }
        else if (!registry.TryGet(options.JoinMethod, out var method))
        {
            errors.Add($"JoinMethod '{options.JoinMethod}' is not supported; supported: {string.Join(", ", registry.Names)}.");
        }
        else
        {
            method.Validate(options, errors);
        }

        var tokenSources = (options.Token is not null ? 1 : 0) + (options.TokenFile is not null ? 1 : 0) + (options.TokenEnvironmentVariable is not null ? 1 : 0);
        if (tokenSources > 1)
        {
            errors.Add("Set at most one of Token, TokenFile and TokenEnvironmentVariable.");
        }

        if (options.Token is not null && options.Token.Trim().Length == 0)
        {
            errors.Add("Token is empty.");
        }

        if (options.TokenFile is not null && options.TokenFile.Trim().Length == 0)
        {
            errors.Add("TokenFile is empty.");
        }

        if (options.TokenEnvironmentVariable is not null && options.TokenEnvironmentVariable.Trim().Length == 0)
        {
            errors.Add("TokenEnvironmentVariable is empty.");
        }

        foreach (var pin in options.CaPins)
        {
            if (!CaPins.IsValid(pin))
            {
                // Pins are public (tctl status prints them), so quoting one is safe.
                errors.Add($"CaPins: '{pin}' is not a CA pin; expected 'sha256:' followed by 64 hex digits.");
            }
        }

        if (options.CaPins.Count > 0 && options.CaPath is not null)
        {
            errors.Add("CaPins and CaPath are mutually exclusive; set only one.");
        }

        if (options.Insecure && (options.CaPins.Count > 0 || options.CaPath is not null))
        {
            errors.Add("Insecure cannot be combined with CaPins or CaPath.");
        }

        if (options.CaPath is not null && options.CaPath.Trim().Length == 0)
        {
            errors.Add("CaPath is empty.");
        }

        if (options.ProxyCaBundlePath is not null && options.ProxyCaBundlePath.Trim().Length == 0)
        {
            errors.Add("ProxyCaBundlePath is empty.");
        }

        if (options.CredentialTtl < TimeSpan.FromMinutes(1))
        {
            errors.Add($"CredentialTtl must be at least 1 minute (got {options.CredentialTtl}).");
        }

        if (options.RenewalMode is not (BotRenewalMode.Adaptive or BotRenewalMode.FixedInterval))
        {
            errors.Add($"RenewalMode {options.RenewalMode} is not defined.");
        }

        if (options.RenewalMode == BotRenewalMode.FixedInterval)
        {
            if (options.RenewalInterval <= TimeSpan.Zero)
            {
                errors.Add($"RenewalInterval must be positive (got {options.RenewalInterval}).");
            }
            else if (options.RenewalInterval >= options.CredentialTtl)
            {
                errors.Add($"RenewalInterval ({options.RenewalInterval}) must be shorter than CredentialTtl ({options.CredentialTtl}).");
            }
        }

        if (options.RetryMinBackoff <= TimeSpan.Zero)
        {
            errors.Add($"RetryMinBackoff must be positive (got {options.RetryMinBackoff}).");
        }

        if (options.RetryMaxBackoff < options.RetryMinBackoff)
        {
            errors.Add($"RetryMaxBackoff ({options.RetryMaxBackoff}) must not be shorter than RetryMinBackoff ({options.RetryMinBackoff}).");
        }

        switch (options.StorageType)
        {
            case BotStorageType.Directory when string.IsNullOrWhiteSpace(options.StoragePath):
                errors.Add("StoragePath is required when StorageType is Directory (tbot uses /var/lib/teleport/bot); or set StorageType to Memory.");
                break;
            case BotStorageType.Directory or BotStorageType.Memory:
                break;
            default:
                errors.Add($"StorageType {options.StorageType} is not defined.");
                break;
        }

        return errors;
    }
}
