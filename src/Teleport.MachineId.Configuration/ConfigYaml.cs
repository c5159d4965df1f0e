using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Teleport.MachineId.Configuration;

/// <summary>A node of a loaded YAML document, with where it starts in the text.</summary>
internal abstract class ConfigYamlNode
{
    protected ConfigYamlNode(Mark start) => Start = start;

    /// <summary>Where the node starts (1-based line and column).</summary>
    public Mark Start { get; }

    /// <summary>"a string", "a mapping", "a list": for messages.</summary>
    public abstract string Describe();
}

/// <summary>A scalar as written: text, quoting style and explicit tag.</summary>
internal sealed class ConfigYamlScalar : ConfigYamlNode
{
    private const string StrTag = "tag:yaml.org,2002:str";
    private const string NullTag = "tag:yaml.org,2002:null";
    private const string BoolTag = "tag:yaml.org,2002:bool";

    public ConfigYamlScalar(Mark start, string value, ScalarStyle style, string? tag)
        : base(start)
    {
        Value = value;
        Style = style;
        Tag = tag;
    }

    public string Value { get; }

    public ScalarStyle Style { get; }

    public string? Tag { get; }

    /// <summary>
    /// A plain scalar without an explicit tag: the only kind whose text is resolved to null or
    /// a boolean (YAML 1.2 core schema, as gopkg.in/yaml.v3 does).
    /// </summary>
    private bool IsPlainUntagged => Style is ScalarStyle.Plain or ScalarStyle.Any && Tag is null;

    /// <summary><c>~</c>, <c>null</c>, an empty plain value, or an explicit <c>!!null</c>.</summary>
    public bool IsNull =>
        Tag == NullTag
        || (IsPlainUntagged && Value is "" or "~" or "null" or "Null" or "NULL");

    /// <summary>
    /// The boolean this scalar means when it is read into a boolean field, following yaml.v3:
    /// plain <c>true</c>/<c>false</c> (three casings) and, in any style, the YAML 1.1 words
    /// (<c>yes</c>/<c>no</c>/<c>on</c>/<c>off</c>/<c>y</c>/<c>n</c>, three casings).
    /// </summary>
    public bool? AsBoolean()
    {
        if (IsPlainUntagged || Tag == BoolTag)
        {
            switch (Value)
            {
                case "true" or "True" or "TRUE":
                    return true;
                case "false" or "False" or "FALSE":
                    return false;
            }
        }

        return Value switch
        {
            "y" or "Y" or "yes" or "Yes" or "YES" or "on" or "On" or "ON" => true,
            "n" or "N" or "no" or "No" or "NO" or "off" or "Off" or "OFF" => false,
            _ => null,
        };
    }

    /// <summary>An explicit <c>!!str</c> or a quoted/block scalar: never null or boolean.</summary>
    public bool IsExplicitString => Tag == StrTag || !IsPlainUntagged;

    public override string Describe() => IsNull ? "null" : "a scalar value";
}

/// <summary>A mapping; keys are scalars, unique, in document order (merge keys already applied).</summary>
internal sealed class ConfigYamlMapping : ConfigYamlNode
{
    public ConfigYamlMapping(Mark start, IReadOnlyList<KeyValuePair<ConfigYamlScalar, ConfigYamlNode>> entries)
        : base(start) => Entries = entries;

    public IReadOnlyList<KeyValuePair<ConfigYamlScalar, ConfigYamlNode>> Entries { get; }

    public ConfigYamlNode? Find(string key)
    {
        foreach (var entry in Entries)
        {
            if (entry.Key.Value == key)
            {
                return entry.Value;
            }
        }

        return null;
    }

    public override string Describe() => "a mapping";
}

/// <summary>A sequence.</summary>
internal sealed class ConfigYamlSequence : ConfigYamlNode
{
    public ConfigYamlSequence(Mark start, IReadOnlyList<ConfigYamlNode> items)
        : base(start) => Items = items;

