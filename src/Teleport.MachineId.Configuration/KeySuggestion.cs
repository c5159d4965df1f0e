namespace Teleport.MachineId.Configuration;

/// <summary>Finds the known word closest to a misspelt key or value.</summary>
internal static class KeySuggestion
{
    /// <summary>The closest candidate, or null when none is close enough to be a likely typo.</summary>
    public static string? Closest(string written, IEnumerable<string> candidates)
    {
        var normalized = Normalize(written);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var target = Normalize(candidate);
            if (target == normalized)
            {
                return candidate; // case or '-'/'_' mix-up
            }

            var distance = Distance(normalized, target);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        if (best is null)
        {
            return null;
        }

        var allowed = Math.Clamp(Math.Max(written.Length, best.Length) / 3, 1, 3);
        if (bestDistance <= allowed)
        {
            return best;
        }

        // "proxy" for "proxy_server", "token_env" for "token_env_var_name": a whole word or a
        // prefix of exactly one known key.
        return written.Length >= 3
            && candidates.Where(c => IsPartOf(normalized, Normalize(c))).Take(2).ToList() is [var only]
            ? only
            : null;
    }

    private static bool IsPartOf(string written, string candidate) =>
        candidate.Split('_').Contains(written, StringComparer.Ordinal)
        || (written.Length >= 4 && (candidate.StartsWith(written, StringComparison.Ordinal) || written.StartsWith(candidate, StringComparison.Ordinal)));

    /// <summary>" (did you mean 'x'?)" or an empty string.</summary>
    public static string DidYouMean(string written, IEnumerable<string> candidates) =>
        Closest(written, candidates) is { } suggestion ? $" (did you mean '{suggestion}'?)" : string.Empty;

    private static string Normalize(string value) => value.Trim().ToLowerInvariant().Replace('-', '_');

    /// <summary>Optimal string alignment distance (Levenshtein plus adjacent transpositions).</summary>
    private static int Distance(string a, string b)
    {
        if (a.Length > 64 || b.Length > 64)
        {
            return int.MaxValue; // not a typo of any key we know
        }

        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
