using System.IO.Compression;
using System.Xml.Linq;

namespace Teleport.MachineId.Tests.Packaging;

/// <summary>What each package carries: README, XML docs, symbols, its dependencies, and the tool packages' shape.</summary>
[Category("Packaging")]
[NonParallelizable]
public sealed class PackageContentsTests
{
    [TestCaseSource(typeof(PackageFeed), nameof(PackageFeed.LibraryPackageIds))]
    public async Task A_library_package_has_a_readme_xml_docs_symbols_and_a_license(string id)
    {
        var feed = PackageFeed.Instance;
        await feed.EnsureLibrariesAsync();

        using var package = ZipFile.OpenRead(feed.PackagePath(id));
        var nuspec = Nuspec(package, id);
        var entries = package.Entries.Select(e => e.FullName).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(Metadata(nuspec, "readme"), Is.EqualTo("README.md"));
            Assert.That(entries, Does.Contain("README.md"));
            Assert.That(entries, Does.Contain($"lib/net10.0/{id}.dll"));
            Assert.That(entries, Does.Contain($"lib/net10.0/{id}.xml"), "XML documentation");
            Assert.That(Metadata(nuspec, "license"), Is.EqualTo("Apache-2.0"));
            Assert.That(nuspec.Descendants(nuspec.Root!.Name.Namespace + "repository").Single().Attribute("commit")?.Value, Has.Length.EqualTo(40), "source commit recorded");
            Assert.That(File.Exists(feed.PackagePath(id, "snupkg")), Is.True, "symbols package");
        });
        using var symbols = ZipFile.OpenRead(feed.PackagePath(id, "snupkg"));
        Assert.That(symbols.Entries.Select(e => e.FullName), Does.Contain($"lib/net10.0/{id}.pdb"));
    }

    [Test]
    public async Task The_core_package_depends_only_on_what_every_consumer_needs()
    {
        var feed = PackageFeed.Instance;
        await feed.EnsureLibrariesAsync();

        using var package = ZipFile.OpenRead(feed.PackagePath("Teleport.MachineId"));
        var dependencies = Nuspec(package, "Teleport.MachineId").Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value);

        Assert.That(dependencies, Is.EquivalentTo(new[]
        {
            "Grpc.Net.Client", "Google.Protobuf", "BouncyCastle.Cryptography", "Microsoft.Extensions.Options", "Microsoft.Extensions.Logging.Abstractions",
        }));
    }

    [Test]
    public async Task The_tbot_dotnet_pointer_package_names_a_native_linux_x64_package_and_a_portable_fallback()
    {
        var feed = PackageFeed.Instance;
        await feed.EnsureLibrariesAsync();

        using var package = ZipFile.OpenRead(feed.PackagePath("Teleport.MachineId.Cli"));
        var settings = package.Entries.Single(e => e.FullName.EndsWith("DotnetToolSettings.xml", StringComparison.Ordinal));
        using var stream = settings.Open();
        var document = XDocument.Load(stream);
        var packages = document.Descendants("RuntimeIdentifierPackage").ToDictionary(e => e.Attribute("RuntimeIdentifier")!.Value, e => e.Attribute("Id")!.Value);

        Assert.That(packages, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["linux-x64"] = "Teleport.MachineId.Cli.linux-x64",
            ["any"] = "Teleport.MachineId.Cli.any",
        }));
        Assert.That(document.Descendants("Command").Single().Attribute("Name")!.Value, Is.EqualTo("tbot-dotnet"));
    }

    [Test]
    public async Task The_emulator_tool_is_its_own_package_and_tbot_dotnet_does_not_carry_asp_net_core()
    {
        var feed = PackageFeed.Instance;
        await feed.EnsureFallbackToolAsync();

        using var emulator = ZipFile.OpenRead(feed.PackagePath("Teleport.MachineId.Testing.Tool"));
        using var fallback = ZipFile.OpenRead(feed.PackagePath("Teleport.MachineId.Cli.any"));
        var runtimeConfig = fallback.Entries.Single(e => e.FullName.EndsWith("tbot-dotnet.runtimeconfig.json", StringComparison.Ordinal));
        using var reader = new StreamReader(runtimeConfig.Open());
        var json = await reader.ReadToEndAsync();

        Assert.Multiple(() =>
        {
            Assert.That(emulator.Entries.Select(e => e.Name), Does.Contain("tbot-dotnet-emulator.dll").And.Contain("Teleport.MachineId.Testing.dll"));
            Assert.That(json, Does.Contain("Microsoft.NETCore.App").And.Not.Contain("Microsoft.AspNetCore.App"));
            Assert.That(fallback.Entries.Select(e => e.Name), Has.None.StartsWith("Teleport.MachineId.Testing").And.None.StartsWith("Microsoft.AspNetCore").And.None.StartsWith("Grpc.AspNetCore"));
        });
    }

    internal static XDocument Nuspec(ZipArchive package, string id)
    {
        using var stream = package.Entries.Single(e => e.FullName == id + ".nuspec").Open();
        return XDocument.Load(stream);
    }

    private static string? Metadata(XDocument nuspec, string name) =>
        nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name && e.Parent?.Name.LocalName == "metadata")?.Value;
}
