using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Cli;

/// <summary>
/// A small logger that writes one line per message to standard error (standard output belongs to
/// the SSH stream in <c>ssh-proxy-command</c> and to command output elsewhere). Deliberately not
/// Microsoft.Extensions.Logging.Console: no background thread, nothing to load, fast to start.
/// </summary>
internal sealed class StderrLoggerProvider(LogLevel minimum, TextWriter writer, bool includeExceptions) : ILoggerProvider
{
    private readonly Lock _gate = new();

    public ILogger CreateLogger(string categoryName) =>
        new StderrLogger(this, ShortCategory(categoryName), MinimumFor(categoryName));

    // grpc-dotnet logs every failed call at Information ("Call failed with gRPC error status…"); the
    // SDK reports the same failure in its own words, so its chatter shows only with --debug.
    private LogLevel MinimumFor(string category) =>
        category.StartsWith("Grpc.", StringComparison.Ordinal) && _minimum > LogLevel.Debug ? LogLevel.Warning : _minimum;

    public void Dispose()
    {
    }

    private static string ShortCategory(string category)
    {
        var dot = category.LastIndexOf('.');
        return dot >= 0 ? category[(dot + 1)..] : category;
    }

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {Label(level)} [{category}] {Neutralize(message)}");
        lock (_gate)
        {
            writer.WriteLine(line);
            if (exception is not null && includeExceptions)
            {
                writer.WriteLine(exception.ToString());
            }

            writer.Flush();
        }
    }

    /// <summary>
    /// Makes a message safe to print whatever values it quotes (a host name from ssh's %h, a file
    /// name): every further line is indented, so no value can start a line that looks like a log
    /// entry of its own, and other control characters (carriage return, terminal escapes) are shown
    /// as <c>\xNN</c> instead of acting on the terminal.
    /// </summary>
    internal static string Neutralize(string message)
    {
        if (!message.AsSpan().ContainsAnyInRange('\0', '\x1f') && !message.Contains('\x7f', StringComparison.Ordinal))
        {
            return message;
        }

        var builder = new System.Text.StringBuilder(message.Length + 16);
        foreach (var c in message)
        {
            if (c == '\n')
            {
                builder.Append("\n  ");
            }
            else if (c == '\t')
            {
                builder.Append(c);
            }
            else if (c < ' ' || c == '\x7f')
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static string Label(LogLevel level) => level switch
    {
        LogLevel.Trace => "TRACE",
        LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO ",
        LogLevel.Warning => "WARN ",
        LogLevel.Error => "ERROR",
        _ => "FATAL",
    };

    private sealed class StderrLogger(StderrLoggerProvider provider, string category, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, category, formatter(state, exception), exception);
            }
        }
    }

    private readonly LogLevel _minimum = minimum;
}

/// <summary>Creates the CLI's logger factory (no dependency injection: the ProxyCommand must start fast).</summary>
internal sealed class CliLogging : ILoggerFactory
{
    private readonly StderrLoggerProvider _provider;

    private CliLogging(StderrLoggerProvider provider) => _provider = provider;

    /// <summary>Information by default (Warning for the ProxyCommand, whose stderr ssh shows), Debug with <c>--debug</c>.</summary>
    public static ILoggerFactory Create(bool debug, LogLevel defaultLevel = LogLevel.Information, TextWriter? writer = null)
    {
        var level = debug ? LogLevel.Debug : defaultLevel;
        return new CliLogging(new StderrLoggerProvider(level, writer ?? Console.Error, includeExceptions: debug));
    }

    public ILogger CreateLogger(string categoryName) => _provider.CreateLogger(categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("The CLI logs to standard error only.");

    public void Dispose() => _provider.Dispose();
}
