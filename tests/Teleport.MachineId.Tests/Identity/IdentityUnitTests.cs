using System.Net.Http;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Tests.Infrastructure;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Identity;

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RenewalScheduleTests
{
    [Test]
    public async Task Adaptive_renewal_falls_between_61_and_72_percent_of_the_actual_lifetime()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time) { MaxSessionTtl = TimeSpan.FromMinutes(90) };
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        options.CredentialTtl = TimeSpan.FromHours(4);
        await using var provider = CreateProvider(options, cluster, time);
        await provider.StartAsync();
        var identity = await provider.WaitUntilReadyAsync();
        foreach (var sample in new[] { 0.0, 0.25, 0.5, 0.75, 1.0 })
        {
            var schedule = new RenewalSchedule(options, () => sample);
            var at = schedule.NextRenewal(identity, Start);
            var fraction = (at - identity.NotBefore) / identity.Lifetime;
            Assert.That(fraction, Is.EqualTo((2.0 / 3.0) + (((sample * 2) - 1) * 0.05)).Within(1e-6));
        }
    }
}

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class MachineIdOptionsValidationTests
{
    private static List<string> Validate(Action<MachineIdOptions> change)
    {
        var options = new MachineIdOptions { ProxyServer = "teleport.example.com:443", Token = "t", StorageType = BotStorageType.Memory };
        change(options);
        return MachineIdOptionsValidation.Validate(options, JoinMethodRegistry.Default);
    }

    [Test]
    public void Valid_options_have_no_errors() => Assert.That(Validate(_ => { }), Is.Empty);

    [TestCase("address")]
    [TestCase("both")]
    [TestCase("url")]
    [TestCase("method")]
    [TestCase("tokens")]
    [TestCase("pin")]
    [TestCase("pins+path")]
    [TestCase("insecure+pins")]
    [TestCase("ttl")]
    [TestCase("interval")]
    [TestCase("backoff")]
    [TestCase("storage")]
    public void Each_rule_reports_a_clear_error(string rule)
    {
        var errors = Validate(o =>
        {
            switch (rule)
            {
                case "address": o.ProxyServer = null; break;
                case "both": o.AuthServer = "auth:3025"; break;
                case "url": o.ProxyServer = "ftp://teleport.example.com"; break;
                case "method": o.JoinMethod = "iam"; break;
                case "tokens": o.TokenFile = "/run/token"; break;
                case "pin": o.AuthServer = "auth:3025"; o.ProxyServer = null; o.CaPins.Add("sha256:xyz"); break;
                case "pins+path": o.CaPins.Add("sha256:" + new string('a', 64)); o.CaPath = "/ca.pem"; break;
                case "insecure+pins": o.Insecure = true; o.CaPath = "/ca.pem"; break;
                case "ttl": o.CredentialTtl = TimeSpan.FromSeconds(5); break;
                case "interval": o.RenewalMode = BotRenewalMode.FixedInterval; o.RenewalInterval = TimeSpan.FromHours(2); break;
                case "backoff": o.RetryMaxBackoff = TimeSpan.FromMilliseconds(10); break;
                case "storage": o.StorageType = BotStorageType.Directory; break;
            }
        });
        Assert.That(errors, Has.Count.EqualTo(1), string.Join(" | ", errors));
        Assert.That(errors[0], Does.Not.Contain("\"t\""));
    }

    [Test]
    public void Create_throws_an_options_validation_exception_listing_every_problem()
    {
        var error = Assert.Throws<OptionsValidationException>(() => BotIdentityProvider.Create(new MachineIdOptions { Token = "secret-token-value", CredentialTtl = TimeSpan.Zero }));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Failures.Count(), Is.EqualTo(3)); // address, TTL, storage path
            Assert.That(error.Message, Does.Not.Contain("secret-token-value"));
        });
    }

    [Test]
    public void ToString_never_shows_the_token()
    {
        var options = new MachineIdOptions { ProxyServer = "p:443", Token = "secret-token-value" };
        Assert.That(options.ToString(), Does.Not.Contain("secret-token-value").And.Contain("redacted"));
    }
}

