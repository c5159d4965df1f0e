using System.Diagnostics.CodeAnalysis;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>
/// A join method's durable state: named entries (tbot's file names, e.g. <c>id_bkp</c>,
/// <c>bkp_state</c>) with their bytes. Immutable; the engine stores it in the same atomic write as
/// the identity it came with.
/// </summary>
internal sealed class JoinMethodState
{
    /// <summary>The longest entry name.</summary>
    public const int MaxNameLength = 64;

    /// <summary>The largest entry, so a damaged store cannot make a join read without bound.</summary>
    public const int MaxEntrySize = InputLimits.JoinMethodStateEntryBytes;

    private readonly Dictionary<string, byte[]> _entries;

    private JoinMethodState(Dictionary<string, byte[]> entries) => _entries = entries;

    /// <summary>No state.</summary>
    public static JoinMethodState Empty { get; } = new(new Dictionary<string, byte[]>(StringComparer.Ordinal));

    /// <summary>The entry names, sorted.</summary>
    public IEnumerable<string> Names => _entries.Keys.Order(StringComparer.Ordinal);

    /// <summary>Whether there is no entry.</summary>
    public bool IsEmpty => _entries.Count == 0;

    /// <summary>Gets an entry.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out ReadOnlyMemory<byte>? content)
    {
        if (_entries.TryGetValue(name, out var bytes))
        {
            content = bytes;
            return true;
        }

        content = null;
        return false;
    }

    /// <summary>A copy with <paramref name="name"/> set to <paramref name="content"/>.</summary>
    /// <exception cref="ArgumentException">The name or size is not allowed.</exception>
    public JoinMethodState With(string name, ReadOnlySpan<byte> content)
    {
        ValidateName(name);
        if (content.Length > MaxEntrySize)
        {
            throw new ArgumentException($"Join method state entry '{name}' is larger than {MaxEntrySize} bytes.", nameof(content));
        }

        var copy = new Dictionary<string, byte[]>(_entries, StringComparer.Ordinal) { [name] = content.ToArray() };
        return new JoinMethodState(copy);
    }

    /// <summary>A copy without <paramref name="name"/>.</summary>
    public JoinMethodState Without(string name)
    {
        if (!_entries.ContainsKey(name))
        {
            return this;
        }

        var copy = new Dictionary<string, byte[]>(_entries, StringComparer.Ordinal);
        copy.Remove(name);
        return new JoinMethodState(copy);
    }

    /// <summary>
    /// Whether <paramref name="name"/> may name an entry: 1–64 characters of <c>a-z A-Z 0-9 . _ -</c>,
    /// not starting with a dot, and not one of the engine's own file names.
    /// </summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name[0] == '.' || ReservedNames.Contains(name))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <exception cref="ArgumentException">The name is not allowed.</exception>
    public static void ValidateName(string name)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException($"'{name}' cannot name a join method state entry (1–{MaxNameLength} characters of a-z, A-Z, 0-9, '.', '_', '-', no leading dot, not a storage file name).", nameof(name));
        }
    }

    /// <summary>The storage's own file names, which no join method may use.</summary>
    internal static readonly HashSet<string> ReservedNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "bot-identity.json",
        "renewal-inflight.json",
        "lock",
    };
}
