using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Renci.SshNet.Common;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.Ssh;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.SshNet;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.SshNet;

/// <summary>
/// SSH.NET through the proxy (the SDK side of <c>tbot-dotnet ssh</c>): real sshd nodes behind the
/// emulator's ProxySSH, host certificates checked against the cluster's host CA.
/// </summary>
[Category("EndToEnd")]
public sealed class TeleportSshClientFactoryTests
{
    [Test]
    public async Task ConnectAsync_returns_a_client_that_runs_commands_on_the_node()
    {
        await using var env = await NodeEnvironment.StartAsync();
        var memory = await WriteOutputAsync(env);
        using var factory = await TeleportSshClientFactory.FromDestinationAsync(memory, env.Cluster.ProxyAddress);

        using var client = await factory.ConnectAsync(env.Login, NodeEnvironment.NodeName);
        using var command = client.RunCommand("hostname; exit 3");
        using var qualified = await factory.ConnectAsync(env.Login, env.NodeHost);
        using var second = qualified.RunCommand("echo qualified");

        Assert.That(command.Result.Trim(), Is.EqualTo(Environment.MachineName));
        Assert.That(command.ExitStatus, Is.EqualTo(3));
        Assert.That(second.Result.Trim(), Is.EqualTo("qualified"));
        Assert.That(factory.ClusterName, Is.EqualTo(env.Cluster.ClusterName));
        Assert.That(factory.Logins, Does.Contain(env.Login));
    }

    [Test]
    public async Task A_node_whose_host_certificate_is_not_from_the_cluster_host_CA_is_refused()
    {
        await using var env = await NodeEnvironment.StartAsync();
        var rogueOptions = new SshdFixtureOptions();
        foreach (var line in env.Cluster.ExportUserCaOpenSsh().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            rogueOptions.TrustedUserCaKeys.Add(PublicKeyInfo.ParseAuthorizedKey(line));
        }

        rogueOptions.HostPrincipals.Add("rogue");
        await using var rogue = await SshdFixture.StartAsync(rogueOptions);
        env.Cluster.AddNode(new EmulatorNode { Name = "rogue", Address = "127.0.0.1:" + rogue.Port.ToString(CultureInfo.InvariantCulture) });
        var memory = await WriteOutputAsync(env);
        using var factory = await TeleportSshClientFactory.FromDestinationAsync(memory, env.Cluster.ProxyAddress);

        var error = Assert.ThrowsAsync<CertificateValidationException>(() => factory.ConnectAsync(env.Login, "rogue"));

        Assert.That(error!.Failure, Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(rogue.Log, Does.Not.Contain("Accepted"));
    }

    [Test]
    public async Task A_login_the_role_does_not_grant_fails_authentication_and_an_unknown_node_is_not_found()
    {
        await using var env = await NodeEnvironment.StartAsync();
        var memory = await WriteOutputAsync(env);
        using var factory = await TeleportSshClientFactory.FromDestinationAsync(memory, env.Cluster.ProxyAddress);

        Assert.ThrowsAsync<SshAuthenticationException>(() => factory.ConnectAsync("nobody", NodeEnvironment.NodeName));
        Assert.ThrowsAsync<TeleportNotFoundException>(() => factory.ConnectAsync(env.Login, "no-such-node"));
    }

    [Test]
    public void Host_certificates_are_checked_for_type_authority_principal_and_validity()
    {
        var now = new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
        using var hostCa = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var otherCa = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        using var hostKey = PrivateKey.Generate(KeyAlgorithm.Ed25519);
        SshCertificate Sign(PrivateKey ca, SshCertificateType type, string[] principals, TimeSpan validFor)
        {
            var builder = new SshCertificateBuilder { PublicKey = hostKey.PublicKey, Type = type, KeyId = "node1", ValidAfter = now.AddMinutes(-1), ValidBefore = now + validFor };
            foreach (var principal in principals)
            {
                builder.Principals.Add(principal);
            }

            return builder.Sign(ca);
        }

        CertificateValidationFailure? Check(SshCertificate certificate)
        {
            var verifier = new HostCertificateVerifier("node1", "example.test", [hostCa.PublicKey], new FakeTimeProvider(now));
            return verifier.Check(certificate) ? null : verifier.Failure!.Failure;
        }

        Assert.That(Check(Sign(hostCa, SshCertificateType.Host, ["node1"], TimeSpan.FromHours(1))), Is.Null);
        Assert.That(Check(Sign(hostCa, SshCertificateType.Host, ["node1.example.test"], TimeSpan.FromHours(1))), Is.Null);
        Assert.That(Check(Sign(hostCa, SshCertificateType.Host, [], TimeSpan.FromHours(1))), Is.Null, "no principals: any host (OpenSSH)");
        Assert.That(Check(Sign(otherCa, SshCertificateType.Host, ["node1"], TimeSpan.FromHours(1))), Is.EqualTo(CertificateValidationFailure.UntrustedAuthority));
        Assert.That(Check(Sign(hostCa, SshCertificateType.User, ["node1"], TimeSpan.FromHours(1))), Is.EqualTo(CertificateValidationFailure.WrongType));
        Assert.That(Check(Sign(hostCa, SshCertificateType.Host, ["node2"], TimeSpan.FromHours(1))), Is.EqualTo(CertificateValidationFailure.PrincipalNotAllowed));
        Assert.That(Check(Sign(hostCa, SshCertificateType.Host, ["node1"], TimeSpan.FromSeconds(-1))), Is.EqualTo(CertificateValidationFailure.Expired));
    }

    [TestCase("node1", "node1")]
    [TestCase("node1.example.test", "node1")]
    [TestCase("node1.example.test.proxy.example.com", "node1")]
    [TestCase("node1.proxy.example.com", "node1")]
    [TestCase("NODE1.EXAMPLE.TEST", "NODE1")]
    [TestCase("example.test", "example.test")]
    [TestCase("10.0.0.5", "10.0.0.5")]
    public void Host_names_are_cleaned_like_tbot(string host, string expected) =>
        Assert.That(TargetHostNames.Clean(host, "proxy.example.com", "example.test"), Is.EqualTo(expected));

    private static async Task<MemoryDestination> WriteOutputAsync(NodeEnvironment env)
    {
        var memory = new MemoryDestination();
        await using var signer = env.CreateSigner();
        await using var output = IdentityOutputService.Create(signer, new IdentityOutputOptions { Destination = memory });
        await output.RenewNowAsync();
        return memory;
    }
}
