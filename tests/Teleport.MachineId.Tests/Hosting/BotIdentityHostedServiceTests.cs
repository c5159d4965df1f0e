using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Hosting;

/// <summary>A host checks its identity outputs before the bot joins (issue 13 defect 2, hosting side).</summary>
public sealed class BotIdentityHostedServiceTests
{
    [Test]
    public async Task An_unusable_output_destination_stops_the_host_before_the_token_is_spent()
    {
        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access"] });
        using var work = new TempDirectory("tmid-host-");
        var regularFile = work.Combine("not-a-directory");
        await File.WriteAllTextAsync(regularFile, "x");
        var token = cluster.CreateJoinToken("robot").Name;

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddTeleportMachineId(options =>
        {
            options.ProxyServer = cluster.ProxyAddress;
            options.Token = token;
            options.StorageType = BotStorageType.Memory;
            options.ProxyCaCertificates.Add(cluster.WebCaCertificate);
        });
        builder.Services.AddTeleportIdentityOutput("ssh", output => output.DestinationPath = regularFile);
        using var host = builder.Build();

        Assert.ThrowsAsync<DestinationException>(() => host.StartAsync());
        Assert.Multiple(() =>
        {
            Assert.That(cluster.JoinTokenExists(token), Is.True, "the token is not spent");
            Assert.That(cluster.BotInstances, Is.Empty);
        });
    }
}
