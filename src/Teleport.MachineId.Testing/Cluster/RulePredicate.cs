namespace Teleport.MachineId.Testing.Cluster;

/// <summary>
/// The <c>where</c> clause of a role rule, for the resource contexts the emulator evaluates
/// (<c>host_cert.*</c> of <c>GenerateHostCert</c>): Teleport's predicate language subset — string
/// literals, <c>host_cert.host_id</c>/<c>node_name</c>/<c>principals</c>/<c>cluster_name</c>/<c>role</c>,
/// the functions <c>equals</c>, <c>contains</c>, <c>is_subset</c>, <c>all_end_with</c>, <c>all_equal</c>,
/// and <c>&amp;&amp;</c>, <c>||</c>, <c>!</c>, parentheses. Parsed when a role is stored, so a clause the
/// emulator cannot evaluate is refused up front instead of silently allowing.
/// </summary>
internal sealed class RulePredicate
{
    private static readonly string[] Functions = ["equals", "contains", "is_subset", "all_end_with", "all_equal"];

    private readonly Node _root;

    private RulePredicate(string text, Node root)
    {
        Text = text;
        _root = root;
    }

    /// <summary>The clause as written.</summary>
    public string Text { get; }

    /// <summary>Parses a clause.</summary>
    /// <exception cref="TraceException">BadParameter: a syntax error or something the emulator does not evaluate.</exception>
    public static RulePredicate Parse(string text)
    {
        var parser = new Parser(text);
        var root = parser.ParseOr();
        parser.ExpectEnd();
        return new RulePredicate(text, root);
    }

    /// <summary>Evaluates the clause against a host certificate request.</summary>
    public bool Evaluate(HostCertRuleContext context) => _root.Evaluate(context).AsBool(Text);

    /// <summary>The fields of <c>GenerateHostCert</c> a rule may look at.</summary>
    internal sealed record HostCertRuleContext(string HostId, string NodeName, IReadOnlyList<string> Principals, string ClusterName, string Role);

    private abstract record Node
    {
        public abstract Value Evaluate(HostCertRuleContext context);
    }

    private sealed record Literal(string Value) : Node
    {
        public override Value Evaluate(HostCertRuleContext context) => new(Value, null, null);
    }

    private sealed record Field(string Name) : Node
    {
        public override Value Evaluate(HostCertRuleContext context) => Name switch
        {
            "host_cert.host_id" => new(context.HostId, null, null),
            "host_cert.node_name" => new(context.NodeName, null, null),
            "host_cert.cluster_name" => new(context.ClusterName, null, null),
            "host_cert.role" => new(context.Role, null, null),
            "host_cert.principals" => new(null, context.Principals, null),
            _ => throw TraceException.BadParameter($"unsupported field {Name} in where clause"),
        };
    }

    private sealed record Not(Node Operand) : Node
    {
        public override Value Evaluate(HostCertRuleContext context) => new(null, null, !Operand.Evaluate(context).AsBool("!"));
    }

    private sealed record Binary(string Operator, Node Left, Node Right) : Node
    {
        public override Value Evaluate(HostCertRuleContext context) => Operator == "&&"
            ? new(null, null, Left.Evaluate(context).AsBool("&&") && Right.Evaluate(context).AsBool("&&"))
            : new(null, null, Left.Evaluate(context).AsBool("||") || Right.Evaluate(context).AsBool("||"));
    }

    private sealed record Call(string Function, IReadOnlyList<Node> Arguments) : Node
    {
        public override Value Evaluate(HostCertRuleContext context)
        {
            var values = Arguments.Select(a => a.Evaluate(context)).ToArray();
            bool result = Function switch
            {
                "equals" => values.Length == 2 && values[0].AsString(Function) == values[1].AsString(Function),
                "contains" => values.Length == 2 && values[0].AsList(Function).Contains(values[1].AsString(Function), StringComparer.Ordinal),
                "is_subset" => values.Length >= 1 && values[0].AsList(Function).All(item => values.Skip(1).Any(v => v.AsString(Function) == item)),
                "all_end_with" => values.Length == 2 && values[0].AsList(Function).All(item => item.EndsWith(values[1].AsString(Function), StringComparison.Ordinal)),
                "all_equal" => values.Length == 2 && values[0].AsList(Function).All(item => item == values[1].AsString(Function)),
                _ => throw TraceException.BadParameter($"unsupported function {Function} in where clause"),
            };
            return new(null, null, result);
        }
    }

