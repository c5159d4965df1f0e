using BenchmarkDotNet.Running;
using Teleport.MachineId.Benchmarks;

if (args is ["cpu-profile", ..])
{
    return await SshBulkCpuProfile.RunAsync(args);
}

if (args is ["fleet-profile", ..])
{
    return await FleetSshProfile.RunAsync(args);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

/// <summary>Entry point holder for BenchmarkSwitcher.</summary>
public partial class Program;
