using Teleport.MachineId.Tests.Destinations;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>A fresh directory under the temp directory, removed on dispose (even if a test left something immutable in it).</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "tmid-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        if (!Directory.Exists(Path))
        {
            return;
        }

        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException
            && OperatingSystem.IsLinux() && ProcessRunner.Find("chattr") is not null)
        {
            // A test left something immutable (chattr +i): clear it so the tree can go.
            ProcessRunner.Run(ProcessRunner.Find("chattr")!, "-R", "-i", Path);
            Directory.Delete(Path, recursive: true);
        }
    }
}
