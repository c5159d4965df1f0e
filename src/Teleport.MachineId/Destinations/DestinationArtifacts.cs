using System.Collections;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Teleport.MachineId.Destinations;

/// <summary>
/// One consistent set of artifacts (file name → content) that a destination writes and replaces
/// as a whole, for example the <c>key</c>, <c>key-cert.pub</c>, <c>identity</c>, … of one renewal.
/// </summary>
/// <remarks>
/// <para>
/// Immutable: <see cref="SetItem(string, ReadOnlySpan{byte})"/> and <see cref="Remove"/> return a
/// new set, and contents are copied in, so a set can be shared between threads and kept as a
/// snapshot. Enumeration is in ordinal name order.
/// </para>
/// <para>
/// Names are single file names: non-empty, at most 255 UTF-8 bytes, without <c>/</c>,
/// <c>\</c> or control characters, and not starting with <c>.</c> — names starting with a dot are
/// reserved for the destination's own bookkeeping (<c>..data</c>, <c>.write-test</c>, …), which
/// also rules out <c>.</c> and <c>..</c>.
/// </para>
/// <para>
/// Contents are secrets (private keys): this type's <see cref="ToString"/> lists names and sizes only.
/// </para>
/// </remarks>
[SuppressMessage("Naming", "CA1710:Identifiers should have correct suffix", Justification = "It is a set of artifacts; the dictionary shape is incidental.")]
public sealed class DestinationArtifacts : IReadOnlyDictionary<string, ReadOnlyMemory<byte>>
{
    /// <summary>The longest name, in UTF-8 bytes (the common <c>NAME_MAX</c>).</summary>
    public const int MaxNameLength = 255;

    private readonly ImmutableSortedDictionary<string, ReadOnlyMemory<byte>> _items;

    private DestinationArtifacts(ImmutableSortedDictionary<string, ReadOnlyMemory<byte>> items)
    {
        _items = items;
    }

