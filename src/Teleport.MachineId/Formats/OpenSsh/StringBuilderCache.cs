using System.Text;

namespace Teleport.MachineId.OpenSsh;

/// <summary>One reusable <see cref="StringBuilder"/> per thread for the renderers (they run on every renewal).</summary>
internal static class StringBuilderCache
{
    private const int MaxCachedCapacity = 16 * 1024;

    [ThreadStatic]
    private static StringBuilder? t_cached;

    public static StringBuilder Acquire(int capacity)
    {
        var sb = t_cached;
        if (sb is not null && capacity <= sb.Capacity)
        {
            t_cached = null;
            sb.Clear();
            return sb;
        }

        return new StringBuilder(capacity);
    }

    public static string GetStringAndRelease(StringBuilder sb)
    {
        var result = sb.ToString();
        if (sb.Capacity <= MaxCachedCapacity)
        {
            t_cached = sb;
        }

        return result;
    }
}
