using System.CommandLine;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>
/// <c>start</c>: runs the bot like <c>tbot start</c> — from tbot's v2 YAML (<c>-c tbot.yaml</c>) or, with
/// <c>start identity|ssh-multiplexer|ssh-host</c>, from flags — joining (or renewing), then keeping its services running.
/// </summary>
internal static class StartCommand
{
    private static readonly Option<string?> Config = new("--config", "-c") { Description = "tbot v2 YAML configuration file (tbot.yaml)." };
    private static readonly Option<string?> ProxyServer = new("--proxy-server") { Description = "Teleport Proxy address host:port (port 443 when omitted). Env: TELEPORT_PROXY." };
    private static readonly Option<string?> AuthServer = new("--auth-server")
    {
        Description = "Teleport Auth address host:port (port 3025 when omitted), or a proxy's web address as older guides write it: tried as Auth, then as a proxy " +
            "(proxy first on ports 443 and 3080). Env: TELEPORT_AUTH_SERVER.",
    };
    private static readonly Option<string?> Token = new("--token")
    {
        Description = "Join token (token method) or the join token resource's name (other methods), or an absolute path to a file holding it. Env: TELEPORT_BOT_TOKEN.",
    };
    private static readonly Option<bool> Oneshot = new("--oneshot") { Description = "Join or renew once, write the outputs, and exit." };
    private static readonly Option<string?> CaBundle = new("--ca-bundle") { Description = "PEM file with the CA certificates of the proxy's HTTPS certificate (a private CA; not in tbot)." };

    private static readonly Option<string> JoinMethod = new("--join-method")
    {
        Description = "Join method: token, bound_keypair, github, gitlab or kubernetes. For all but token, --token names the join token resource.",
        DefaultValueFactory = _ => "token",
    };

    private static readonly Option<string?> RegistrationSecret = new("--registration-secret")
    {
        Description = "bound_keypair: the registration secret for the first join, or an absolute path to a file holding it. Env: TBOT_REGISTRATION_SECRET.",
    };

    private static readonly Option<string?> RegistrationSecretPath = new("--registration-secret-path") { Description = "bound_keypair: a file holding the registration secret." };
    private static readonly Option<string?> StaticKeyPath = new("--static-key-path")
    {
        Description = "bound_keypair: a pre-registered private key file used instead of a key in storage. Env: TBOT_BOUND_KEYPAIR_STATIC_KEY (base64 PEM).",
    };

    private static readonly string[] JoinMethods =
        [MachineIdOptions.TokenJoinMethod, MachineIdOptions.BoundKeypairJoinMethod, MachineIdOptions.GitHubJoinMethod, MachineIdOptions.GitLabJoinMethod, MachineIdOptions.KubernetesJoinMethod];
    private static readonly Option<string?> Destination = new("--destination") { Description = "Output directory (a path or file:///path).", Required = true };
    private static readonly Option<string?> Storage = new("--storage") { Description = "Where the bot keeps its own identity: a directory, file:///path or memory:// (default memory://)." };
    private static readonly Option<string[]> CaPins = new("--ca-pin") { Description = "CA pin sha256:<hex> for direct Auth joins (repeatable).", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<string?> CaPath = new("--ca-path") { Description = "PEM file with the cluster CA, instead of --ca-pin." };
    private static readonly Option<bool> Insecure = new("--insecure") { Description = "Do not verify the cluster's certificates on first contact (tests and demos only)." };
    private static readonly Option<string[]> Roles = new("--roles") { Description = "Roles to impersonate (comma-separated or repeated); default: every role the bot may impersonate." };
    private static readonly Option<string?> Cluster = new("--cluster") { Description = "A leaf cluster to issue credentials for." };
    private static readonly Option<string?> CredentialTtl = new("--credential-ttl") { Description = "Credential lifetime, Go duration (default 1h)." };
    private static readonly Option<string?> RenewalInterval = new("--renewal-interval") { Description = "Renewal interval, Go duration (default 20m)." };
    private static readonly Option<string> SshConfig = new("--ssh-config") { Description = "Write ssh_config and known_hosts: on or off (default on).", DefaultValueFactory = _ => "on" };
    private static readonly Option<bool> AllowReissue = new("--allow-reissue") { Description = "Allow the output credentials to be reissued." };
    private static readonly Option<string[]> ProxyCommand = new("--proxy-command")
    {
        Description = "The ssh-multiplexer's ProxyCommand, e.g. fdpass-teleport (repeat for more arguments); default: this tbot-dotnet with ssh-multiplexer-proxy-command.",
        AllowMultipleArgumentsPerToken = false,
    };

    private static readonly Option<bool?> EnableResumption = new("--enable-resumption")
    {
        Description = "tbot's session resumption switch; accepted for compatibility (resumption applies to Teleport SSH nodes only and is not implemented; OpenSSH traffic passes unchanged).",
    };

    private static readonly Option<string[]> Principals = new("--principals") { Description = "Host names the ssh_host certificate is valid for (comma-separated or repeated; at least one)." };

    public static Command Create(TimeProvider timeProvider)
    {
        var identity = new Command("identity", "Join (or renew) and keep an identity output written: identity, key, certificates, CA files, known_hosts, ssh_config.")
        {
            ProxyServer, AuthServer, JoinMethod, Token, RegistrationSecret, RegistrationSecretPath, StaticKeyPath, Destination, Storage, Oneshot,
            CaPins, CaPath, Insecure, Roles, Cluster, CredentialTtl, RenewalInterval, CaBundle, SshConfig, AllowReissue,
        };
        identity.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Information, async loggerFactory =>
        {
            var plan = FromFlags(parseResult, loggerFactory);
            await BotRunner.RunAsync(plan, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }));

        var multiplexer = new Command("ssh-multiplexer",
            "Join (or renew) and run an ssh-multiplexer: in-memory credentials served by agent.sock, connections to nodes over v1.sock, and ssh_config/known_hosts in the destination.")
        {
            ProxyServer, AuthServer, JoinMethod, Token, RegistrationSecret, RegistrationSecretPath, StaticKeyPath, Destination, Storage,
            CaPins, CaPath, Insecure, CredentialTtl, RenewalInterval, CaBundle, ProxyCommand, EnableResumption,
        };
        multiplexer.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Information, async loggerFactory =>
        {
            var plan = MultiplexerFromFlags(parseResult, loggerFactory);
            await BotRunner.RunAsync(plan, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }));

