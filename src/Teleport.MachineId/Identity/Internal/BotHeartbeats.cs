using System.Reflection;
using System.Runtime.InteropServices;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// The bot instance heartbeat as tbot fills it (<c>BotInstanceStatusHeartbeat</c>): this library's
/// version, the host name, uptime, join method, one-shot flag, and the architecture and operating
/// system under Go's names (<c>runtime.GOARCH</c>, <c>runtime.GOOS</c>), which Teleport shows and
/// filters on.
/// </summary>
internal static class BotHeartbeats
{
    /// <summary>The library's informational version (for example <c>0.1.0+3f2a…</c>), as tbot sends Teleport's version.</summary>
    public static string Version { get; } =
        typeof(BotHeartbeats).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(BotHeartbeats).Assembly.GetName().Version?.ToString(3)
        ?? "unknown";

    /// <summary><c>runtime.GOARCH</c> of this process.</summary>
    public static string GoArchitecture { get; } = ToGoArchitecture(RuntimeInformation.ProcessArchitecture);

    /// <summary><c>runtime.GOOS</c> of this process.</summary>
    public static string GoOperatingSystem { get; } =
        OperatingSystem.IsLinux() ? "linux"
        : OperatingSystem.IsWindows() ? "windows"
        : OperatingSystem.IsMacOS() || OperatingSystem.IsMacCatalyst() ? "darwin"
        : OperatingSystem.IsFreeBSD() ? "freebsd"
        : OperatingSystem.IsAndroid() ? "android"
        : OperatingSystem.IsIOS() ? "ios"
        : OperatingSystem.IsBrowser() || OperatingSystem.IsWasi() ? "js"
        : "unknown";

    /// <summary>A heartbeat recorded now.</summary>
    public static BotHeartbeat Create(string joinMethod, bool isStartup, bool oneShot, TimeSpan uptime, DateTimeOffset now) => new()
    {
        RecordedAt = now,
        IsStartup = isStartup,
        Version = Version,
        Hostname = Environment.MachineName,
        Uptime = uptime,
        JoinMethod = joinMethod,
        OneShot = oneShot,
        Architecture = GoArchitecture,
        OperatingSystem = GoOperatingSystem,
    };

    /// <summary>Go's name of a processor architecture.</summary>
    public static string ToGoArchitecture(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.X86 => "386",
        Architecture.Arm64 => "arm64",
        Architecture.Arm or Architecture.Armv6 => "arm",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        Architecture.LoongArch64 => "loong64",
        Architecture.Wasm => "wasm",
        _ => architecture.ToString().ToLowerInvariant(),
    };
}
