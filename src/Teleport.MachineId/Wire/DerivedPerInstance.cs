namespace Teleport.MachineId.Wire;

/// <summary>
/// A value derived from the instance a source returns now, derived once per instance (compared by
/// reference) and kept until the source returns another one — how a renewed identity gets its own
/// wire form and connection pool while every call in between reuses them.
/// </summary>
/// <remarks>
/// Lock-free: threads that see a new instance at the same moment may each derive it and the last
/// write wins, which is harmless for the immutable values kept here.
/// </remarks>
/// <typeparam name="TSource">The instance derived from (an identity).</typeparam>
/// <typeparam name="TDerived">What is derived from it.</typeparam>
internal sealed class DerivedPerInstance<TSource, TDerived>(Func<TSource?> source, Func<TSource, TDerived> derive)
    where TSource : class
    where TDerived : class
{
    private Entry? _last;

    /// <summary>The source's current instance, or <see langword="null"/> when there is none.</summary>
    public TSource? Source => source();

    /// <summary>The value derived from the source's current instance, or <see langword="null"/> when there is none.</summary>
    public TDerived? Current()
    {
        var instance = source();
        if (instance is null)
        {
            return null;
        }

        var last = Volatile.Read(ref _last);
        if (last is not null && ReferenceEquals(last.Source, instance))
        {
            return last.Derived;
        }

        var derived = derive(instance);
        Volatile.Write(ref _last, new Entry(instance, derived));
        return derived;
    }

    private sealed record Entry(TSource Source, TDerived Derived);
}
