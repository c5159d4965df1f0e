using System.Globalization;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>
/// The server access guide's set-up, made of real parts: an emulated cluster with the guide's role
/// (logins: this machine's user, node_labels '*': '*') and a bot holding it; a real sshd configured
/// only from the emulator's exports (trusts the exported user CA, presents a host certificate from
/// the host CA for <c>node1</c>), registered as node <c>node1</c>; and a directory for the output.
/// </summary>
internal sealed class NodeEnvironment : IAsyncDisposable
{
    public const string NodeName = "node1";
    public const string BotName = "robot";
    public const string AccessRole = "example-role";

    private readonly SshTestDirectory _output;

    private NodeEnvironment(TeleportEmulator cluster, SshdFixture sshd, PrivateKey hostKey, BotIdentityProvider bot, MachineIdOptions botOptions, SshTestDirectory output)
    {
        Cluster = cluster;
        Sshd = sshd;
        HostKey = hostKey;
        Bot = bot;
        BotOptions = botOptions;
        _output = output;
    }

    public TeleportEmulator Cluster { get; }

    public SshdFixture Sshd { get; }

    public PrivateKey HostKey { get; }

    /// <summary>The library's bot identity provider, joined and renewing (memory storage).</summary>
    public BotIdentityProvider Bot { get; }

    /// <summary>The bot's options (proxy address, trust of the emulator's web CA).</summary>
    public MachineIdOptions BotOptions { get; }

    /// <summary>The login the role grants (the user running the tests; sshd runs as it).</summary>
    public string Login => Sshd.LoginUser;

    /// <summary>The host name ssh uses with the generated ssh_config.</summary>
    public string NodeHost => NodeName + "." + Cluster.ClusterName;

    /// <summary>An empty directory for the output (the destination is created inside it).</summary>
    public string OutputDirectory => Path.Combine(_output.Path, "machine-id");

    /// <summary>The CLI's apphost next to the test assembly (built by the project reference).</summary>
    public static string TbotDotnetPath => Path.Combine(AppContext.BaseDirectory, "tbot-dotnet");

    /// <summary>The built <c>tbot-dotnet-emulator</c> apphost (the emulator and the demo).</summary>
    public static string EmulatorToolPath => Path.Combine(AppContext.BaseDirectory, "tbot-dotnet-emulator");

    /// <param name="options">Emulator options.</param>
    /// <param name="extraLogins">More logins for the access role.</param>
    /// <param name="extraNodeNames">More node names registered for the same sshd (its host certificate covers them all), e.g. for fleet-scale tests.</param>
    public static async Task<NodeEnvironment> StartAsync(
        TeleportEmulatorOptions? options = null, IEnumerable<string>? extraLogins = null, IEnumerable<string>? extraNodeNames = null)
    {
        _ = OpenSshTools.Sshd;
        _ = OpenSshTools.Ssh;
        var cluster = await TeleportEmulator.StartAsync(options ?? new TeleportEmulatorOptions());
        try
        {
            cluster.UpsertRole(new EmulatorRole
            {
                Name = AccessRole,
                Logins = [Environment.UserName, .. extraLogins ?? []],
                NodeLabels = EmulatorRole.AllNodes,
            });
            cluster.AddBot(new EmulatorBot { Name = BotName, Roles = [AccessRole] });

            var nodeNames = new List<string> { NodeName };
            nodeNames.AddRange(extraNodeNames ?? []);
            var hostKey = PrivateKey.Generate(KeyAlgorithm.Ed25519);
            var hostCertificate = cluster.SignHostCertificate(hostKey.PublicKey, nodeNames.SelectMany(n => new[] { n, n + "." + cluster.ClusterName }));
            var sshdOptions = new SshdFixtureOptions { HostKey = hostKey, HostCertificate = hostCertificate };
            foreach (var line in cluster.ExportUserCaOpenSsh().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                sshdOptions.TrustedUserCaKeys.Add(PublicKeyInfo.ParseAuthorizedKey(line));
            }

            // The role's logins may log in as the sshd user (as root, with an AuthorizedPrincipalsFile).
            sshdOptions.AllowedPrincipals.Add(Environment.UserName);

            // Fleet tests (Ansible forks, parallel ssh) open many connections at once; sshd's default
            // MaxStartups (10:30:100) would drop some of them before authentication.
            sshdOptions.ExtraConfig.Add("MaxStartups 200");
            var sshd = await SshdFixture.StartAsync(sshdOptions);
            foreach (var name in nodeNames)
            {
                cluster.AddNode(new EmulatorNode
                {
                    Name = name,
                    Address = "127.0.0.1:" + sshd.Port.ToString(CultureInfo.InvariantCulture),
                    Labels = new Dictionary<string, string> { ["env"] = "test" },
                });
            }

            var botOptions = BotOptionsFor(cluster, cluster.CreateJoinToken(BotName).Name);
            var bot = BotIdentityProvider.Create(botOptions);
            await bot.StartAsync();
            await bot.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            return new NodeEnvironment(cluster, sshd, hostKey, bot, botOptions, new SshTestDirectory("tmid-output"));
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Bot options for the emulator: its proxy, its web CA trusted, a token, memory storage.</summary>
    public static MachineIdOptions BotOptionsFor(TeleportEmulator cluster, string token)
    {
        var options = new MachineIdOptions
        {
            ProxyServer = cluster.ProxyAddress,
            Token = token,
            StorageType = BotStorageType.Memory,
        };
        options.ProxyCaCertificates.Add(cluster.WebCaCertificate);
        return options;
    }

    /// <summary>A signer on the bot, through the emulator's proxy.</summary>
    public TeleportSshCertificateSigner CreateSigner() => new(Bot, BotOptions);

    /// <summary>Output options writing to <see cref="OutputDirectory"/> with the ProxyCommand pointing at the built CLI.</summary>
    public IdentityOutputOptions OutputOptions(string? directory = null)
    {
        var options = new IdentityOutputOptions
        {
            DestinationPath = directory ?? OutputDirectory,
            ProxyCommandPath = TbotDotnetPath,
        };
        options.Roles.Add(AccessRole);
        return options;
    }

    /// <summary>Runs <c>ssh -F &lt;dir&gt;/ssh_config</c> with strict host key checking (the generated known_hosts).</summary>
    public Task<ToolResult> SshAsync(string directory, string user, string host, string command, IReadOnlyDictionary<string, string>? environment = null) =>
        SshToolRunner.RunAsync(OpenSshTools.Ssh,
        [
            "-F", Path.Combine(directory, "ssh_config"),
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "PasswordAuthentication=no",
            "-o", "ConnectTimeout=30",
            user + "@" + host,
            command,
        ], environment: environment);

    public async ValueTask DisposeAsync()
    {
        await Bot.DisposeAsync();
        await Sshd.DisposeAsync();
        HostKey.Dispose();
        await Cluster.DisposeAsync();
        _output.Dispose();
    }
}
