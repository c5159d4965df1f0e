using System.Buffers;

namespace Teleport.MachineId.Fuzz;

/// <summary>
/// A <see cref="ReadOnlySequence{T}"/> of several segments, as gRPC hands a message over when it
/// spans reads; for parsers that must not assume one contiguous buffer (also used by the unit tests).
/// </summary>
internal static class SegmentedSequence
{
    /// <summary>Splits <paramref name="bytes"/> at <paramref name="cuts"/> (ascending offsets; those outside the data are ignored).</summary>
    public static ReadOnlySequence<byte> Create(ReadOnlyMemory<byte> bytes, params int[] cuts)
    {
        var offsets = cuts.Where(c => c > 0 && c < bytes.Length).Distinct().Order().ToList();
        if (offsets.Count == 0)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes[..offsets[0]]);
        var last = first;
        for (var i = 0; i < offsets.Count; i++)
        {
            var end = i + 1 < offsets.Count ? offsets[i + 1] : bytes.Length;
            last = last.Append(bytes[offsets[i]..end]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