    /// <summary>The empty set.</summary>
    public static DestinationArtifacts Empty { get; } =
        new(ImmutableSortedDictionary.Create<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal));

    /// <summary>Creates a set from name/content pairs; contents are copied.</summary>
    /// <param name="artifacts">The artifacts; each name at most once.</param>
    /// <returns>The set.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="artifacts"/>, or a content, is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A name is invalid or appears twice.</exception>
    public static DestinationArtifacts Create(IEnumerable<KeyValuePair<string, byte[]>> artifacts)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        return CreateOwned(artifacts.Select(a => KeyValuePair.Create(a.Key, (a.Value ?? throw new ArgumentNullException(nameof(artifacts), $"The content of '{a.Key}' is null.")).ToArray())));
    }

    /// <summary>Creates a set that takes ownership of the arrays (no copy); for data read from storage.</summary>
    internal static DestinationArtifacts CreateOwned(IEnumerable<KeyValuePair<string, byte[]>> artifacts)
    {
        var builder = ImmutableSortedDictionary.CreateBuilder<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        foreach (var artifact in artifacts)
        {
            ValidateName(artifact.Key);
            if (!builder.TryAdd(artifact.Key, artifact.Value))
            {
                throw new ArgumentException($"The artifact name '{artifact.Key}' appears more than once.", nameof(artifacts));
            }
        }

        return new DestinationArtifacts(builder.ToImmutable());
    }

    /// <summary>The number of artifacts.</summary>
    public int Count => _items.Count;

    /// <summary>The artifact names, in ordinal order.</summary>
    public IEnumerable<string> Keys => _items.Keys;

    /// <summary>The artifact contents, in the order of <see cref="Keys"/>.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Values => _items.Values;

    /// <summary>The sum of the content lengths, in bytes.</summary>
    public long TotalLength
    {
        get
        {
            long total = 0;
            foreach (var item in _items)
            {
                total += item.Value.Length;
            }

            return total;
        }
    }

    /// <summary>The content of the artifact <paramref name="name"/>.</summary>
    /// <param name="name">The artifact name.</param>
    /// <exception cref="KeyNotFoundException">The set has no artifact of that name.</exception>
    public ReadOnlyMemory<byte> this[string name] => _items[name];

    /// <summary>Returns a set with the artifact <paramref name="name"/> added or replaced.</summary>
    /// <param name="name">The file name (see the remarks of <see cref="DestinationArtifacts"/>).</param>
    /// <param name="content">The content; it is copied.</param>
    /// <returns>The new set; this set is unchanged.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid artifact name.</exception>
    public DestinationArtifacts SetItem(string name, ReadOnlySpan<byte> content)
    {
        ValidateName(name);
        return new DestinationArtifacts(_items.SetItem(name, content.ToArray()));
    }

    /// <summary>Returns a set with the text artifact <paramref name="name"/> added or replaced, encoded as UTF-8 without a BOM.</summary>
    /// <param name="name">The file name (see the remarks of <see cref="DestinationArtifacts"/>).</param>
    /// <param name="text">The content.</param>
    /// <returns>The new set; this set is unchanged.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid artifact name.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is <see langword="null"/>.</exception>
    public DestinationArtifacts SetItem(string name, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ValidateName(name);
        return new DestinationArtifacts(_items.SetItem(name, Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>Returns a set without the artifact <paramref name="name"/> (this set if it has none).</summary>
    /// <param name="name">The artifact name.</param>
    /// <returns>The new set; this set is unchanged.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    public DestinationArtifacts Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var items = _items.Remove(name);
        return ReferenceEquals(items, _items) ? this : new DestinationArtifacts(items);
    }

    /// <summary>Whether the set has an artifact named <paramref name="name"/>.</summary>
    /// <param name="name">The artifact name.</param>
    /// <returns><see langword="true"/> when it does.</returns>
    public bool ContainsKey(string name) => _items.ContainsKey(name);

    /// <summary>Gets the content of the artifact <paramref name="name"/>, if the set has one.</summary>
    /// <param name="name">The artifact name.</param>
    /// <param name="value">The content, or empty when there is none.</param>
    /// <returns><see langword="true"/> when the set has the artifact.</returns>
    public bool TryGetValue(string name, out ReadOnlyMemory<byte> value) => _items.TryGetValue(name, out value);

    /// <summary>Whether <paramref name="other"/> has exactly the same names and byte-identical contents.</summary>
    /// <param name="other">The set to compare with.</param>
    /// <returns><see langword="true"/> when both sets are equal in content.</returns>
    public bool ContentEquals([NotNullWhen(true)] DestinationArtifacts? other)
    {
        if (other is null || other.Count != Count)
        {
            return false;
        }

        foreach (var item in _items)
        {
            if (!other._items.TryGetValue(item.Key, out var content) || !content.Span.SequenceEqual(item.Value.Span))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="name"/> is a valid artifact name.</summary>
    /// <param name="name">The candidate name.</param>
    /// <returns><see langword="true"/> when it is valid.</returns>
    public static bool IsValidName([NotNullWhen(true)] string? name) => GetNameProblem(name) is null;

    /// <summary>Throws when <paramref name="name"/> is not a valid artifact name.</summary>
    /// <param name="name">The candidate name.</param>
    /// <exception cref="ArgumentException">The name is not valid; the message says why.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    public static void ValidateName([NotNull] string? name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var problem = GetNameProblem(name);
        if (problem is not null)
        {
            throw new ArgumentException($"Invalid artifact name '{Printable(name)}': {problem}.", nameof(name));
        }
    }

    /// <summary>Enumerates the artifacts in ordinal name order.</summary>
    /// <returns>The enumerator.</returns>
    public IEnumerator<KeyValuePair<string, ReadOnlyMemory<byte>>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Lists the names and sizes (never the contents).</summary>
    /// <returns>For example <c>DestinationArtifacts[key (411 B), key-cert.pub (690 B)]</c>.</returns>
    public override string ToString() =>
        $"DestinationArtifacts[{string.Join(", ", _items.Select(i => $"{i.Key} ({i.Value.Length} B)"))}]";

    private static string? GetNameProblem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "it is empty";
        }

        if (name[0] == '.')
        {
            return "names starting with '.' are reserved for the destination's own entries";
        }

        foreach (var c in name)
        {
            if (c is '/' or '\\')
            {
                return "it must be a single file name without path separators";
            }

            if (char.IsControl(c))
            {
                return "it contains a control character";
            }
        }

        int byteCount;
        try
        {
            byteCount = new UTF8Encoding(false, true).GetByteCount(name);
        }
        catch (ArgumentException)
        {
            return "it is not valid Unicode";
        }

        return byteCount > MaxNameLength ? $"it is longer than {MaxNameLength} UTF-8 bytes" : null;
    }

    private static string Printable(string name)
    {
        var builder = new StringBuilder(Math.Min(name.Length, 80));
        foreach (var c in name.Length > 80 ? name[..80] : name)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return name.Length > 80 ? builder.Append('…').ToString() : builder.ToString();
    }
}
