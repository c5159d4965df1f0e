using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Cli;

namespace Teleport.MachineId.Tests.Cli;

/// <summary>
/// When a <c>start</c> run may keep the OS trust store out of its process (the store costs 40-90 ms of
/// a one-shot run on Linux): only when no connection of the run can consult it.
/// </summary>
[TestFixture]
public sealed class BotRunPlanTrustStoreTests
{
    [Test]
    public void A_proxy_verified_with_the_system_store_keeps_it()
    {
        var plan = Plan(new MachineIdOptions { ProxyServer = "teleport.example.com:443" });

        Assert.That(plan.NeverUsesSystemTrustStore, Is.False);
    }

    [Test]
    public void A_proxy_verified_with_a_ca_bundle_never_uses_it()
    {
        var options = new MachineIdOptions { ProxyServer = "teleport.example.com:443" };
        options.ProxyCaCertificates.Add(SelfSigned());

        Assert.That(Plan(options).NeverUsesSystemTrustStore, Is.True);
    }

    [Test]
    public void Insecure_never_uses_it()
    {
        var plan = Plan(new MachineIdOptions { ProxyServer = "teleport.example.com:443", Insecure = true });

        Assert.That(plan.NeverUsesSystemTrustStore, Is.True);
    }

    [Test]
    public void The_github_join_method_keeps_it_for_the_actions_token_endpoint()
    {
        var options = new MachineIdOptions { ProxyServer = "teleport.example.com:443", JoinMethod = MachineIdOptions.GitHubJoinMethod };
        options.ProxyCaCertificates.Add(SelfSigned());

        Assert.That(Plan(options).NeverUsesSystemTrustStore, Is.False);
    }

    private static BotRunPlan Plan(MachineIdOptions options) =>
        new() { Bot = options, Names = CliSettingNames.Flags(tokenFromEnvironment: false, proxyFromEnvironment: false, authFromEnvironment: false) };

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=proxy CA", key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddYears(100));
    }
}
