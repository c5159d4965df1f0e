using System.Text;

namespace Teleport.MachineId.Tests.Infrastructure;

/// <summary>
/// Text another process writes to a pipe, collected line by line in the background and readable at
/// any moment (an ssh session's or a daemon's standard error).
/// </summary>
internal sealed class CollectedLines
{
    private readonly StringBuilder _text = new();

    /// <summary>Starts reading <paramref name="reader"/> to its end; the task completes when the writer closes it.</summary>
    public CollectedLines(StreamReader reader) => Completion = CollectAsync(reader);

    /// <summary>Completes when the pipe has been read to its end.</summary>
    public Task Completion { get; }

    /// <summary>Everything collected so far.</summary>
    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    private async Task CollectAsync(StreamReader reader)
    {
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            lock (_text)
            {
                _text.AppendLine(line);
            }
        }
    }
}
