namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>
/// Inputs that once broke a parser under fuzzing (<c>tests/Teleport.MachineId.Fuzz/Crashes</c>,
/// copied next to the tests); regression tests beside each parser read them by name.
/// </summary>
public static class FuzzCrashes
{
    /// <summary>Where the fuzz project's <c>Corpus</c> and <c>Crashes</c> folders are copied.</summary>
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "Fuzz");

    /// <summary>The bytes of <c>Crashes/<paramref name="target"/>/<paramref name="name"/></c>.</summary>
    public static byte[] Read(string target, string name) => File.ReadAllBytes(Path.Combine(Root, "Crashes", target, name));
}
