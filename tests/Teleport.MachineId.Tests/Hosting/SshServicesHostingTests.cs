using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Wire;

namespace Teleport.MachineId.Tests.Hosting;

/// <summary>The ssh-multiplexer and ssh_host outputs registered with dependency injection run with the host, beside the bot.</summary>
public sealed class SshServicesHostingTests
{
    [Test]
    public async Task A_multiplexer_and_an_ssh_host_output_run_with_the_host_and_stop_with_it()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("The multiplexer passes descriptors over Unix sockets (Linux).");
        }

        await using var cluster = await TeleportEmulator.StartAsync();
        cluster.UpsertRole(new EmulatorRole { Name = "access", Logins = ["root"], NodeLabels = EmulatorRole.AllNodes });
        cluster.UpsertRole(new EmulatorRole { Name = "hosts", Rules = [new EmulatorRoleRule { Resources = ["host_cert"], Verbs = ["create"] }] });
        cluster.AddBot(new EmulatorBot { Name = "robot", Roles = ["access", "hosts"] });
        await using var echo = new TcpTestTarget(TcpTargetBehavior.Echo);
        cluster.AddTcpTarget(new EmulatorTcpTarget { Name = "echo", Address = echo.Address });
        using var work = new SshTestDirectory("tmid-host-ssh");
        var token = cluster.CreateJoinToken("robot").Name;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DestinationPath"] = Path.Combine(work.Path, "host"),
            ["Principals:0"] = "db1.example.com",
            ["Roles:0"] = "hosts",
        }).Build();

        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddTeleportMachineId(options =>
        {
            options.ProxyServer = cluster.ProxyAddress;
            options.Token = token;
            options.StorageType = BotStorageType.Memory;
            options.ProxyCaCertificates.Add(cluster.WebCaCertificate);
        });
        builder.Services.AddTeleportSshMultiplexer("fleet", options => options.DestinationPath = Path.Combine(work.Path, "mux"));
        builder.Services.AddTeleportSshHostOutput("db1", configuration);
        using var host = builder.Build();

        await host.StartAsync();
        SshMultiplexerService multiplexer;
        try
        {
            multiplexer = host.Services.GetRequiredKeyedService<SshMultiplexerService>("fleet");
            var hostOutput = host.Services.GetRequiredKeyedService<SshHostOutputService>("db1");
            var certificates = await multiplexer.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            var hostCertificate = await hostOutput.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));

            await using var stream = await SshMultiplexerClient.ConnectAsync(multiplexer.SocketPath, new SshMultiplexerTarget("echo", 7));
            await stream.WriteAsync(Encoding.UTF8.GetBytes("ping\n"));
            var buffer = new byte[5];
            await stream.ReadExactlyAsync(buffer);

            Assert.That(multiplexer.Name, Is.EqualTo("ssh-multiplexer fleet"));
            Assert.That(certificates.TlsIdentity.Roles, Is.EquivalentTo(new[] { "access", "hosts" }), "the multiplexer holds every role the bot may impersonate");
            Assert.That(Encoding.UTF8.GetString(buffer), Is.EqualTo("ping\n"));
            Assert.That(hostCertificate.HostCertificate.Principals, Is.EqualTo(new[] { "db1.example.com" }));
            Assert.That(File.Exists(Path.Combine(work.Path, "host", "ssh_host-cert.pub")));
        }
        finally
        {
            await host.StopAsync();
        }

        Assert.That(File.Exists(multiplexer.SocketPath), Is.False, "the host's stop removed the sockets");
        Assert.ThrowsAsync<TeleportConnectionException>(() => SshMultiplexerClient.ConnectAsync(multiplexer.SocketPath, new SshMultiplexerTarget("echo", 7)));
    }
}