        var sshHost = new Command("ssh-host",
            "Join (or renew) and keep an ssh_host output written: a host key, its certificate from the cluster's host CA, and the user CA keys for an OpenSSH server.")
        {
            ProxyServer, AuthServer, JoinMethod, Token, RegistrationSecret, RegistrationSecretPath, StaticKeyPath, Destination, Storage, Oneshot,
            CaPins, CaPath, Insecure, Roles, Principals, CredentialTtl, RenewalInterval, CaBundle,
        };
        sshHost.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Information, async loggerFactory =>
        {
            var plan = SshHostFromFlags(parseResult, loggerFactory);
            await BotRunner.RunAsync(plan, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }));

        var start = new Command("start", "Run the bot from tbot's YAML configuration (-c tbot.yaml), or 'start identity|ssh-multiplexer|ssh-host' with flags.")
        {
            Config, ProxyServer, AuthServer, Token, Oneshot, CaBundle, identity, multiplexer, sshHost,
        };
        start.SetAction((parseResult, cancellationToken) => CommonOptions.RunAsync(parseResult, LogLevel.Information, async loggerFactory =>
        {
            var path = parseResult.GetValue(Config)
                ?? CommonOptions.Environment("TBOT_CONFIG_PATH")
                ?? throw CliException.Usage("start needs -c <tbot.yaml> (or TBOT_CONFIG_PATH), or use 'start identity' with flags.");
            var environment = TbotConfigurationOverrides.FromEnvironment(CommonOptions.Environment);
            var overrides = environment with
            {
                ProxyServer = parseResult.GetValue(ProxyServer) ?? environment.ProxyServer,
                AuthServer = parseResult.GetValue(AuthServer) ?? environment.AuthServer,
                Token = parseResult.GetValue(Token) ?? environment.Token,
            };
            var names = CliSettingNames.Yaml(
                path,
                parseResult.GetValue(Token) is not null ? "--token" : environment.Token is not null ? TbotConfigurationOverrides.TokenVariable : null,
                parseResult.GetValue(ProxyServer) is not null ? "--proxy-server" : environment.ProxyServer is not null ? TbotConfigurationOverrides.ProxyServerVariable : null,
                environment.AuthServer is not null ? TbotConfigurationOverrides.AuthServerVariable : null);
            TbotConfigurationResult result;
            try
            {
                result = TbotConfigurationReader.ReadFile(path, overrides);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw CliException.Usage($"-c: {CliErrors.OneLine(ex.Message)}", ex);
            }

            var logger = loggerFactory.CreateLogger("tbot-dotnet");
            foreach (var warning in result.Warnings)
            {
                CliLog.ConfigurationWarning(logger, path, warning.ToString());
            }

            var configuration = result.Configuration;
            if (parseResult.GetValue(Oneshot))
            {
                configuration = configuration with { Oneshot = true };
            }

            var plan = BotRunPlan.FromConfiguration(configuration, parseResult.GetValue(CaBundle), names, loggerFactory);
            await BotRunner.RunAsync(plan, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return start;
    }

    /// <summary>The plan of <c>start identity</c>, flags first, then tbot's environment variables.</summary>
    /// <exception cref="CliException">A flag is missing or invalid.</exception>
    internal static BotRunPlan FromFlags(ParseResult parseResult, ILoggerFactory loggerFactory)
    {
        var (bot, names) = BotFromFlags(parseResult);
        var output = new IdentityOutputOptions
        {
            Destination = DestinationFromFlags(parseResult, loggerFactory),
            Cluster = parseResult.GetValue(Cluster),
            CredentialTtl = bot.CredentialTtl,
            RenewalInterval = bot.RenewalInterval,
            WriteSshConfig = parseResult.GetValue(SshConfig) switch
            {
                "on" or "true" or "yes" => true,
                "off" or "false" or "no" => false,
                var other => throw CliException.Usage($"--ssh-config '{other}' must be on or off."),
            },
            AllowReissue = parseResult.GetValue(AllowReissue),
        };
        foreach (var role in ListValues(parseResult.GetValue(Roles)))
        {
            output.Roles.Add(role);
        }

        return new BotRunPlan { Bot = bot, Outputs = [output], Oneshot = parseResult.GetValue(Oneshot), Names = names };
    }

    /// <summary>The plan of <c>start ssh-multiplexer</c> (no one-shot mode: the multiplexer is a daemon).</summary>
    /// <exception cref="CliException">A flag is missing or invalid.</exception>
    internal static BotRunPlan MultiplexerFromFlags(ParseResult parseResult, ILoggerFactory loggerFactory)
    {
        var (bot, names) = BotFromFlags(parseResult);
        var (memory, path) = BotRunPlan.ParseLocation(parseResult.GetValue(Destination)!, "--destination");
        if (memory)
        {
            throw CliException.Usage("--destination: the ssh-multiplexer needs a directory (it serves its sockets from it).");
        }

        var options = new SshMultiplexerOptions
        {
            Destination = new DirectoryDestination(new DirectoryDestinationOptions { Path = path! }, loggerFactory.CreateLogger<DirectoryDestination>()),
            CredentialTtl = bot.CredentialTtl,
            RenewalInterval = bot.RenewalInterval,
        };
        foreach (var argument in parseResult.GetValue(ProxyCommand) ?? [])
        {
            options.ProxyCommand.Add(argument);
        }

        return new BotRunPlan { Bot = bot, Multiplexers = [options], Names = names };
    }

    /// <summary>The plan of <c>start ssh-host</c>.</summary>
    /// <exception cref="CliException">A flag is missing or invalid.</exception>
    internal static BotRunPlan SshHostFromFlags(ParseResult parseResult, ILoggerFactory loggerFactory)
    {
        var (bot, names) = BotFromFlags(parseResult);
        var options = new SshHostOutputOptions
        {
            Destination = DestinationFromFlags(parseResult, loggerFactory),
            CredentialTtl = bot.CredentialTtl,
            RenewalInterval = bot.RenewalInterval,
        };
        foreach (var principal in ListValues(parseResult.GetValue(Principals)))
        {
            options.Principals.Add(principal);
        }

        if (options.Principals.Count == 0)
        {
            throw CliException.Usage("--principals: an ssh_host output needs at least one host name, e.g. --principals node1.example.com.");
        }

        foreach (var role in ListValues(parseResult.GetValue(Roles)))
        {
            options.Roles.Add(role);
        }

        return new BotRunPlan { Bot = bot, SshHostOutputs = [options], Oneshot = parseResult.GetValue(Oneshot), Names = names };
    }

    private static IEnumerable<string> ListValues(string[]? values) =>
        (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static IDestinationWriter DestinationFromFlags(ParseResult parseResult, ILoggerFactory loggerFactory)
    {
        var (memoryDestination, destinationPath) = BotRunPlan.ParseLocation(parseResult.GetValue(Destination)!, "--destination");
        return memoryDestination
            ? new MemoryDestination()
            : new DirectoryDestination(new DirectoryDestinationOptions { Path = destinationPath! }, loggerFactory.CreateLogger<DirectoryDestination>());
    }

    /// <summary>The bot's options and the names of its settings, from the shared flags, then tbot's environment variables.</summary>
    /// <exception cref="CliException">A flag is missing or invalid.</exception>
    private static (MachineIdOptions Bot, CliSettingNames Names) BotFromFlags(ParseResult parseResult)
    {
        var method = parseResult.GetValue(JoinMethod) ?? MachineIdOptions.TokenJoinMethod;
        if (!JoinMethods.Contains(method, StringComparer.Ordinal))
        {
            throw CliException.Usage($"--join-method '{method}' is not supported; use one of {string.Join(", ", JoinMethods)}.");
        }

        var registrationSecret = parseResult.GetValue(RegistrationSecret);
        var registrationSecretPath = parseResult.GetValue(RegistrationSecretPath);
        var staticKeyPath = parseResult.GetValue(StaticKeyPath);
        if (method != MachineIdOptions.BoundKeypairJoinMethod && (registrationSecret ?? registrationSecretPath ?? staticKeyPath) is not null)
        {
            throw CliException.Usage("--registration-secret, --registration-secret-path and --static-key-path are for --join-method bound_keypair.");
        }

        var proxy = parseResult.GetValue(ProxyServer) ?? CommonOptions.Environment(TbotConfigurationOverrides.ProxyServerVariable);
        var auth = parseResult.GetValue(AuthServer) ?? CommonOptions.Environment(TbotConfigurationOverrides.AuthServerVariable);
        if (string.IsNullOrEmpty(proxy) == string.IsNullOrEmpty(auth))
        {
            throw CliException.Usage("Give exactly one of --proxy-server (TELEPORT_PROXY) and --auth-server (TELEPORT_AUTH_SERVER).");
        }

        var tokenFlag = parseResult.GetValue(Token);
        var names = CliSettingNames.Flags(
            tokenFromEnvironment: tokenFlag is null && CommonOptions.Environment(TbotConfigurationOverrides.TokenVariable) is not null,
            proxyFromEnvironment: parseResult.GetValue(ProxyServer) is null,
            authFromEnvironment: parseResult.GetValue(AuthServer) is null);

        var bot = new MachineIdOptions
        {
            ProxyServer = string.IsNullOrEmpty(proxy) ? null : proxy,
            AuthServer = string.IsNullOrEmpty(auth) ? null : auth,
            Insecure = parseResult.GetValue(Insecure),
            CaPath = parseResult.GetValue(CaPath),
            ProxyCaBundlePath = parseResult.GetValue(CaBundle),
            RenewalMode = BotRenewalMode.FixedInterval,
            JoinMethod = method,
        };
        bot.BoundKeypair.RegistrationSecret = registrationSecret;
        bot.BoundKeypair.RegistrationSecretPath = registrationSecretPath;
        bot.BoundKeypair.StaticPrivateKeyPath = staticKeyPath;
        var token = tokenFlag ?? CommonOptions.Environment(TbotConfigurationOverrides.TokenVariable);
        if (token is not null && token.Trim().Length == 0)
        {
            throw CliException.Usage($"{names.Token} is empty; give a join token or the absolute path of a file holding one.");
        }

        if (!string.IsNullOrEmpty(token))
        {
            var parsed = TbotJoinToken.Parse(token);
            if (parsed.IsFile)
            {
                bot.TokenFile = parsed.FilePath;
            }
            else
            {
                bot.Token = token;
            }
        }

        foreach (var pin in parseResult.GetValue(CaPins) ?? [])
        {
            bot.CaPins.Add(pin);
        }

        var ttl = Duration(parseResult.GetValue(CredentialTtl), "--credential-ttl") ?? TeleportDefaults.CredentialTtl;
        var interval = Duration(parseResult.GetValue(RenewalInterval), "--renewal-interval") ?? TeleportDefaults.RenewalInterval;
        if (ttl < TimeSpan.FromMinutes(1))
        {
            throw CliException.Usage($"--credential-ttl '{parseResult.GetValue(CredentialTtl)}' is too short; certificates live at least 1m.");
        }

        bot.CredentialTtl = ttl;
        bot.RenewalInterval = interval;

        var (memoryStorage, storagePath) = BotRunPlan.ParseLocation(parseResult.GetValue(Storage) ?? "memory://", "--storage");
        bot.StorageType = memoryStorage ? BotStorageType.Memory : BotStorageType.Directory;
        bot.StoragePath = storagePath;
        return (bot, names);
    }

    private static TimeSpan? Duration(string? text, string flag)
    {
        if (text is null)
        {
            return null;
        }

        if (!GoDuration.TryParse(text, out var value))
        {
            throw CliException.Usage($"{flag} '{text}' is not a duration; write it as Go does, for example 30m, 1h or 1h30m.");
        }

        return value > TimeSpan.Zero ? value : throw CliException.Usage($"{flag} must be positive (got '{text}').");
    }
}
