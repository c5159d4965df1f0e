using System.Text;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Internal;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Identity;

/// <summary>The join token, private keys and certificate bytes never reach logs or exception messages.</summary>
[TestFixture]
public sealed class SecretLeakTests
{
    [Test]
    public async Task Token_and_keys_never_appear_in_trace_logs_or_errors_through_join_renew_failure_and_restart()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        var capture = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(capture));
        var firstToken = await fixture.WriteNewTokenAsync();
        var secrets = new List<(string What, string Value)> { ("token", firstToken) };
        var errors = new List<Exception>();

        await using (var provider = fixture.CreateProvider(loggerFactory: loggerFactory))
        {
            await provider.StartAsync();
            var joined = await provider.WaitUntilReadyAsync();
            AddIdentitySecrets(secrets, joined);
            var renewed = await provider.RenewNowAsync();
            AddIdentitySecrets(secrets, renewed);

            // Failures: Auth offline, then an expired identity with the used token.
            fixture.Emulator.Faults.TakeAuthOffline();
            errors.Add(Assert.CatchAsync<TeleportException>(() => provider.RenewNowAsync())!);
            await RunUntilAsync(fixture.Time, provider, renewed.NotAfter + TimeSpan.FromMinutes(2));
            errors.Add(provider.Status.LastError!);
            fixture.Emulator.Faults.BringAuthOnline();
        }

        // A restart with a wrong token, then a second provider on the locked storage.
        await File.WriteAllTextAsync(fixture.TokenFile, "not-a-real-token-7f3a9c");
        secrets.Add(("wrong token", "not-a-real-token-7f3a9c"));
        await using (var provider = fixture.CreateProvider(loggerFactory: loggerFactory))
        {
            await provider.StartAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            errors.Add(Assert.CatchAsync<TeleportException>(() => provider.WaitUntilReadyAsync(timeout.Token))!);
            await using var second = fixture.CreateProvider(loggerFactory: loggerFactory);
            errors.Add(Assert.CatchAsync<TeleportException>(() => second.StartAsync())!);
        }

        var text = new StringBuilder(capture.AllText);
        foreach (var error in errors)
        {
            text.Append('\n').Append(error);
        }

        var all = text.ToString();
        Assert.That(capture.Entries, Has.Count.GreaterThan(10), "the cycle was logged");
        Assert.That(capture.Entries.Select(e => e.EventId.Id), Does.Contain(MachineIdEventIds.BotJoined).And.Contain(MachineIdEventIds.BotRenewed)
            .And.Contain(MachineIdEventIds.BotRenewalFailed).And.Contain(MachineIdEventIds.BotJoinRequired));
        foreach (var (what, value) in secrets)
        {
            Assert.That(all, Does.Not.Contain(value), $"{what} leaked");
        }

        Assert.That(all, Does.Not.Contain("PRIVATE KEY"));
    }

    private static void AddIdentitySecrets(List<(string, string)> secrets, BotIdentity identity)
    {
        var keyPem = identity.PrivateKey.ExportPem();
        var body = string.Concat(keyPem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal)));
        secrets.Add(("private key PEM body", body[..40]));
        secrets.Add(("private key PEM body (middle line)", keyPem.Split('\n')[2]));
        if (identity.PrivateKey.Algorithm == KeyAlgorithm.EcdsaP256)
        {
            var d = identity.PrivateKey.Ecdsa.ExportParameters(true).D!;
            secrets.Add(("private scalar hex", Convert.ToHexString(d)));
            secrets.Add(("private scalar hex (lower)", Convert.ToHexStringLower(d)));
            secrets.Add(("private scalar base64", Convert.ToBase64String(d)));
        }

        var certBase64 = Convert.ToBase64String(identity.TlsCertificate.RawData);
        secrets.Add(("TLS certificate bytes", certBase64.Substring(40, 40)));
        secrets.Add(("SSH certificate bytes", identity.SshCertificate.ToAuthorizedKey().Split(' ')[1].Substring(40, 40)));
    }
}
