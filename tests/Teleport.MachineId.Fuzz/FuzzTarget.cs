using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Text;

namespace Teleport.MachineId.Fuzz;

/// <summary>
/// One parser under fuzzing: what it reads, how to feed it bytes, and which exceptions its API
/// documents for bad input. Anything else escaping <see cref="Execute"/> is a bug in the parser
/// (AFL++ records it as a crash; the NUnit replay fails on it).
/// </summary>
internal sealed class FuzzTarget
{
    /// <summary>Inputs larger than this are cut: every parser has its own, smaller limit (AFL++ caps files at 1 MiB too).</summary>
    public const int MaxInputLength = 1024 * 1024;

    private readonly Action<byte[]> _parse;
    private readonly Type[] _documented;

    public FuzzTarget(string name, string reads, Action<byte[]> parse, params Type[] documented)
    {
        Name = name;
        Reads = reads;
        _parse = parse;
        _documented = documented.Length == 0 ? [typeof(TeleportFormatException)] : documented;
    }

    /// <summary>The name used on the command line and as the corpus folder.</summary>
    public string Name { get; }

    /// <summary>What outside input the target stands for.</summary>
    public string Reads { get; }

    /// <summary>The exceptions the parser's API documents for malformed input.</summary>
    public IReadOnlyList<Type> DocumentedExceptions => _documented;

    /// <summary>Feeds one input; documented exceptions are the correct outcome for bad input and are swallowed.</summary>
    /// <returns>Whether the input was accepted (false: rejected with a documented exception).</returns>
    public bool Execute(ReadOnlySpan<byte> input)
    {
        var bytes = input.Length > MaxInputLength ? input[..MaxInputLength].ToArray() : input.ToArray();
        try
        {
            _parse(bytes);
            return true;
        }
        catch (Exception ex) when (IsDocumented(ex))
        {
            return false;
        }
    }

    /// <summary>Whether <paramref name="exception"/> is one the API documents for bad input.</summary>
    public bool IsDocumented(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var type = exception.GetType();
        return _documented.Any(t => t.IsAssignableFrom(type));
    }

    public override string ToString() => Name;
}

/// <summary>Helpers for targets.</summary>
internal static class FuzzInput
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> Properties = new();

    /// <summary>The input as text, as a file reader would decode it (invalid UTF-8 becomes U+FFFD).</summary>
    public static string Text(byte[] input) => Utf8.GetString(input);

    /// <summary>
    /// Reads every public property of a parsed value (and of the values in its lists), so lazily
    /// decoded parts are parsed too; getters' exceptions surface unwrapped.
    /// </summary>
    public static void Observe(object? value, int depth = 0)
    {
        if (value is null || depth > 3 || value is string || value.GetType().IsPrimitive || value is Type)
        {
            return;
        }

        if (value is IEnumerable items)
        {
            var count = 0;
            foreach (var item in items)
            {
                if (++count > 64)
                {
                    break;
                }

                Observe(item, depth + 1);
            }

            return;
        }

        var type = value.GetType();
        if (type.Namespace?.StartsWith("Teleport.MachineId", StringComparison.Ordinal) != true)
        {
            return;
        }

        foreach (var property in Properties.GetOrAdd(type, t => t
                     .GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .Where(p => p.CanRead && p.GetIndexParameters().Length == 0)
                     .ToArray()))
        {
            object? result;
            try
            {
                result = property.GetValue(value);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                ExceptionDispatchInfo.Throw(ex.InnerException);
                throw;
            }

            Observe(result, depth + 1);
        }

        _ = value.ToString();
    }
}