    public IReadOnlyList<ConfigYamlNode> Items { get; }

    public override string Describe() => "a list";
}

/// <summary>Why a YAML text could not be loaded, with its position.</summary>
internal sealed class ConfigYamlLoadException : Exception
{
    public ConfigYamlLoadException(string message, int? line, int? column)
        : base(message)
    {
        Line = line;
        Column = column;
    }

    public int? Line { get; }

    public int? Column { get; }
}

/// <summary>
/// Builds a small node tree from YamlDotNet parser events, so every value keeps its position and
/// unknown or duplicate keys can be reported exactly.
/// </summary>
/// <remarks>
/// Anchors and aliases share nodes (no copying), and merge keys (<c>&lt;&lt;</c>) are applied
/// shallowly, the way gopkg.in/yaml.v3 applies them; a budget on merged entries and a nesting limit
/// keep hostile documents from taking unbounded time or stack.
/// </remarks>
internal sealed class ConfigYamlLoader
{
    private const int MaxDepth = 64;
    private const int MaxMergedEntries = 10_000;

    private readonly IParser parser;
    private readonly Dictionary<string, ConfigYamlNode> anchors = new(StringComparer.Ordinal);
    private ParsingEvent? lookahead;
    private Mark lastPosition = Mark.Empty;
    private int mergedEntries;

    private ConfigYamlLoader(IParser parser) => this.parser = parser;

    /// <summary>The loaded first document, and whether more documents follow it.</summary>
    internal readonly record struct Document(ConfigYamlNode? Root, bool HasMoreDocuments);

    /// <summary>Loads the first document of <paramref name="text"/>; <c>Root</c> is null for an empty stream.</summary>
    /// <exception cref="ConfigYamlLoadException">The text is not well-formed YAML.</exception>
    public static Document Load(string text)
    {
        using var reader = new StringReader(text);
        var loader = new ConfigYamlLoader(new Parser(reader));
        try
        {
            return loader.LoadFirstDocument();
        }
        catch (YamlException ex)
        {
            throw new ConfigYamlLoadException(
                "malformed YAML: " + StripLocation(ex.Message),
                ex.Start.Line > 0 ? (int)ex.Start.Line : null,
                ex.Start.Column > 0 ? (int)ex.Start.Column : null);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or IndexOutOfRangeException or FormatException)
        {
            // YamlDotNet's scanner throws these for some truncated input; report the last good position.
            throw Fail("malformed YAML after this point (the scanner could not continue)", loader.lastPosition);
        }
    }

    private Document LoadFirstDocument()
    {
        Expect<StreamStart>(Read());
        if (Peek() is StreamEnd)
        {
            return new Document(null, false);
        }

        Expect<DocumentStart>(Read());
        var root = ReadNode(0);
        Expect<DocumentEnd>(Read());
        var more = Peek() is not StreamEnd;
        return new Document(root, more);
    }

    private ParsingEvent Read()
    {
        if (lookahead is { } buffered)
        {
            lookahead = null;
            return buffered;
        }

        if (!parser.MoveNext() || parser.Current is null)
        {
            throw Fail("unexpected end of the YAML stream", lastPosition);
        }

        lastPosition = parser.Current.Start;
        return parser.Current;
    }

    private ParsingEvent Peek() => lookahead ??= Read();

    private static T Expect<T>(ParsingEvent parsingEvent)
        where T : ParsingEvent
    {
        return parsingEvent as T
            ?? throw Fail($"unexpected YAML structure ({parsingEvent.GetType().Name})", parsingEvent.Start);
    }