[TestFixture]
[Parallelizable(ParallelScope.All)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BotIdentityStoreTests
{
    [Test]
    public async Task Directory_store_writes_0600_files_in_a_0700_directory_and_reads_them_back()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var path = Path.Combine(dir, "storage");
        var identity = new StoredBotIdentity("KEY", new BotIdentityMaterial("TLS", "SSH", ["CA1", "CA2"], ["K1"], "token"), "abc", Start);
        await using (var store = DirectoryBotIdentityStore.Open(path))
        {
            await store.SaveIdentityAsync(identity, CancellationToken.None);
            await store.WriteInFlightAsync(new InFlightRenewal(3, "inst", "ecdsa-sha2-nistp256 AAAA", Start), CancellationToken.None);
        }

        Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        foreach (var file in new[] { DirectoryBotIdentityStore.IdentityFileName, DirectoryBotIdentityStore.InFlightFileName })
        {
            Assert.That(File.GetUnixFileMode(Path.Combine(path, file)), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), file);
        }

        await using (var store = DirectoryBotIdentityStore.Open(path))
        {
            var state = await store.LoadAsync(CancellationToken.None);
            Assert.Multiple(() =>
            {
                Assert.That(state.Identity!.PrivateKeyPem, Is.EqualTo("KEY"));
                Assert.That(state.Identity.Material.TlsCaCertificatesPem, Is.EqualTo(new[] { "CA1", "CA2" }));
                Assert.That(state.Identity.TokenHash, Is.EqualTo("abc"));
                Assert.That(state.Identity.SavedAt, Is.EqualTo(Start));
                Assert.That(state.InFlight, Is.EqualTo(new InFlightRenewal(3, "inst", "ecdsa-sha2-nistp256 AAAA", Start)));
            });
            await store.ClearInFlightAsync(CancellationToken.None);
            Assert.That((await store.LoadAsync(CancellationToken.None)).InFlight, Is.Null);
        }
    }

    // Issue 13 defect 5: a storage path through a symbolic link was accepted, while the same link
    // as a destination was refused; the storage holds the long-lived identity.
    [Test]
    public void A_storage_path_through_a_symbolic_link_is_refused_like_a_destination()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var real = Directory.CreateDirectory(Path.Combine(temp.Path, "real")).FullName;
        var link = Path.Combine(temp.Path, "link");
        File.CreateSymbolicLink(link, real);

        var error = Assert.Throws<Teleport.MachineId.Destinations.DestinationException>(() => DirectoryBotIdentityStore.Open(Path.Combine(link, "storage")));

        Assert.That(error!.Failure, Is.EqualTo(Teleport.MachineId.Destinations.DestinationFailure.SymlinkRefused));
        Assert.That(error.Message, Does.Contain(link).And.Contain("symbolic link"));
        Assert.That(Directory.Exists(Path.Combine(real, "storage")), Is.False, "nothing was created through the link");
    }

    [Test]
    public async Task A_stored_identity_over_its_size_limit_counts_as_unreadable()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var storage = Directory.CreateDirectory(Path.Combine(temp.Path, "storage")).FullName;
        await using (var file = File.Create(Path.Combine(storage, DirectoryBotIdentityStore.IdentityFileName)))
        {
            file.SetLength(InputLimits.StorageFileBytes + 1);
        }

        await using var store = DirectoryBotIdentityStore.Open(storage);
        var state = await store.LoadAsync(CancellationToken.None);

        Assert.That(state.Identity, Is.Null);
        Assert.That(state.IdentityError!.Message, Does.Contain("larger than 1 MiB"));
    }

    [Test]
    public void Every_truncation_of_a_stored_identity_is_a_format_error()
    {
        var bytes = BotIdentityStoreFormat.EncodeIdentity(
            new StoredBotIdentity("KEY", new BotIdentityMaterial("TLS", "SSH", ["CA"], ["K"], "token"), null, Start));
        for (var length = 0; length < bytes.Length - 1; length += 7)
        {
            Assert.Throws<TeleportFormatException>(() => BotIdentityStoreFormat.DecodeIdentity(bytes[..length]), $"length {length}");
        }

        Assert.Throws<TeleportFormatException>(() => BotIdentityStoreFormat.DecodeIdentity("{\"version\":9}"u8.ToArray()));
        Assert.Throws<TeleportFormatException>(() => BotIdentityStoreFormat.DecodeInFlight("[]"u8.ToArray()));
    }

    [Test]
    public void Invalid_utf8_inside_a_stored_string_is_a_format_error()
    {
        // Fuzzing regression (bot-storage): JsonDocument checks UTF-8 in strings only when read, so
        // GetString() threw InvalidOperationException out of the decoder.
        byte[] identity = [.. "{\"version\":1,\"tls_cert\":\""u8, 0xBE, .. "\"}"u8];
        byte[] inFlight = [.. "{\"from_generation\":1,\"started_at\":\""u8, 0xBE, .. "\"}"u8];

        Assert.Multiple(() =>
        {
            Assert.Throws<TeleportFormatException>(() => BotIdentityStoreFormat.DecodeIdentity(identity));
            Assert.Throws<TeleportFormatException>(() => BotIdentityStoreFormat.DecodeInFlight(inFlight));
            Assert.Throws<TeleportFormatException>(() => BotIdentityStoreFormat.DecodeIdentity(FuzzCrashes.Read("bot-storage", "invalid-utf8-in-string.json")));
        });
    }

    [Test]
    public async Task A_corrupted_identity_file_is_reported_and_the_bot_needs_a_join()
    {
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var storage = Path.Combine(dir, "storage");
        Directory.CreateDirectory(storage);
        await File.WriteAllTextAsync(Path.Combine(storage, DirectoryBotIdentityStore.IdentityFileName), "{\"version\":1,\"private_key\":");
        await using var provider = CreateProvider(Options(storage, null), cluster, time);
        await provider.StartAsync();
        var error = Assert.ThrowsAsync<BotJoinRequiredException>(() => provider.WaitUntilReadyAsync());
        Assert.That(error!.Message, Does.Contain("No join token is configured"));
    }
}

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class RenewalOutcomeClassificationTests
{
    [Test]
    public void Server_answers_and_connection_failures_did_not_reach_the_server()
    {
        Assert.Multiple(() =>
        {
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(Wrap(new RpcException(new Status(StatusCode.PermissionDenied, "denied")))), Is.False);
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(Wrap(new RpcException(new Status(StatusCode.Unavailable, "down")))), Is.False);
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(Wrap(new RpcException(new Status(
                StatusCode.Unavailable, "connect", new HttpRequestException(HttpRequestError.ConnectionError, "refused"))))), Is.False);
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(Wrap(new RpcException(new Status(
                StatusCode.Unavailable, "tls", new HttpRequestException("x", new TeleportConnectionException("handshake")))))), Is.False);
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(new TeleportConnectionException("discovery failed")), Is.False);
        });
    }

    [Test]
    public void Failures_after_sending_may_have_reached_the_server()
    {
        Assert.Multiple(() =>
        {
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(Wrap(new RpcException(new Status(StatusCode.DeadlineExceeded, "slow")))), Is.True);
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(Wrap(new RpcException(new Status(
                StatusCode.Unavailable, "reset", new HttpRequestException(HttpRequestError.ResponseEnded, "ended"))))), Is.True);
            Assert.That(WireBotCredentialClient.MayHaveReachedServer(new TeleportConnectionException("no answer", new OperationCanceledException())), Is.True);
        });
    }

    private static TeleportException Wrap(RpcException rpc) => new TeleportConnectionException("GenerateUserCerts failed", rpc);
}
