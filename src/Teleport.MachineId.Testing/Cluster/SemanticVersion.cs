using System.Globalization;

namespace Teleport.MachineId.Testing.Cluster;

/// <summary>A semantic version (semver 2.0: <c>major.minor.patch[-prerelease][+build]</c>) with its precedence order.</summary>
internal sealed class SemanticVersion : IComparable<SemanticVersion>
{
    private SemanticVersion(long major, long minor, long patch, string[] prerelease)
    {
        Major = major;
        Minor = minor;
        Patch = patch;
        Prerelease = prerelease;
    }

    public long Major { get; }

    public long Minor { get; }

    public long Patch { get; }

    public IReadOnlyList<string> Prerelease { get; }

    /// <summary>Parses strictly, as Go's <c>coreos/go-semver</c> does (no leading <c>v</c>, no missing parts).</summary>
    public static bool TryParse(string? text, out SemanticVersion version)
    {
        version = null!;
        if (string.IsNullOrEmpty(text) || text.Length > 256)
        {
            return false;
        }

        var core = text;
        var plus = core.IndexOf('+', StringComparison.Ordinal);
        if (plus >= 0)
        {
            if (!ValidIdentifiers(core[(plus + 1)..], numericRules: false))
            {
                return false;
            }

            core = core[..plus];
        }

        string[] prerelease = [];
        var dash = core.IndexOf('-', StringComparison.Ordinal);
        if (dash >= 0)
        {
            var pre = core[(dash + 1)..];
            if (!ValidIdentifiers(pre, numericRules: true))
            {
                return false;
            }

            prerelease = pre.Split('.');
            core = core[..dash];
        }

        var parts = core.Split('.');
        if (parts.Length != 3
            || !TryNumber(parts[0], out var major)
            || !TryNumber(parts[1], out var minor)
            || !TryNumber(parts[2], out var patch))
        {
            return false;
        }

        version = new SemanticVersion(major, minor, patch, prerelease);
        return true;
    }

    public int CompareTo(SemanticVersion? other)
    {
        if (other is null)
        {
            return 1;
        }

        var order = Major.CompareTo(other.Major);
        if (order == 0)
        {
            order = Minor.CompareTo(other.Minor);
        }

        if (order == 0)
        {
            order = Patch.CompareTo(other.Patch);
        }

        if (order != 0)
        {
            return order;
        }

        // A version without a pre-release ranks above any pre-release of it.
        if (Prerelease.Count == 0 || other.Prerelease.Count == 0)
        {
            return other.Prerelease.Count.CompareTo(Prerelease.Count);
        }

        for (var i = 0; i < Math.Min(Prerelease.Count, other.Prerelease.Count); i++)
        {
            var left = Prerelease[i];
            var right = other.Prerelease[i];
            var leftNumeric = long.TryParse(left, NumberStyles.None, CultureInfo.InvariantCulture, out var l);
            var rightNumeric = long.TryParse(right, NumberStyles.None, CultureInfo.InvariantCulture, out var r);
            order = (leftNumeric, rightNumeric) switch
            {
                (true, true) => l.CompareTo(r),
                (true, false) => -1,
                (false, true) => 1,
                _ => string.CompareOrdinal(left, right),
            };
            if (order != 0)
            {
                return order;
            }
        }

        return Prerelease.Count.CompareTo(other.Prerelease.Count);
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}") + (Prerelease.Count > 0 ? "-" + string.Join('.', Prerelease) : string.Empty);

    private static bool TryNumber(string text, out long value)
    {
        value = 0;
        return text.Length > 0
            && (text.Length == 1 || text[0] != '0')
            && text.All(char.IsAsciiDigit)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool ValidIdentifiers(string text, bool numericRules)
    {
        if (text.Length == 0)
        {
            return false;
        }

        foreach (var identifier in text.Split('.'))
        {
            if (identifier.Length == 0 || !identifier.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }

            if (numericRules && identifier.Length > 1 && identifier[0] == '0' && identifier.All(char.IsAsciiDigit))
            {
                return false;
            }
        }

        return true;
    }
}
