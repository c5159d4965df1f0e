using System.Reflection;
using System.Runtime.InteropServices;
using Teleport.MachineId.Identity.Internal;

namespace Teleport.MachineId.Tests.Identity.Internal;

/// <summary>Bot instance heartbeats as tbot fills them (teleport.machineid.v1 BotInstanceStatusHeartbeat).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class HeartbeatTests
{
    [TestCase(Architecture.X64, "amd64")]
    [TestCase(Architecture.Arm64, "arm64")]
    [TestCase(Architecture.X86, "386")]
    [TestCase(Architecture.Arm, "arm")]
    [TestCase(Architecture.S390x, "s390x")]
    [TestCase(Architecture.Ppc64le, "ppc64le")]
    [TestCase(Architecture.RiscV64, "riscv64")]
    [TestCase(Architecture.LoongArch64, "loong64")]
    public void Architectures_are_named_as_Go_names_them(Architecture architecture, string goarch) =>
        Assert.That(BotHeartbeats.ToGoArchitecture(architecture), Is.EqualTo(goarch));

    [Test]
    public async Task The_daemon_and_the_one_shot_heartbeats_carry_version_architecture_os_and_join_method()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        await fixture.WriteNewTokenAsync();
        await using (var provider = fixture.CreateProvider())
        {
            await provider.StartAsync();
            await provider.WaitUntilReadyAsync();
            await IdentityTestSupport.EventuallyAsync(() => fixture.Emulator.BotInstances.Single().Heartbeats.Count > 0, "the start-up heartbeat arrived");
        }

        await BotIdentityProvider.JoinOrRenewOnceAsync(fixture.Options(), timeProvider: fixture.Time);
        var heartbeats = fixture.Emulator.BotInstances.Single().Heartbeats;
        var informational = typeof(BotIdentityProvider).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var expectedOs = OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsMacOS() ? "darwin" : "windows";
        Assert.Multiple(() =>
        {
            Assert.That(heartbeats, Has.Count.EqualTo(2));
            Assert.That(heartbeats.Select(h => (h.IsStartup, h.OneShot)), Is.EqualTo(new[] { (true, false), (true, true) }), "start-up, then tbot's one-shot heartbeat");
            Assert.That(heartbeats.Select(h => h.Version), Is.All.EqualTo(informational).And.All.Not.EqualTo("0.0.0"));
            Assert.That(heartbeats.Select(h => h.Architecture), Is.All.EqualTo(BotHeartbeats.ToGoArchitecture(RuntimeInformation.ProcessArchitecture)));
            Assert.That(heartbeats.Select(h => h.OperatingSystem), Is.All.EqualTo(expectedOs));
            Assert.That(heartbeats.Select(h => h.JoinMethod), Is.All.EqualTo("token"));
            Assert.That(heartbeats.Select(h => h.Hostname), Is.All.EqualTo(Environment.MachineName));
            Assert.That(heartbeats.Select(h => h.Uptime), Is.All.Not.Null);
        });
    }
}
