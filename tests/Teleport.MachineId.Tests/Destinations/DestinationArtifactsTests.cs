using System.Text;
using Teleport.MachineId.Destinations;

namespace Teleport.MachineId.Tests.Destinations;

public class DestinationArtifactsTests
{
    [TestCase("key")]
    [TestCase("key-cert.pub")]
    [TestCase("identity")]
    [TestCase("teleport-host-ca.crt")]
    [TestCase("known_hosts")]
    [TestCase("ssh_config")]
    [TestCase("a..b")]
    [TestCase("schlüssel")]
    public void ValidNames_AreAccepted(string name)
    {
        Assert.That(DestinationArtifacts.IsValidName(name), Is.True);
        var set = DestinationArtifacts.Empty.SetItem(name, "x");
        Assert.That(set.ContainsKey(name), Is.True);
    }

    [TestCase("", "empty")]
    [TestCase(".", "reserved")]
    [TestCase("..", "reserved")]
    [TestCase("..data", "reserved")]
    [TestCase(".write-test", "reserved")]
    [TestCase("a/b", "path separators")]
    [TestCase("/etc/passwd", "path separators")]
    [TestCase("..\\evil", "reserved")]
    [TestCase("a\\b", "path separators")]
    [TestCase("a\0b", "control character")]
    [TestCase("tab\tname", "control character")]
    [TestCase("line\nbreak", "control character")]
    public void InvalidNames_AreRefusedWithAReason(string name, string reason)
    {
        Assert.That(DestinationArtifacts.IsValidName(name), Is.False);
        var ex = Assert.Throws<ArgumentException>(() => DestinationArtifacts.Empty.SetItem(name, [1]));
        Assert.That(ex!.Message, Does.Contain(reason));
    }

    [Test]
    public void Names_LongerThan255Utf8Bytes_AreRefused()
    {
        Assert.That(DestinationArtifacts.IsValidName(new string('k', 255)), Is.True);
        Assert.That(DestinationArtifacts.IsValidName(new string('k', 256)), Is.False);
        Assert.That(DestinationArtifacts.IsValidName(new string('ü', 128)), Is.False, "128 × 2 UTF-8 bytes");
        Assert.That(DestinationArtifacts.IsValidName("\ud800"), Is.False, "lone surrogate");
    }

    [Test]
    public void SetItem_CopiesTheContent_AndReturnsANewSet()
    {
        var content = new byte[] { 1, 2, 3 };
        var first = DestinationArtifacts.Empty.SetItem("key", content);
        content[0] = 99;
        var second = first.SetItem("key-cert.pub", "cert");

        Assert.Multiple(() =>
        {
            Assert.That(first["key"].ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
            Assert.That(first.Count, Is.EqualTo(1));
            Assert.That(second.Count, Is.EqualTo(2));
            Assert.That(Encoding.UTF8.GetString(second["key-cert.pub"].Span), Is.EqualTo("cert"));
            Assert.That(DestinationArtifacts.Empty.Count, Is.Zero);
        });
    }

    [Test]
    public void Create_CopiesAndSortsOrdinally_AndRefusesDuplicates()
    {
        var key = new byte[] { 7 };
        var set = DestinationArtifacts.Create([new("key.pub", [1]), new("Key", [2]), new("key", key)]);
        key[0] = 0;

        Assert.That(set.Keys, Is.EqualTo(new[] { "Key", "key", "key.pub" }));
        Assert.That(set["key"].ToArray(), Is.EqualTo(new byte[] { 7 }));
        Assert.That(set.TotalLength, Is.EqualTo(3));
        Assert.Throws<ArgumentException>(() => DestinationArtifacts.Create([new("key", [1]), new("key", [2])]));
    }

    [Test]
    public void Remove_And_ContentEquals()
    {
        var set = DestinationArtifacts.Empty.SetItem("key", "a").SetItem("key.pub", "b");
        var same = DestinationArtifacts.Empty.SetItem("key.pub", "b").SetItem("key", "a");
        var different = set.SetItem("key", "A");

        Assert.Multiple(() =>
        {
            Assert.That(set.ContentEquals(same), Is.True);
            Assert.That(set.ContentEquals(different), Is.False);
            Assert.That(set.ContentEquals(set.Remove("key")), Is.False);
            Assert.That(set.Remove("absent"), Is.SameAs(set));
            Assert.That(set.Remove("key").Keys, Is.EqualTo(new[] { "key.pub" }));
            Assert.That(set.ContentEquals(null), Is.False);
        });
    }

    [Test]
    public void ToString_ListsNamesAndSizes_NeverContents()
    {
        var set = DestinationArtifacts.Empty.SetItem("key", "-----BEGIN OPENSSH PRIVATE KEY-----SECRET");
        var text = set.ToString();
        Assert.That(text, Does.Contain("key (41 B)"));
        Assert.That(text, Does.Not.Contain("SECRET"));
    }
}

public class MemoryDestinationTests
{
    [Test]
    public async Task ReadBeforeWrite_IsNull_ThenReturnsTheWrittenSet()
    {
        var destination = new MemoryDestination();
        await destination.InitializeAsync();
        await destination.VerifyWritableAsync();
        Assert.That(await destination.ReadAsync(), Is.Null);

        var set = DestinationArtifacts.Empty.SetItem("key", "k");
        await destination.WriteAsync(set);

        Assert.Multiple(async () =>
        {
            Assert.That(await destination.ReadAsync(), Is.SameAs(set));
            Assert.That(destination.Current, Is.SameAs(set));
            Assert.That(destination.IsPersistent, Is.False);
            Assert.That(destination.Description, Is.EqualTo("memory"));
        });
    }

    [Test]
    public void CancelledToken_CancelsEveryOperation()
    {
        var destination = new MemoryDestination();
        var cancelled = new CancellationToken(canceled: true);
        Assert.Multiple(() =>
        {
            Assert.That(async () => await destination.WriteAsync(DestinationArtifacts.Empty, cancelled), Throws.InstanceOf<OperationCanceledException>());
            Assert.That(async () => await destination.ReadAsync(cancelled), Throws.InstanceOf<OperationCanceledException>());
            Assert.That(async () => await destination.InitializeAsync(cancelled), Throws.InstanceOf<OperationCanceledException>());
            Assert.That(destination.Current, Is.Null);
        });
        Assert.That(async () => await destination.WriteAsync(null!), Throws.ArgumentNullException);
    }

    [Test]
    public async Task ConcurrentReader_AlwaysSeesACompleteMatchingPair()
    {
        var destination = new MemoryDestination();
        var random = new Random(1);
        var first = PairedArtifacts.Create(random, 0);
        await destination.WriteAsync(DestinationArtifacts.Empty.SetItem("key", first.Key).SetItem("key-cert.pub", first.Certificate));

        using var stop = new CancellationTokenSource();
        var problems = new List<string>();
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var set = (await destination.ReadAsync())!;
                var problem = PairedArtifacts.Check(set["key"].Span, set["key-cert.pub"].Span);
                if (problem is not null)
                {
                    problems.Add(problem);
                }

                Interlocked.Increment(ref reads);
            }
        });

        while (Volatile.Read(ref reads) == 0)
        {
            await Task.Delay(1);
        }

        for (var i = 1; i <= 2000; i++)
        {
            var pair = PairedArtifacts.Create(random, i);
            await destination.WriteAsync(DestinationArtifacts.Empty.SetItem("key", pair.Key).SetItem("key-cert.pub", pair.Certificate));
        }

        await stop.CancelAsync();
        await reader;
        Assert.That(problems, Is.Empty);
        Assert.That(reads, Is.GreaterThan(0));
    }
}
