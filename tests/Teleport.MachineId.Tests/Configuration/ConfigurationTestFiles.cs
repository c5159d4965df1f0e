namespace Teleport.MachineId.Tests.Configuration;

/// <summary>Locates the configuration golden files and the repository's examples.</summary>
internal static class ConfigurationTestFiles
{
    public static string GoldenPath(string name) =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "Configuration", name);

    public static string Golden(string name) => File.ReadAllText(GoldenPath(name));

    /// <summary>A file of the repository (e.g. <c>examples/tbot.yaml</c>), found from the test output directory.</summary>
    public static string RepositoryPath(string relative)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Teleport.MachineId.sln")))
            {
                return Path.Combine(dir.FullName, relative);
            }
        }

        throw new InvalidOperationException("the repository root (Teleport.MachineId.sln) is not above the test directory");
    }
}
