using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.SshNet;

namespace Teleport.MachineId.Tests;

/// <summary>
/// The README's code, compiled here so it cannot rot: each <c>#region Snippet:Name</c> must appear
/// verbatim (dedented) in the README. The same flows run against the emulator in the Outputs tests
/// (<c>IdentityOutputHostingTests</c>, <c>IdentityOutputServiceTests</c>, <c>TeleportSshClientFactoryTests</c>).
/// </summary>
public sealed partial class ReadmeSnippets
{
    [Test]
    public void Every_snippet_appears_in_the_README_verbatim()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        var source = File.ReadAllText(Path.Combine(root, "tests", "Teleport.MachineId.Tests", "ReadmeSnippets.cs")).ReplaceLineEndings("\n");
        var snippets = SnippetPattern().Matches(source).Select(m => (Name: m.Groups[1].Value, Code: Dedent(m.Groups[2].Value))).ToList();

        Assert.That(snippets.Select(s => s.Name), Is.EquivalentTo(new[] { "DependencyInjection", "WithoutDependencyInjection", "OneShot", "SshNet", "BoundKeypair" }));
        foreach (var (name, code) in snippets)
        {
            Assert.That(readme, Does.Contain(code), $"README.md must contain snippet {name} exactly as in ReadmeSnippets.cs");
        }
    }

    internal static async Task BoundKeypairAsync(CancellationToken cancellationToken)
    {
        #region Snippet:BoundKeypair
        var options = new MachineIdOptions
        {
            ProxyServer = "teleport.example.com:443",
            JoinMethod = MachineIdOptions.BoundKeypairJoinMethod,
            Token = "bound-keypair-host",             // the token resource's name
            StoragePath = "/var/lib/teleport/bot",    // keeps the bound key: keep the directory
        };
        options.BoundKeypair.RegistrationSecretPath = "/etc/tbot/registration-secret";
        await using var bot = BotIdentityProvider.Create(options);
        await bot.StartAsync(cancellationToken);
        #endregion
    }

    internal static async Task DependencyInjectionAsync(string[] args)
    {
        #region Snippet:DependencyInjection
        var builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddTeleportMachineId(options =>
        {
            options.ProxyServer = "teleport.example.com:443";
            options.TokenFile = "/var/lib/teleport/bot-token";
            options.StoragePath = "/var/lib/teleport/bot";
        });
        builder.Services.AddTeleportIdentityOutput("ssh", output =>
        {
            output.DestinationPath = "/opt/machine-id";
            output.Roles.Add("example-role");
        });
        await builder.Build().RunAsync();
        #endregion
    }

    internal static async Task WithoutDependencyInjectionAsync(CancellationToken cancellationToken)
    {
        #region Snippet:WithoutDependencyInjection
        var options = new MachineIdOptions
        {
            ProxyServer = "teleport.example.com:443",
            TokenFile = "/var/lib/teleport/bot-token",
            StoragePath = "/var/lib/teleport/bot",
        };
        await using var bot = BotIdentityProvider.Create(options);
        await bot.StartAsync(cancellationToken);
        await using var signer = new TeleportSshCertificateSigner(bot, options);

        var outputOptions = new IdentityOutputOptions { DestinationPath = "/opt/machine-id" };
        outputOptions.Roles.Add("example-role");
        await using var output = IdentityOutputService.Create(signer, outputOptions);
        await output.StartAsync(cancellationToken);   // renews with the bot and on its own schedule
        var written = await output.WaitUntilReadyAsync(cancellationToken);
        Console.WriteLine($"{written.Certificates} in /opt/machine-id");
        #endregion
    }

    internal static async Task OneShotAsync(CancellationToken cancellationToken)
    {
        #region Snippet:OneShot
        var options = new MachineIdOptions
        {
            ProxyServer = "teleport.example.com:443",
            Token = Environment.GetEnvironmentVariable("TELEPORT_BOT_TOKEN"),
            StorageType = BotStorageType.Memory,
        };
        await using var bot = BotIdentityProvider.Create(options);
        await using var signer = new TeleportSshCertificateSigner(bot, options);
        await using var output = IdentityOutputService.Create(signer, new IdentityOutputOptions
        {
            DestinationPath = "/opt/machine-id",
            CredentialTtl = TimeSpan.FromMinutes(30),
        });
        await output.Destination.VerifyWritableAsync(cancellationToken);   // before the single-use token is spent
        await bot.StartAsync(cancellationToken);
        await output.RenewNowAsync(cancellationToken);   // write once, e.g. before an Ansible run
        #endregion
    }

    internal static async Task SshNetAsync()
    {
        #region Snippet:SshNet
        using var factory = await TeleportSshClientFactory.FromDirectoryAsync("/opt/machine-id", "teleport.example.com:443");
        using var client = await factory.ConnectAsync("root", "my-host");   // host certificate checked against the cluster's host CA
        using var command = client.RunCommand("hostname");
        Console.WriteLine($"{command.Result.Trim()} (exit status {command.ExitStatus})");
        #endregion
    }

    private static string Dedent(string code)
    {
        var lines = code.Trim('\n').Split('\n');
        var indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Teleport.MachineId.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Teleport.MachineId.sln not found above the test directory.");
    }

    [GeneratedRegex(@"#region Snippet:(\w+)\n(.*?)\n\s*#endregion", RegexOptions.Singleline)]
    private static partial Regex SnippetPattern();
}
