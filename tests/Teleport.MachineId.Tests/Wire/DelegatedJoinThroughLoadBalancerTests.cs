using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Identity.Joining;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>
/// Delegated join methods through a real nginx in front of the emulator: <c>bound_keypair</c> registers
/// over the unified join service (the proxy's join gRPC, in an <c>alpn</c> WebSocket tunnel) and
/// <c>kubernetes</c> over the proxy's HTTPS API; both renew by re-joining on Auth (TLS routing, in an
/// <c>alpn-ping</c> tunnel) and keep their bot instance.
/// </summary>
public sealed class DelegatedJoinThroughLoadBalancerTests
{
    [TestCase(MachineIdOptions.BoundKeypairJoinMethod)]
    [TestCase(MachineIdOptions.KubernetesJoinMethod)]
    public async Task A_delegated_method_joins_and_re_joins_through_nginx(string method)
    {
        await using var lb = await LoadBalancedCluster.StartAsync(new TeleportEmulatorOptions { JoinApis = EmulatorJoinApis.LegacyAndUnified });
        using var work = new TempDirectory("tmid-lb-join-");
        var options = new MachineIdOptions { ProxyServer = lb.Nginx.Address, JoinMethod = method, StorageType = BotStorageType.Memory };
        options.ProxyCaCertificates.Add(lb.Nginx.CaCertificate);
        if (method == MachineIdOptions.BoundKeypairJoinMethod)
        {
            lb.Emulator.AddJoinToken(DelegatedJoinMethodEmulatorTests.BoundKeypairToken(new EmulatorBoundKeypairJoinSpec { RegistrationSecret = "bkp-through-nginx" }));
            options.Token = "bkp-bot";
            options.BoundKeypair.RegistrationSecret = "bkp-through-nginx";
        }
        else
        {
            lb.Emulator.AddJoinToken(new EmulatorJoinToken
            {
                Name = "kube-bot",
                BotName = WireTestCluster.BotName,
                JoinMethod = EmulatorJoinMethods.Kubernetes,
                Kubernetes = new EmulatorKubernetesJoinSpec { Type = EmulatorKubernetesJoinSpec.StaticJwksType, StaticJwks = lb.Emulator.Kubernetes.Jwks, AllowServiceAccounts = ["ci:tbot"] },
            });
            options.Token = "kube-bot";
            options.Kubernetes.TokenPath = work.Combine("sa-token");
            File.WriteAllText(options.Kubernetes.TokenPath, lb.Emulator.Kubernetes.MintServiceAccountToken("ci:tbot", new EmulatorServiceAccountTokenOptions { Lifetime = TimeSpan.FromMinutes(30) }));
        }

        BotIdentity joined, rejoined;
        await using (var bot = BotIdentityProvider.Create(options))
        {
            await bot.StartAsync();
            joined = await bot.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            rejoined = await bot.RenewNowAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }

        // nginx logs an upgraded request when its tunnel closes, so the log is read after the bot is gone.

        Assert.That(rejoined.InstanceId, Is.EqualTo(joined.InstanceId), "the re-join kept the bot instance");
        Assert.That(rejoined.Generation, Is.EqualTo(joined.Generation + 1));
        Assert.That(lb.Emulator.BotInstances.Single().Authentications.Select(a => a.JoinMethod), Is.All.EqualTo(method));
        Assert.That(await lb.Nginx.AccessLogOnceAsync(log => log.Contains(NginxLoadBalancer.UpgradedRequest, StringComparison.Ordinal)), Does.Contain(NginxLoadBalancer.UpgradedRequest));
    }
}
