using SharpFuzz;
using Teleport.MachineId.Fuzz;

// tbot parsers under AFL++:  Teleport.MachineId.Fuzz fuzz TARGET     (run by run-fuzz.sh under afl-fuzz)
// replay inputs in-process:  Teleport.MachineId.Fuzz replay TARGET FILE|DIR...   (exit 1 on an undocumented exception)
// list targets:              Teleport.MachineId.Fuzz list
// seeds from our own writers: Teleport.MachineId.Fuzz seed CORPUS_DIR   (run by make-seeds.sh)
switch (args)
{
    case ["list"]:
        foreach (var target in FuzzTargets.All)
        {
            Console.WriteLine($"{target.Name,-20} {target.Reads}");
        }

        return 0;

    case ["seed", var directory]:
        OwnOutputSeeds.Write(directory);
        return 0;

    case ["fuzz", var name]:
    {
        var target = FuzzTargets.Get(name);

        // Out of process: a stack overflow or an abort kills only the child, which AFL++ sees as a crash.
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            _ = target.Execute(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        });
        return 0;
    }

    case ["replay", var name, .. var paths] when paths.Length > 0:
    {
        var target = FuzzTargets.Get(name);
        var failures = 0;
        var accepted = 0;
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p]).Order(StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            try
            {
                accepted += target.Execute(File.ReadAllBytes(file)) ? 1 : 0;
            }
            catch (Exception ex)
            {
                failures++;
                Console.Error.WriteLine($"{file}: {ex}");
            }
        }

        Console.WriteLine($"{target.Name}: {files.Count} inputs, {accepted} accepted, {failures} undocumented exceptions");
        return failures == 0 ? 0 : 1;
    }

    default:
        Console.Error.WriteLine("usage: Teleport.MachineId.Fuzz list | fuzz TARGET | replay TARGET FILE|DIR... | seed DIR");
        return 2;
}
