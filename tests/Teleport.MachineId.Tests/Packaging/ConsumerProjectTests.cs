using System.Text.Json;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Packaging;

/// <summary>
/// New projects that use the packed packages from the local feed, as a user's would: the README's
/// samples compile against them, the core package alone brings no SSH.NET, YAML, hosting or DI
/// container, and a Native AOT publish of an app on the core reports no AOT or trim warnings.
/// </summary>
[Category("Packaging")]
[NonParallelizable]
public sealed class ConsumerProjectTests
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Packages the core must never pull into a consumer (they belong to the integration packages).</summary>
    private static readonly string[] NotInTheCoreClosure =
    [
        "SSH.NET", "YamlDotNet", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Hosting.Abstractions", "Microsoft.Extensions.DependencyInjection",
        "Microsoft.Extensions.Diagnostics.HealthChecks", "Microsoft.Extensions.Diagnostics.HealthChecks.Abstractions", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.Configuration.Abstractions", "Microsoft.Extensions.Configuration.Binder", "Microsoft.Extensions.Options.ConfigurationExtensions",
        "Teleport.MachineId.Extensions.Hosting", "Teleport.MachineId.Configuration", "Teleport.MachineId.SshNet", "Teleport.MachineId.Testing",
    ];

    [Test]
    public async Task The_core_package_alone_compiles_the_readme_samples_and_publishes_as_native_aot_without_warnings()
    {
        PackageFeed.RequireNativeAotToolchain();
        var feed = PackageFeed.Instance;
        await feed.EnsureLibrariesAsync();
        var snippets = ReadmeSnippets.Snippets();
        var project = CreateProject(feed, "core-consumer", ["Teleport.MachineId"], $$"""
            using Teleport.MachineId;
            using Teleport.MachineId.Crypto;
            using Teleport.MachineId.Outputs;

            if (args is ["--readme-sample"])
            {
                await WithoutDependencyInjectionAsync(CancellationToken.None);
                await OneShotAsync(CancellationToken.None);
                return;
            }

            // Exercise the SDK without a cluster: keys, certificates, options validation.
            using var key = PrivateKey.Generate(SignatureAlgorithmSuite.BalancedV1, KeyPurpose.BotImpersonatedIdentity);
            using var authority = LocalCertificateAuthority.Generate("aot.example");
            authority.RoleLogins = new Dictionary<string, IReadOnlyList<string>> { ["access"] = ["root"] };
            var signed = await new LocalSshCertificateSigner(authority).SignAsync(new SshCertificateSigningRequest { PublicKey = key.PublicKey });
            var errors = new MachineIdOptionsValidator().Validate(null, new MachineIdOptions()).Failures;
            Console.WriteLine($"{key.PublicKey.Sha256Fingerprint} {signed.SshCertificate.KeyId} {errors?.Count() ?? 0}");

            static async Task WithoutDependencyInjectionAsync(CancellationToken cancellationToken)
            {
            {{Indent(snippets["WithoutDependencyInjection"])}}
            }

            static async Task OneShotAsync(CancellationToken cancellationToken)
            {
            {{Indent(snippets["OneShot"])}}
            }
            """);

        var publish = await PackageFeed.DotnetAsync(["publish", project, "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", Path.Combine(feed.WorkDirectory, "core-consumer-aot"), "--nologo"],
            feed.WorkDirectory, BuildTimeout);

        Assert.That(publish.ExitCode, Is.Zero, publish.ToString());
        Assert.That(Warnings(publish), Is.Empty, "AOT and trim analysis of the core package and everything it brings");
        Assert.That(Closure(project), Is.Not.Empty.And.None.AnyOf(NotInTheCoreClosure), "the core's dependency closure");
        var run = await SshToolRunner.RunAsync(Path.Combine(feed.WorkDirectory, "core-consumer-aot", "core-consumer"), []);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.StandardOutput, Does.StartWith("SHA256:").And.Contain(" bot-local "), "the native app ran the SDK");
    }

    [Test]
    public async Task The_hosting_package_compiles_the_readme_dependency_injection_sample()
    {
        var feed = PackageFeed.Instance;
        await feed.EnsureLibrariesAsync();
        var snippets = ReadmeSnippets.Snippets();
        var project = CreateProject(feed, "hosting-consumer", ["Teleport.MachineId.Extensions.Hosting"], $$"""
            using Microsoft.Extensions.DependencyInjection;
            using Microsoft.Extensions.Hosting;

            {{snippets["DependencyInjection"]}}
            """, ("Microsoft.Extensions.Hosting", HostingVersion(feed)));

        var build = await PackageFeed.DotnetAsync(["build", project, "-c", "Release", "--nologo"], feed.WorkDirectory, BuildTimeout);

        Assert.That(build.ExitCode, Is.Zero, build.ToString());
        Assert.That(Warnings(build), Is.Empty);
        Assert.That(Closure(project), Does.Contain("Teleport.MachineId").And.None.AnyOf("SSH.NET", "YamlDotNet", "Teleport.MachineId.SshNet", "Teleport.MachineId.Configuration"));
    }

    /// <summary>Writes a console project referencing packages of this run (and others at fixed versions).</summary>
    private static string CreateProject(PackageFeed feed, string name, string[] packages, string program, params (string Id, string Version)[] others)
    {
        var directory = Path.Combine(feed.WorkDirectory, name);
        Directory.CreateDirectory(directory);
        // Stop MSBuild from looking above the work directory for Directory.Build.* files.
        File.WriteAllText(Path.Combine(feed.WorkDirectory, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(feed.WorkDirectory, "Directory.Build.targets"), "<Project />\n");
        var references = string.Concat(packages.Select(p => $"    <PackageReference Include=\"{p}\" Version=\"{feed.Version}\" />\n")
            .Concat(others.Select(o => $"    <PackageReference Include=\"{o.Id}\" Version=\"{o.Version}\" />\n")));
        var path = Path.Combine(directory, name + ".csproj");
        File.WriteAllText(path, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <InvariantGlobalization>true</InvariantGlobalization>
              </PropertyGroup>
              <ItemGroup>
            {references}  </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), program);
        return path;
    }

    /// <summary>Every package in the project's restored dependency graph.</summary>
    private static List<string> Closure(string project)
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(project)!, "obj", "project.assets.json")));
        return [.. assets.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name.Split('/')[0])];
    }

    private static List<string> Warnings(ToolResult result) =>
        [.. result.StandardOutput.Split('\n').Where(l => l.Contains(": warning ", StringComparison.Ordinal)).Select(l => l.Trim()).Distinct()];

    /// <summary>The Microsoft.Extensions.Hosting version the repository builds with.</summary>
    private static string HostingVersion(PackageFeed feed)
    {
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(feed.RepositoryRoot, "Directory.Packages.props"));
        return props.Descendants("PackageVersion").Single(e => (string?)e.Attribute("Include") == "Microsoft.Extensions.Hosting").Attribute("Version")!.Value;
    }

    private static string Indent(string code) => string.Join("\n    ", code.Split('\n'));
}
