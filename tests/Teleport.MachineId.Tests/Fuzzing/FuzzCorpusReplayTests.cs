using Teleport.MachineId.Fuzz;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Fuzzing;

/// <summary>
/// Replays every seed (<c>tests/Teleport.MachineId.Fuzz/Corpus</c>) and every former crash
/// (<c>Crashes</c>) through the same fuzz target code AFL++ runs: a parser may only throw what its
/// API documents. Crashes also have a named regression test next to the parser's other tests.
/// </summary>
[TestFixture]
public sealed class FuzzCorpusReplayTests
{
    private static readonly string Root = FuzzCrashes.Root;

    public static IEnumerable<TestCaseData> Inputs()
    {
        foreach (var kind in new[] { "Corpus", "Crashes" })
        {
            var folder = Path.Combine(Root, kind);
            if (!Directory.Exists(folder))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(folder, file);
                var target = relative.Split(Path.DirectorySeparatorChar)[0];
                yield return new TestCaseData(target, Path.GetRelativePath(Root, file))
                    .SetName($"Replay {kind}/{relative.Replace(Path.DirectorySeparatorChar, '/')}");
            }
        }
    }

    [TestCaseSource(nameof(Inputs))]
    public void Input_gives_only_documented_exceptions(string targetName, string relativePath)
    {
        var target = FuzzTargets.Get(targetName);
        var input = File.ReadAllBytes(Path.Combine(Root, relativePath));

        Assert.DoesNotThrow(() => target.Execute(input));
    }

    [Test]
    public void Every_target_has_seeds_and_every_corpus_folder_a_target()
    {
        var folders = Directory.GetDirectories(Path.Combine(Root, "Corpus")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        var crashFolders = Directory.Exists(Path.Combine(Root, "Crashes"))
            ? Directory.GetDirectories(Path.Combine(Root, "Crashes")).Select(Path.GetFileName)
            : [];

        Assert.Multiple(() =>
        {
            Assert.That(folders, Is.EqualTo(FuzzTargets.All.Select(t => t.Name).Order(StringComparer.Ordinal)));
            Assert.That(crashFolders, Is.SubsetOf(FuzzTargets.All.Select(t => t.Name)));
        });
    }

    [Test]
    public void An_undocumented_exception_escapes_a_target()
    {
        // The harness itself: a documented exception is swallowed, anything else reaches AFL++ as a crash.
        var target = new FuzzTarget("probe", "probe", input => throw (input[0] == 0
            ? new TeleportFormatException("bad input")
            : new IndexOutOfRangeException()));

        Assert.Multiple(() =>
        {
            Assert.DoesNotThrow(() => target.Execute([0]));
            Assert.Throws<IndexOutOfRangeException>(() => target.Execute([1]));
        });
    }
}
