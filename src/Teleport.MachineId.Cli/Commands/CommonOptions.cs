using System.CommandLine;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Cli.Commands;

/// <summary>Options shared by every command and the glue that runs a command's body with logging and exit codes.</summary>
internal static class CommonOptions
{
    /// <summary><c>--debug</c>: verbose logging to standard error (recursive: valid after any command).</summary>
    public static Option<bool> Debug => DebugOption.Instance;

    /// <summary>Reads an environment variable (tests replace it).</summary>
    public static Func<string, string?> Environment { get; set; } = System.Environment.GetEnvironmentVariable;

    /// <summary>A TCP port option (1–65535; anything else is a usage error naming the flag).</summary>
    public static Option<int> Port(string name, string? alias, string description, int defaultPort)
    {
        var option = alias is null ? new Option<int>(name) : new Option<int>(name, alias);
        option.Description = description;
        option.DefaultValueFactory = _ => defaultPort;
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<int>();
            if (value is < 1 or > 65535)
            {
                result.AddError($"{name} {value} is not a TCP port (1-65535).");
            }
        });
        return option;
    }

    /// <summary>Refuses values with control characters (a newline in a host name is a mistake or an attack on the logs).</summary>
    public static Option<string> WithoutControlCharacters(this Option<string> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && HasControlCharacters(value))
            {
                result.AddError($"{option.Name} contains control characters (such as a line break).");
            }
        });
        return option;
    }

    /// <summary>Whether a value holds a C0 control character or DEL.</summary>
    public static bool HasControlCharacters(string value) => value.AsSpan().ContainsAnyInRange('\0', '\x1f') || value.Contains('\x7f', StringComparison.Ordinal);

    /// <summary>Runs <paramref name="body"/> with a logger factory; maps exceptions to exit codes with a one-line message.</summary>
    public static Task<int> RunAsync(ParseResult parseResult, LogLevel defaultLevel, Func<ILoggerFactory, Task<int>> body) =>
        RunAsync(parseResult.GetValue(Debug), defaultLevel, body);

    /// <summary>Runs <paramref name="body"/> with a logger factory (Debug level with <paramref name="debug"/>); maps exceptions to exit codes with a one-line message.</summary>
    public static async Task<int> RunAsync(bool debug, LogLevel defaultLevel, Func<ILoggerFactory, Task<int>> body)
    {
        using var loggerFactory = CliLogging.Create(debug, defaultLevel);
        try
        {
            return await body(loggerFactory).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var code = ExitCodes.For(ex);
            var logger = loggerFactory.CreateLogger("tbot-dotnet");
            CliLog.Failed(logger, Describe(ex), ex);
            return code;
        }
    }

    /// <summary>The message of an exception and of a wrapped Teleport cause, on one line.</summary>
    /// <remarks>A tbot.yaml's problems are the one exception: its message lists them, one per line.</remarks>
    public static string Describe(Exception exception) => exception switch
    {
        OperationCanceledException => "Interrupted.",
        IOException { InnerException: TeleportException inner } => CliErrors.OneLine(inner.Message),
        Configuration.TbotConfigurationException config => config.Message,
        _ => CliErrors.OneLine(exception.Message),
    };

    // In its own class so that the ProxyCommand's fast path, which uses this class, never creates
    // System.CommandLine objects (nor loads the assembly).
    private static class DebugOption
    {
        public static readonly Option<bool> Instance = new("--debug", "-d")
        {
            Description = "Verbose logging to standard error (with stack traces).",
            Recursive = true,
        };
    }
}
