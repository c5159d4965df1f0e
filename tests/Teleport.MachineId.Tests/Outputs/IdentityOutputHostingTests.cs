using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>Identity outputs registered with dependency injection run with the host, beside the bot.</summary>
public sealed class IdentityOutputHostingTests
{
    [Test]
    public async Task Two_outputs_registered_with_the_host_are_written_and_resolvable_by_name()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.UpsertRole(new EmulatorRole { Name = "ops", Logins = ["ops"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access", "ops"] });
        using var work = new SshTestDirectory("tmid-host");
        var token = cluster.CreateJoinToken("robot").Name;
        var memory = new MemoryDestination();

        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddTeleportMachineId(options =>
        {
            options.ProxyServer = cluster.ProxyAddress;
            options.Token = token;
            options.StorageType = BotStorageType.Memory;
            options.ProxyCaCertificates.Add(cluster.WebCaCertificate);
        });
        builder.Services.AddTeleportIdentityOutput("ssh", output =>
        {
            output.DestinationPath = Path.Combine(work.Path, "machine-id");
            output.Roles.Add("access");
        });
        builder.Services.AddTeleportIdentityOutput("ops", output =>
        {
            output.Destination = memory;
            output.Roles.Add("ops");
        });
        using var host = builder.Build();

        await host.StartAsync();
        try
        {
            var ssh = host.Services.GetRequiredKeyedService<IdentityOutputService>("ssh");
            var ops = host.Services.GetRequiredKeyedService<IdentityOutputService>("ops");
            var sshResult = await ssh.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            var opsResult = await ops.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));

            Assert.That(ssh.Name, Is.EqualTo("ssh"));
            Assert.That(sshResult.Certificates.TlsIdentity.Roles, Is.EqualTo(new[] { "access" }));
            Assert.That(opsResult.Certificates.TlsIdentity.Roles, Is.EqualTo(new[] { "ops" }));
            Assert.That(File.Exists(Path.Combine(work.Path, "machine-id", "ssh_config")));
            Assert.That(memory.Current!.Keys, Does.Contain("identity"));
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
