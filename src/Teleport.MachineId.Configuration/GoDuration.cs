using System.Globalization;
using System.Text;

namespace Teleport.MachineId.Configuration;

/// <summary>
/// Durations in the syntax of Go's <c>time.ParseDuration</c> / <c>time.Duration.String</c>, which
/// tbot uses for <c>credential_ttl</c>, <c>renewal_interval</c> and its command-line flags.
/// </summary>
/// <remarks>
/// A duration is an optionally signed sequence of decimal numbers, each with an optional fraction
/// and a unit: <c>ns</c>, <c>us</c> (or <c>µs</c>/<c>μs</c>), <c>ms</c>, <c>s</c>, <c>m</c>,
/// <c>h</c> — for example <c>20m</c>, <c>1m0s</c>, <c>1h30m</c>, <c>500ms</c>, <c>1.5h</c>, <c>-2m</c>.
/// <c>0</c> is the only value allowed without a unit. The range is Go's (about ±292 years);
/// <see cref="TimeSpan"/> keeps 100 ns ticks, so a nonzero value below one tick becomes one tick.
/// </remarks>
public static class GoDuration
{
    private const ulong Nanosecond = 1;
    private const ulong Microsecond = 1000 * Nanosecond;
    private const ulong Millisecond = 1000 * Microsecond;
    private const ulong Second = 1000 * Millisecond;
    private const ulong Minute = 60 * Second;
    private const ulong Hour = 60 * Minute;
    private const ulong NanosecondsPerTick = 100;
    private const ulong MaxMagnitude = 1UL << 63; // |long.MinValue|; positive values stop one below

