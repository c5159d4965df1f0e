using System.Globalization;

namespace Teleport.MachineId.Configuration;

/// <summary>One problem (error or warning) found in a tbot configuration, with where it is.</summary>
/// <param name="Path">
/// The YAML path of the value, e.g. <c>services[1].destination.type</c>; empty for the document
/// itself. Entries of the deprecated <c>outputs</c> list keep their <c>outputs[i]</c> path.
/// </param>
/// <param name="Message">What is wrong and how to fix it. Never contains the join token.</param>
/// <param name="Line">The 1-based line in the file, when the problem has a position.</param>
/// <param name="Column">The 1-based column in the file, when the problem has a position.</param>
public sealed record TbotConfigurationIssue(string Path, string Message, int? Line = null, int? Column = null)
{
    /// <summary>Formats the issue as <c>path (line L, column C): message</c>.</summary>
    /// <returns>The issue as one line.</returns>
    public override string ToString()
    {
        var where = Path.Length == 0 ? "(document)" : Path;
        if (Line is { } line)
        {
            where += Column is { } column
                ? string.Create(CultureInfo.InvariantCulture, $" (line {line}, column {column})")
                : string.Create(CultureInfo.InvariantCulture, $" (line {line})");
        }

        return where + ": " + Message;
    }
}
