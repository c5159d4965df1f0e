using Microsoft.Extensions.Logging;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Cli;

/// <summary>What <c>start</c> runs: the bot's options, its identity outputs, and whether to stop after one round.</summary>
internal sealed class BotRunPlan
{
    public required MachineIdOptions Bot { get; init; }

    public required IReadOnlyList<IdentityOutputOptions> Outputs { get; init; }

    public bool Oneshot { get; init; }

    /// <summary>
    /// Builds the plan from tbot's v2 YAML (already validated by the reader) with the public mapping
    /// (<see cref="TbotConfigurationExtensions"/>), plus what only the command line says.
    /// </summary>
    public static BotRunPlan FromConfiguration(TbotConfiguration configuration, string? proxyCaBundle, ILoggerFactory loggerFactory)
    {
        var bot = configuration.ToMachineIdOptions();
        bot.ProxyCaBundlePath = proxyCaBundle;
        return new BotRunPlan { Bot = bot, Outputs = configuration.ToIdentityOutputOptions(loggerFactory), Oneshot = configuration.Oneshot };
    }

    /// <summary>A <c>--storage</c> or <c>--destination</c> value: <c>memory://</c>, <c>file:///path</c> or a path.</summary>
    /// <exception cref="ArgumentException">An unsupported URI scheme.</exception>
    public static (bool Memory, string? Path) ParseLocation(string value, string flag)
    {
        if (value.StartsWith("memory://", StringComparison.OrdinalIgnoreCase))
        {
            return (true, null);
        }

        if (value.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            var path = value["file://".Length..];
            return (false, Path.GetFullPath(path.Length == 0 ? "." : path));
        }

        if (value.Contains("://", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{flag}: '{value}' is not supported; use a directory path, file:///path or memory://.");
        }

        return (false, Path.GetFullPath(value));
    }
}
