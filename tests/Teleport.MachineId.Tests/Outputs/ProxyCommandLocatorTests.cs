using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>Which program the generated ssh_config runs when tbot-dotnet is an installed .NET tool.</summary>
public sealed class ProxyCommandLocatorTests
{
    [Test]
    public void An_installed_tool_is_run_through_its_command_link_not_the_versioned_store_path()
    {
        using var tools = new TempDirectory("tmid-tools-");
        var program = tools.Combine(".store", "teleport.machineid.cli", "0.1.0", "teleport.machineid.cli.linux-x64", "0.1.0", "tools", "any", "linux-x64", "tbot-dotnet");
        Directory.CreateDirectory(Path.GetDirectoryName(program)!);
        File.WriteAllText(program, "");
        File.CreateSymbolicLink(tools.Combine("tbot-dotnet"), Path.GetRelativePath(tools.Path, program));

        Assert.That(ProxyCommandLocator.InstalledToolLink(program), Is.EqualTo(tools.Combine("tbot-dotnet")));
    }

    [Test]
    public void A_program_outside_a_tool_store_or_without_a_matching_link_is_run_by_its_own_path()
    {
        using var tools = new TempDirectory("tmid-tools-");
        var program = tools.Combine(".store", "x", "tbot-dotnet");
        Directory.CreateDirectory(Path.GetDirectoryName(program)!);
        File.WriteAllText(program, "");
        File.WriteAllText(tools.Combine("other"), "");
        File.CreateSymbolicLink(tools.Combine("tbot-dotnet"), tools.Combine("other"));

        Assert.Multiple(() =>
        {
            Assert.That(ProxyCommandLocator.InstalledToolLink(tools.Combine("bin", "tbot-dotnet")), Is.Null);
            Assert.That(ProxyCommandLocator.InstalledToolLink(program), Is.Null, "the link points elsewhere");
        });
    }
}