    private ConfigYamlNode ReadNode(int depth)
    {
        var current = Read();
        if (depth > MaxDepth)
        {
            throw Fail($"the document nests deeper than {MaxDepth} levels", current.Start);
        }

        switch (current)
        {
            case AnchorAlias alias:
                return anchors.TryGetValue(alias.Value.Value, out var target)
                    ? target
                    : throw Fail($"alias *{alias.Value.Value} refers to an anchor that is not defined before it", alias.Start);

            case Scalar scalar:
                var node = new ConfigYamlScalar(scalar.Start, scalar.Value, scalar.Style, TagOf(scalar));
                Remember(scalar, node);
                return node;

            case SequenceStart sequenceStart:
                return ReadSequence(sequenceStart, depth);

            case MappingStart mappingStart:
                return ReadMapping(mappingStart, depth);

            default:
                throw Fail($"unexpected YAML structure ({current.GetType().Name})", current.Start);
        }
    }

    private ConfigYamlSequence ReadSequence(SequenceStart start, int depth)
    {
        var items = new List<ConfigYamlNode>();
        while (Peek() is not SequenceEnd)
        {
            items.Add(ReadNode(depth + 1));
        }

        Read();
        var node = new ConfigYamlSequence(start.Start, items);
        Remember(start, node);
        return node;
    }

    private ConfigYamlMapping ReadMapping(MappingStart start, int depth)
    {
        var entries = new List<KeyValuePair<ConfigYamlScalar, ConfigYamlNode>>();
        var seen = new Dictionary<string, ConfigYamlScalar>(StringComparer.Ordinal);
        var merges = new List<ConfigYamlMapping>();
        while (Peek() is not MappingEnd)
        {
            var keyNode = ReadNode(depth + 1);
            if (keyNode is not ConfigYamlScalar key)
            {
                throw Fail("mapping keys must be plain strings, not " + keyNode.Describe(), keyNode.Start);
            }

            var value = ReadNode(depth + 1);
            if (key.Value == "<<" && !key.IsExplicitString)
            {
                CollectMergeSources(value, merges);
                continue;
            }

            if (seen.TryGetValue(key.Value, out var first))
            {
                throw Fail(
                    $"key '{key.Value}' appears twice in the same mapping (first at line {first.Start.Line})",
                    key.Start);
            }

            seen.Add(key.Value, key);
            entries.Add(new(key, value));
        }

        Read();

        // Explicit keys win over merged ones; earlier merge sources win over later ones.
        foreach (var source in merges)
        {
            foreach (var entry in source.Entries)
            {
                if (++mergedEntries > MaxMergedEntries)
                {
                    throw Fail($"the document merges more than {MaxMergedEntries} keys with '<<'", start.Start);
                }

                if (seen.TryAdd(entry.Key.Value, entry.Key))
                {
                    entries.Add(entry);
                }
            }
        }

        var node = new ConfigYamlMapping(start.Start, entries);
        Remember(start, node);
        return node;
    }

    private static void CollectMergeSources(ConfigYamlNode value, List<ConfigYamlMapping> merges)
    {
        switch (value)
        {
            case ConfigYamlMapping mapping:
                merges.Add(mapping);
                break;
            case ConfigYamlSequence sequence when sequence.Items.All(i => i is ConfigYamlMapping):
                merges.AddRange(sequence.Items.Cast<ConfigYamlMapping>());
                break;
            default:
                throw Fail("a merge key '<<' needs a mapping or a list of mappings", value.Start);
        }
    }

    private void Remember(NodeEvent nodeEvent, ConfigYamlNode node)
    {
        if (!nodeEvent.Anchor.IsEmpty)
        {
            anchors[nodeEvent.Anchor.Value] = node;
        }
    }

    private static string? TagOf(NodeEvent nodeEvent) =>
        nodeEvent.Tag.IsEmpty || nodeEvent.Tag.IsNonSpecific ? null : nodeEvent.Tag.Value;

    private static ConfigYamlLoadException Fail(string message, Mark at) =>
        new(message, at.Line > 0 ? (int)at.Line : null, at.Column > 0 ? (int)at.Column : null);

    private static string StripLocation(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): ".
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0
            ? message[(marker + 3)..]
            : message;
    }
}
