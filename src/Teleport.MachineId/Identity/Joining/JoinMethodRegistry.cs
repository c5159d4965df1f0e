using System.Diagnostics.CodeAnalysis;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>The join methods a provider can use, by name (case-insensitive).</summary>
internal sealed class JoinMethodRegistry
{
    private readonly Dictionary<string, IBotJoinMethod> _methods = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The registry with every built-in method.</summary>
    public static JoinMethodRegistry Default { get; } = CreateDefault();

    public IEnumerable<string> Names => _methods.Keys.Order(StringComparer.Ordinal);

    public void Add(IBotJoinMethod method) => _methods[method.Name] = method;

    public bool TryGet(string name, [NotNullWhen(true)] out IBotJoinMethod? method) => _methods.TryGetValue(name.Trim(), out method);

    /// <summary>A copy of the built-in registry plus <paramref name="methods"/> (tests, new methods).</summary>
    public static JoinMethodRegistry WithDefaults(params IBotJoinMethod[] methods)
    {
        var registry = CreateDefault();
        foreach (var method in methods)
        {
            registry.Add(method);
        }

        return registry;
    }

    private static JoinMethodRegistry CreateDefault()
    {
        var registry = new JoinMethodRegistry();
        registry.Add(new TokenJoinMethod());
        registry.Add(new BoundKeypairJoinMethod());
        registry.Add(IdTokenJoinMethod.GitHub());
        registry.Add(IdTokenJoinMethod.GitLab());
        registry.Add(IdTokenJoinMethod.Kubernetes());
        return registry;
    }
}