    /// <summary>Parses a Go duration such as <c>20m</c> or <c>1h30m</c>.</summary>
    /// <param name="text">The duration text.</param>
    /// <returns>The duration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="TeleportFormatException">The text is not a Go duration; the message says why.</exception>
    public static TimeSpan Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParseNanoseconds(text, out var nanoseconds, out var error)
            ? FromNanoseconds(nanoseconds)
            : throw new TeleportFormatException(error);
    }

    /// <summary>Parses a Go duration, reporting failure instead of throwing.</summary>
    /// <param name="text">The duration text.</param>
    /// <param name="value">The duration, or <see cref="TimeSpan.Zero"/> on failure.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is a Go duration.</returns>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        if (text is not null && TryParseNanoseconds(text, out var nanoseconds, out _))
        {
            value = FromNanoseconds(nanoseconds);
            return true;
        }

        value = TimeSpan.Zero;
        return false;
    }

    /// <summary>Formats a duration the way Go's <c>time.Duration.String</c> does (<c>1h0m0s</c>, <c>1m30s</c>, <c>500ms</c>, <c>0s</c>).</summary>
    /// <param name="value">The duration.</param>
    /// <returns>The Go text of the duration.</returns>
    public static string Format(TimeSpan value)
    {
        var negative = value.Ticks < 0;
        var magnitude = (UInt128)(negative ? (ulong)(-(value.Ticks + 1)) + 1 : (ulong)value.Ticks) * NanosecondsPerTick;
        if (magnitude == 0)
        {
            return "0s";
        }

        var builder = new StringBuilder(24);
        if (negative)
        {
            builder.Append('-');
        }

        if (magnitude < Second)
        {
            var u = (ulong)magnitude;
            if (u < Microsecond)
            {
                builder.Append(u.ToString(CultureInfo.InvariantCulture)).Append("ns");
            }
            else if (u < Millisecond)
            {
                AppendWithFraction(builder, u, 3).Append("µs");
            }
            else
            {
                AppendWithFraction(builder, u, 6).Append("ms");
            }

            return builder.ToString();
        }

        var totalSeconds = magnitude / Second;
        var fraction = (ulong)(magnitude % Second);
        var hours = totalSeconds / 3600;
        var minutes = (ulong)(totalSeconds / 60 % 60);
        var seconds = (ulong)(totalSeconds % 60);
        if (hours > 0)
        {
            builder.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || minutes > 0)
        {
            builder.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        builder.Append(seconds.ToString(CultureInfo.InvariantCulture));
        AppendFraction(builder, fraction, 9);
        return builder.Append('s').ToString();
    }

    /// <summary>Parses to nanoseconds with Go's rules; the error message quotes the text.</summary>
    internal static bool TryParseNanoseconds(string text, out long nanoseconds, out string error)
    {
        nanoseconds = 0;
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s is "0")
        {
            error = string.Empty;
            return true;
        }

        if (s.IsEmpty)
        {
            error = Invalid(text, "expected a number followed by a unit, e.g. 20m");
            return false;
        }

        ulong total = 0;
        while (!s.IsEmpty)
        {
            if (s[0] != '.' && !char.IsAsciiDigit(s[0]))
            {
                error = Invalid(text, "expected a number followed by a unit, e.g. 20m");
                return false;
            }

            var before = s.Length;
            if (!TryLeadingInt(ref s, out var whole))
            {
                error = Invalid(text, "the number is too large");
                return false;
            }

            var hasWhole = before != s.Length;
            ulong fraction = 0;
            double scale = 1;
            var hasFraction = false;
            if (!s.IsEmpty && s[0] == '.')
            {
                s = s[1..];
                before = s.Length;
                LeadingFraction(ref s, out fraction, out scale);
                hasFraction = before != s.Length;
            }

            if (!hasWhole && !hasFraction)
            {
                error = Invalid(text, "a '.' needs digits before or after it");
                return false;
            }

            var unitLength = 0;
            while (unitLength < s.Length && s[unitLength] != '.' && !char.IsAsciiDigit(s[unitLength]))
            {
                unitLength++;
            }

            if (unitLength == 0)
            {
                error = $"'{text}' is not a duration: missing unit (use ns, us, ms, s, m or h, e.g. 30s or 20m)";
                return false;
            }

            var unitText = s[..unitLength];
            s = s[unitLength..];
            var unit = UnitOf(unitText);
            if (unit == 0)
            {
                error = $"'{text}' is not a duration: unknown unit '{unitText}' (use ns, us, ms, s, m or h)";
                return false;
            }

            if (whole > MaxMagnitude / unit)
            {
                error = Invalid(text, "it is out of range (at most about 2562047h)");
                return false;
            }

            whole *= unit;
            if (fraction > 0)
            {
                whole += (ulong)(fraction * (unit / scale));
                if (whole > MaxMagnitude)
                {
                    error = Invalid(text, "it is out of range (at most about 2562047h)");
                    return false;
                }
            }

            total += whole;
            if (total > MaxMagnitude)
            {
                error = Invalid(text, "it is out of range (at most about 2562047h)");
                return false;
            }
        }

        if (negative)
        {
            nanoseconds = total == MaxMagnitude ? long.MinValue : -(long)total;
        }
        else if (total > long.MaxValue)
        {
            error = Invalid(text, "it is out of range (at most about 2562047h)");
            return false;
        }
        else
        {
            nanoseconds = (long)total;
        }

        error = string.Empty;
        return true;
    }

    private static string Invalid(string text, string why) => $"'{text}' is not a duration: {why}";

    private static ulong UnitOf(ReadOnlySpan<char> unit) => unit switch
    {
        "ns" => Nanosecond,
        "us" or "µs" or "μs" => Microsecond, // U+00B5 micro sign and U+03BC Greek mu
        "ms" => Millisecond,
        "s" => Second,
        "m" => Minute,
        "h" => Hour,
        _ => 0,
    };

    private static bool TryLeadingInt(ref ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (value > MaxMagnitude / 10)
            {
                return false;
            }

            value = (value * 10) + (ulong)(s[i] - '0');
            if (value > MaxMagnitude)
            {
                return false;
            }
        }

        s = s[i..];
        return true;
    }

    private static void LeadingFraction(ref ReadOnlySpan<char> s, out ulong value, out double scale)
    {
        value = 0;
        scale = 1;
        var overflow = false;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (overflow)
            {
                continue;
            }

            if (value > (long.MaxValue - 9) / 10)
            {
                // Further digits cannot change the result at nanosecond precision.
                overflow = true;
                continue;
            }

            value = (value * 10) + (ulong)(s[i] - '0');
            scale *= 10;
        }

        s = s[i..];
    }

    private static TimeSpan FromNanoseconds(long nanoseconds)
    {
        var ticks = nanoseconds / (long)NanosecondsPerTick;
        if (ticks == 0 && nanoseconds != 0)
        {
            ticks = Math.Sign(nanoseconds);
        }

        return TimeSpan.FromTicks(ticks);
    }

    private static StringBuilder AppendWithFraction(StringBuilder builder, ulong value, int precision)
    {
        var divisor = Pow10(precision);
        builder.Append((value / divisor).ToString(CultureInfo.InvariantCulture));
        AppendFraction(builder, value % divisor, precision);
        return builder;
    }

    private static void AppendFraction(StringBuilder builder, ulong fraction, int precision)
    {
        if (fraction == 0)
        {
            return;
        }

        var digits = fraction.ToString(CultureInfo.InvariantCulture).PadLeft(precision, '0').TrimEnd('0');
        builder.Append('.').Append(digits);
    }

    private static ulong Pow10(int exponent)
    {
        ulong result = 1;
        for (var i = 0; i < exponent; i++)
        {
            result *= 10;
        }

        return result;
    }
}
