using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Tests.Formats.Ssh;

public sealed class SshWireTests
{
    [Test]
    public void Writer_and_reader_round_trip_every_type()
    {
        var writer = new SshWireWriter(4);
        byte[] bytes;
        try
        {
            writer.WriteByte(7);
            writer.WriteUInt32(0xDEADBEEF);
            writer.WriteUInt64(ulong.MaxValue - 1);
            writer.WriteString("héllo");
            writer.WriteString([1, 2, 3]);
            writer.WriteMPInt([0x00, 0x00, 0x80, 0x01]);
            var nested = writer.BeginNested();
            writer.WriteString("inner");
            writer.EndNested(nested);
            writer.WriteString(new string('x', 5000));
            bytes = writer.ToArray();
        }
        finally
        {
            writer.Dispose();
        }

        var reader = new SshWireReader(bytes, "test");
        Assert.That(reader.ReadByte(), Is.EqualTo(7));
        Assert.That(reader.ReadUInt32(), Is.EqualTo(0xDEADBEEF));
        Assert.That(reader.ReadUInt64(), Is.EqualTo(ulong.MaxValue - 1));
        Assert.That(reader.ReadUtf8String(), Is.EqualTo("héllo"));
        Assert.That(reader.ReadString().ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(reader.ReadPositiveMPInt().ToArray(), Is.EqualTo(new byte[] { 0x80, 0x01 }));
        var inner = new SshWireReader(reader.ReadString(), "inner");
        Assert.That(inner.ReadUtf8String(), Is.EqualTo("inner"));
        Assert.That(inner.IsAtEnd, Is.True);
        Assert.That(reader.ReadUtf8String(), Has.Length.EqualTo(5000));
        Assert.That(reader.IsAtEnd, Is.True);
        reader.EnsureAtEnd();
    }

    [TestCase(new byte[] { }, new byte[] { 0, 0, 0, 0 })]
    [TestCase(new byte[] { 0, 0 }, new byte[] { 0, 0, 0, 0 })]
    [TestCase(new byte[] { 0x7f }, new byte[] { 0, 0, 0, 1, 0x7f })]
    [TestCase(new byte[] { 0x80 }, new byte[] { 0, 0, 0, 2, 0, 0x80 })]
    [TestCase(new byte[] { 0, 0x01, 0x00 }, new byte[] { 0, 0, 0, 2, 0x01, 0x00 })]
    public void Mpints_are_minimal_and_positive(byte[] value, byte[] expected)
    {
        var writer = new SshWireWriter(16);
        try
        {
            writer.WriteMPInt(value);
            Assert.That(writer.ToArray(), Is.EqualTo(expected));
        }
        finally
        {
            writer.Dispose();
        }
    }

    [Test]
    public void Reader_throws_format_errors_on_truncation_and_overflow()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new SshWireReader([], "t").ReadByte(), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([0, 0, 0], "t").ReadUInt32(), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([0, 0, 0, 0, 0, 0, 0], "t").ReadUInt64(), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([0, 0, 0, 2, 1], "t").ReadString().Length, Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([0xff, 0xff, 0xff, 0xff, 1], "t").ReadString().Length, Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([0x80, 0, 0, 0], "t").ReadStringRange(), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([0, 0, 0, 1, 0x80], "t").ReadPositiveMPInt().Length, Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([1], "t").EnsureAtEnd(), Throws.TypeOf<TeleportFormatException>());
            Assert.That(() => new SshWireReader([1], "t").Skip(2), Throws.TypeOf<TeleportFormatException>());
        });
    }

    [Test]
    public void Error_messages_name_the_structure_not_the_bytes()
    {
        var ex = Assert.Throws<TeleportFormatException>(() => new SshWireReader([0, 0, 0, 9, 0x41], "SSH widget").ReadString());
        Assert.That(ex!.Message, Does.Contain("SSH widget").And.Contain("truncated"));
    }
}
