using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Teleport.MachineId.Cli;

/// <summary>
/// Turns failures of a <c>start</c> run that the user can fix into one-line messages naming the
/// flag, tbot.yaml key or environment variable they wrote (the SDK's messages name its options).
/// </summary>
internal static partial class CliErrors
{
    /// <summary>The failure to report for <paramref name="exception"/>, which ended a run of <paramref name="plan"/>.</summary>
    public static Exception ForRun(Exception exception, BotRunPlan plan) => exception switch
    {
        BotJoinRequiredException { Reason: BotJoinRequiredReason.NoIdentity } => CliException.Usage(NoTokenMessage(plan), exception),
        BotJoinRequiredException joinRequired => CliException.Refused(WithSettingNames(joinRequired.Message, plan.Names), exception),
        Destinations.DestinationException destination when SettingOf(destination, plan) is { } setting =>
            new CliException(ExitCodes.For(destination), $"{setting}: {OneLine(destination.Message)}", exception),
        OptionsValidationException validation => CliException.Usage(
            WithSettingNames(string.Join(" ", validation.Failures.Select(f => f.Trim())), plan.Names), exception),
        _ => exception,
    };

    /// <summary>Replaces SDK option names (<c>RenewalInterval</c>) with the settings the user wrote (<c>--renewal-interval</c>).</summary>
    public static string WithSettingNames(string message, CliSettingNames names)
    {
        foreach (var (property, setting) in names.PropertySettings())
        {
            message = Regex.Replace(message, $@"\b{property}\b", setting, RegexOptions.CultureInvariant);
        }

        return message;
    }

    /// <summary>A message on one line, without the "(Parameter 'x')" suffix argument exceptions add.</summary>
    public static string OneLine(string message) => ParameterSuffix().Replace(message, string.Empty).ReplaceLineEndings(" ").Trim();

    /// <summary>The storage or output destination a destination failure is about, as the user named it.</summary>
    private static string? SettingOf(Destinations.DestinationException exception, BotRunPlan plan)
    {
        if (exception.Path is not { } path)
        {
            return null;
        }

        if (plan.Bot.StoragePath is { } storage && IsWithin(path, storage))
        {
            return plan.Names.Storage;
        }

        for (var i = 0; i < plan.Outputs.Count; i++)
        {
            if (plan.Outputs[i].Destination is Destinations.DirectoryDestination directory && IsWithin(path, directory.Path))
            {
                return plan.Names.Destination(i);
            }
        }

        return null;
    }

    private static bool IsWithin(string path, string directory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var candidate = Path.GetFullPath(path);
        return candidate == full || candidate.StartsWith(full + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    private static string NoTokenMessage(BotRunPlan plan)
    {
        var names = plan.Names;
        var where = plan.Bot.StorageType == BotStorageType.Memory
            ? $" ({names.Storage} is memory://, which keeps nothing between runs)"
            : $" in {plan.Bot.StoragePath}";
        var need = plan.Bot.TokenFile is { } file
            ? $"the join token file '{file}' given with {names.Token} is missing or empty; write a new join token there"
            : plan.Bot.Token is not null
                ? $"the join token given with {names.Token} is empty"
                : $"no join token was given: set {names.Token} to a token or to the absolute path of a file holding one";
        return $"The bot has no stored identity{where}, so it must join the cluster, but {need}.";
    }

    [GeneratedRegex(@"\s*\(Parameter '[^']*'\)")]
    private static partial Regex ParameterSuffix();
}