    private readonly record struct Value(string? Text, IReadOnlyList<string>? List, bool? Bool)
    {
        public bool AsBool(string where) => Bool ?? throw TraceException.BadParameter($"where clause: {where} needs a boolean");

        public string AsString(string where) => Text ?? throw TraceException.BadParameter($"where clause: {where} needs a string");

        public IReadOnlyList<string> AsList(string where) => List ?? (Text is not null ? [Text] : throw TraceException.BadParameter($"where clause: {where} needs a list"));
    }

    private sealed class Parser(string text)
    {
        private int _position;

        public Node ParseOr()
        {
            var left = ParseAnd();
            while (TryConsume("||"))
            {
                left = new Binary("||", left, ParseAnd());
            }

            return left;
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (_position != text.Length)
            {
                throw Error("unexpected text");
            }
        }

        private Node ParseAnd()
        {
            var left = ParseUnary();
            while (TryConsume("&&"))
            {
                left = new Binary("&&", left, ParseUnary());
            }

            return left;
        }

        private Node ParseUnary()
        {
            if (TryConsume("!"))
            {
                return new Not(ParseUnary());
            }

            if (TryConsume("("))
            {
                var inner = ParseOr();
                Expect(")");
                return inner;
            }

            SkipSpace();
            if (_position < text.Length && text[_position] == '"')
            {
                return new Literal(ReadString());
            }

            var name = ReadIdentifier();
            if (TryConsume("("))
            {
                if (!Functions.Contains(name, StringComparer.Ordinal))
                {
                    throw Error($"unsupported function {name}");
                }

                var arguments = new List<Node>();
                if (!TryConsume(")"))
                {
                    do
                    {
                        arguments.Add(ParseOr());
                    }
                    while (TryConsume(","));
                    Expect(")");
                }

                return new Call(name, arguments);
            }

            if (!name.StartsWith("host_cert.", StringComparison.Ordinal)
                || name is not ("host_cert.host_id" or "host_cert.node_name" or "host_cert.principals" or "host_cert.cluster_name" or "host_cert.role"))
            {
                throw Error($"unsupported identifier {name}");
            }

            return new Field(name);
        }

        private string ReadString()
        {
            _position++;
            var sb = new System.Text.StringBuilder();
            while (_position < text.Length && text[_position] != '"')
            {
                if (text[_position] == '\\' && _position + 1 < text.Length)
                {
                    _position++;
                }

                sb.Append(text[_position++]);
            }

            if (_position >= text.Length)
            {
                throw Error("unterminated string");
            }

            _position++;
            return sb.ToString();
        }

        private string ReadIdentifier()
        {
            SkipSpace();
            var start = _position;
            while (_position < text.Length && (char.IsAsciiLetterOrDigit(text[_position]) || text[_position] is '_' or '.'))
            {
                _position++;
            }

            return _position > start ? text[start.._position] : throw Error("expected an identifier, a string or '('");
        }

        private bool TryConsume(string token)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _position, token, 0, token.Length) == 0)
            {
                _position += token.Length;
                return true;
            }

            return false;
        }

        private void Expect(string token)
        {
            if (!TryConsume(token))
            {
                throw Error($"expected '{token}'");
            }
        }

        private void SkipSpace()
        {
            while (_position < text.Length && char.IsWhiteSpace(text[_position]))
            {
                _position++;
            }
        }

        private TraceException Error(string what) =>
            TraceException.BadParameter($"where clause \"{text}\": {what} at position {_position}");
    }
}
