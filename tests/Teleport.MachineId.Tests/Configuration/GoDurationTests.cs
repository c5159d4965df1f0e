using Teleport.MachineId.Configuration;

namespace Teleport.MachineId.Tests.Configuration;

public sealed class GoDurationTests
{
    private static readonly TimeSpan OneNanosecondTick = TimeSpan.FromTicks(1);

    // Expected values follow Go's time.ParseDuration.
    [TestCase("1h", 36_000_000_000L)]
    [TestCase("20m", 12_000_000_000L)]
    [TestCase("1m0s", 600_000_000L)]
    [TestCase("1h30m", 54_000_000_000L)]
    [TestCase("500ms", 5_000_000L)]
    [TestCase("1.5h", 54_000_000_000L)]
    [TestCase("0", 0L)]
    [TestCase("-0", 0L)]
    [TestCase("0s", 0L)]
    [TestCase("-2m", -1_200_000_000L)]
    [TestCase("+5s", 50_000_000L)]
    [TestCase("1us", 10L)]
    [TestCase("1\u00B5s", 10L)] // micro sign
    [TestCase("1\u03BCs", 10L)] // Greek mu
    [TestCase("1500ns", 15L)]
    [TestCase(".5s", 5_000_000L)]
    [TestCase("1.s", 10_000_000L)]
    [TestCase("1h1m1s1ms1us", 36_610_010_010L)]
    [TestCase("30s", 300_000_000L)]
    public void Parses_go_durations(string text, long expectedTicks)
    {
        Assert.Multiple(() =>
        {
            Assert.That(GoDuration.Parse(text), Is.EqualTo(TimeSpan.FromTicks(expectedTicks)));
            Assert.That(GoDuration.TryParse(text, out var value), Is.True);
            Assert.That(value, Is.EqualTo(TimeSpan.FromTicks(expectedTicks)));
        });
    }

    [Test]
    public void Two_hours_45_minutes_30_and_a_half_seconds()
    {
        Assert.That(
            GoDuration.Parse("2h45m30.5s"),
            Is.EqualTo(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(45) + TimeSpan.FromSeconds(30.5)));
    }

    [Test]
    public void Below_one_tick_becomes_one_tick_not_zero()
    {
        Assert.Multiple(() =>
        {
            Assert.That(GoDuration.Parse("1ns"), Is.EqualTo(OneNanosecondTick));
            Assert.That(GoDuration.Parse("-1ns"), Is.EqualTo(-OneNanosecondTick));
        });
    }

    [TestCase("", "expected a number")]
    [TestCase("1", "missing unit")]
    [TestCase("30", "missing unit")]
    [TestCase("1.5", "missing unit")]
    [TestCase("h", "expected a number")]
    [TestCase("-", "expected a number")]
    [TestCase(".", "digits before or after")]
    [TestCase(".h", "digits before or after")]
    [TestCase("1x", "unknown unit 'x'")]
    [TestCase("1d", "unknown unit 'd'")]
    [TestCase("1H", "unknown unit 'H'")]
    [TestCase("1h 30m", "unknown unit 'h '")]
    [TestCase(" 1h", "expected a number")]
    [TestCase("3000000h", "out of range")]
    [TestCase("99999999999999999999s", "too large")]
    [TestCase("9223372036854775808ns", "out of range")]
    public void Rejects_what_go_rejects_with_a_reason(string text, string reason)
    {
        var ex = Assert.Throws<TeleportFormatException>(() => GoDuration.Parse(text));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain(reason));
            Assert.That(GoDuration.TryParse(text, out var value), Is.False);
            Assert.That(value, Is.EqualTo(TimeSpan.Zero));
        });
    }

    [Test]
    public void Accepts_the_extremes_of_go_durations()
    {
        Assert.Multiple(() =>
        {
            // math.MaxInt64 and math.MinInt64 nanoseconds.
            Assert.That(GoDuration.Parse("9223372036854775807ns"), Is.EqualTo(TimeSpan.FromTicks(92233720368547758)));
            Assert.That(GoDuration.Parse("-9223372036854775808ns"), Is.EqualTo(TimeSpan.FromTicks(-92233720368547758)));
            Assert.That(GoDuration.Parse("2562047h"), Is.EqualTo(TimeSpan.FromHours(2562047)));
        });
    }

    [Test]
    public void TryParse_of_null_is_false()
    {
        Assert.That(GoDuration.TryParse(null, out _), Is.False);
    }

    // Expected strings are what Go's time.Duration.String prints.
    [TestCase(36_000_000_000L, "1h0m0s")]
    [TestCase(600_000_000L, "1m0s")]
    [TestCase(300_000_000L, "30s")]
    [TestCase(900_000_000L, "1m30s")]
    [TestCase(54_000_000_000L, "1h30m0s")]
    [TestCase(5_000_000L, "500ms")]
    [TestCase(15_000_000L, "1.5s")]
    [TestCase(15_000L, "1.5ms")]
    [TestCase(10L, "1\u00B5s")]
    [TestCase(1L, "100ns")]
    [TestCase(0L, "0s")]
    [TestCase(-600_000_000L, "-1m0s")]
    [TestCase(10_000_001L, "1.0000001s")]
    [TestCase(864_000_000_000L, "24h0m0s")]
    public void Formats_like_go(long ticks, string expected)
    {
        Assert.That(GoDuration.Format(TimeSpan.FromTicks(ticks)), Is.EqualTo(expected));
    }

    [Test]
    public void Formats_the_largest_and_smallest_timespans()
    {
        Assert.Multiple(() =>
        {
            Assert.That(GoDuration.Format(TimeSpan.MaxValue), Is.EqualTo("256204778h48m5.4775807s"));
            Assert.That(GoDuration.Format(TimeSpan.MinValue), Is.EqualTo("-256204778h48m5.4775808s"));
        });
    }

    [TestCase("1h")]
    [TestCase("20m")]
    [TestCase("1h30m")]
    [TestCase("500ms")]
    [TestCase("1.5h")]
    [TestCase("-45s")]
    [TestCase("2h45m30.25s")]
    [TestCase("750us")]
    public void Format_output_parses_back_to_the_same_value(string text)
    {
        var value = GoDuration.Parse(text);
        Assert.That(GoDuration.Parse(GoDuration.Format(value)), Is.EqualTo(value));
    }

    [Test]
    public void Parse_rejects_null_with_argument_exception()
    {
        Assert.Throws<ArgumentNullException>(() => GoDuration.Parse(null!));
    }
}
