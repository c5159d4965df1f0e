using System.Globalization;
using System.Text;

namespace Teleport.MachineId.Configuration;

/// <summary>
/// A tbot configuration could not be read: malformed YAML, unknown keys, invalid values, or
/// features Teleport.MachineId does not support. <see cref="Errors"/> lists every problem found,
/// each with its YAML path and, where known, its line and column.
/// </summary>
/// <remarks>The message lists the same problems; neither ever contains the join token.</remarks>
public sealed class TbotConfigurationException : TeleportFormatException
{
    /// <summary>Creates an exception listing <paramref name="errors"/>.</summary>
    /// <param name="errors">The problems found; at least one.</param>
    /// <param name="sourceName">The file the configuration came from, for the message; null when not from a file.</param>
    public TbotConfigurationException(IReadOnlyList<TbotConfigurationIssue> errors, string? sourceName = null)
        : base(FormatMessage(errors, sourceName))
    {
        Errors = errors;
    }

    /// <summary>Every problem found, in document order where possible.</summary>
    public IReadOnlyList<TbotConfigurationIssue> Errors { get; }

    private static string FormatMessage(IReadOnlyList<TbotConfigurationIssue> errors, string? sourceName)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var builder = new StringBuilder("tbot configuration");
        if (!string.IsNullOrEmpty(sourceName))
        {
            builder.Append(' ').Append(sourceName);
        }

        builder.Append(CultureInfo.InvariantCulture, $" is not usable ({errors.Count} problem{(errors.Count == 1 ? string.Empty : "s")}):");
        foreach (var error in errors)
        {
            builder.Append('\n').Append("  - ").Append(error);
        }

        return builder.ToString();
    }
}
