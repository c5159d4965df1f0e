using System.Buffers.Binary;

namespace Teleport.MachineId.Destinations.Internal;

/// <summary>
/// Builds and compares the binary value of the <c>system.posix_acl_access</c> extended attribute
/// (the Linux xattr ABI: a little-endian 32-bit version 2 header followed by 8-byte entries
/// {u16 tag, u16 permissions, u32 id}, sorted by tag and then id).
/// </summary>
/// <remarks>
/// The reader ACL is tbot's (teleport-protocol.md §6.5): owner rw (directories rwx), owning group
/// and others nothing, mask r (r-x), and one r (r-x) entry per reader. Setting it also sets the
/// mode bits (owner from the owner entry, group from the mask, other from the other entry).
/// </remarks>
internal static class PosixAcl
{
    internal const uint Version = 2;
    internal const ushort TagUserObj = 0x01;
    internal const ushort TagUser = 0x02;
    internal const ushort TagGroupObj = 0x04;
    internal const ushort TagGroup = 0x08;
    internal const ushort TagMask = 0x10;
    internal const ushort TagOther = 0x20;
    internal const uint UndefinedId = uint.MaxValue;

    private const ushort Read = 4;
    private const ushort Write = 2;
    private const ushort Execute = 1;

    /// <summary>One ACL entry.</summary>
    internal readonly record struct Entry(ushort Tag, ushort Permissions, uint Id);

    /// <summary>The reader ACL for a file (<paramref name="directory"/> false) or a directory.</summary>
    public static byte[] BuildReaderAcl(IReadOnlyCollection<uint> userIds, IReadOnlyCollection<uint> groupIds, bool directory)
    {
        ushort owner = directory ? (ushort)(Read | Write | Execute) : (ushort)(Read | Write);
        ushort reader = directory ? (ushort)(Read | Execute) : Read;
        var entries = new List<Entry> { new(TagUserObj, owner, UndefinedId) };
        entries.AddRange(userIds.Distinct().Order().Select(id => new Entry(TagUser, reader, id)));
        entries.Add(new Entry(TagGroupObj, 0, UndefinedId));
        entries.AddRange(groupIds.Distinct().Order().Select(id => new Entry(TagGroup, reader, id)));
        entries.Add(new Entry(TagMask, reader, UndefinedId));
        entries.Add(new Entry(TagOther, 0, UndefinedId));
        return Encode(entries);
    }

    public static byte[] Encode(IReadOnlyList<Entry> entries)
    {
        var value = new byte[4 + (8 * entries.Count)];
        BinaryPrimitives.WriteUInt32LittleEndian(value, Version);
        for (var i = 0; i < entries.Count; i++)
        {
            var slot = value.AsSpan(4 + (8 * i));
            BinaryPrimitives.WriteUInt16LittleEndian(slot, entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(slot[2..], entries[i].Permissions);
            BinaryPrimitives.WriteUInt32LittleEndian(slot[4..], entries[i].Id);
        }

        return value;
    }

    /// <summary>Parses an xattr value; <see langword="null"/> when it is not a valid version 2 ACL.</summary>
    public static IReadOnlyList<Entry>? Decode(ReadOnlySpan<byte> value)
    {
        if (value.Length < 4 || (value.Length - 4) % 8 != 0 || BinaryPrimitives.ReadUInt32LittleEndian(value) != Version)
        {
            return null;
        }

        var entries = new List<Entry>((value.Length - 4) / 8);
        for (var offset = 4; offset < value.Length; offset += 8)
        {
            var slot = value[offset..];
            var tag = BinaryPrimitives.ReadUInt16LittleEndian(slot);
            var permissions = BinaryPrimitives.ReadUInt16LittleEndian(slot[2..]);
            var id = tag is TagUser or TagGroup ? BinaryPrimitives.ReadUInt32LittleEndian(slot[4..]) : UndefinedId;
            entries.Add(new Entry(tag, permissions, id));
        }

        return entries;
    }

    /// <summary>Whether two xattr values describe the same ACL (entry order and unused id fields ignored).</summary>
    public static bool AreEquivalent(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected)
    {
        var a = Decode(actual);
        var b = Decode(expected);
        if (a is null || b is null || a.Count != b.Count)
        {
            return false;
        }

        return a.OrderBy(e => e.Tag).ThenBy(e => e.Id).SequenceEqual(b.OrderBy(e => e.Tag).ThenBy(e => e.Id));
    }
}
