using Microsoft.Extensions.Diagnostics.HealthChecks;
using Teleport.MachineId.Hosting;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Tests.Cli.Torture;
using Teleport.MachineId.Tests.Identity;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.FaultDrills;

/// <summary>
/// Fault drill (issue 13): Auth goes offline for longer than the renewal margin while the bot and
/// an identity output serve — the old identity and the output's files stay in use while valid, the
/// health check turns degraded, then unhealthy past expiry; when Auth returns the bot recovers
/// within one backoff step (past expiry with the new token an operator configured) and the output
/// is rewritten, one consistent set throughout. Real sockets to the emulator, simulated time.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class AuthOutageDrillTests
{
    private static readonly HealthCheckContext HealthContext = new()
    {
        Registration = new HealthCheckRegistration("teleport-machine-id", _ => null!, HealthStatus.Unhealthy, null),
    };

    [Test]
    public async Task Auth_back_before_expiry_the_bot_renews_within_one_backoff_step_and_the_output_follows()
    {
        await using var drill = await Drill.StartAsync();
        await drill.OfflinePastTheRenewalMarginAsync();

        drill.Fixture.Emulator.Faults.BringAuthOnline();
        await RunUntilAsync(drill.Fixture.Time, drill.Provider, drill.Fixture.Time.GetUtcNow() + drill.Options.RetryMaxBackoff);

        Assert.Multiple(async () =>
        {
            Assert.That(drill.Provider.Current!.Generation, Is.EqualTo(2), "renewed, not re-joined");
            Assert.That(drill.Provider.Current.InstanceId, Is.EqualTo(drill.Joined.InstanceId));
            Assert.That(drill.Provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That((await drill.HealthAsync()).Status, Is.EqualTo(HealthStatus.Healthy));
        });
        await drill.OutputRewrittenAsync();
        drill.AssertNoLockOrMismatch();
    }

    [Test]
    public async Task Auth_back_after_expiry_the_bot_is_unhealthy_until_a_new_token_then_rejoins_within_one_backoff_step()
    {
        await using var drill = await Drill.StartAsync();
        await drill.OfflinePastTheRenewalMarginAsync();

        await RunUntilAsync(drill.Fixture.Time, drill.Provider, drill.Joined.NotAfter + TimeSpan.FromMinutes(2));
        var status = drill.Provider.Status;
        Assert.Multiple(async () =>
        {
            Assert.That(status.Health, Is.EqualTo(BotIdentityHealth.Unhealthy));
            Assert.That(status.LastError, Is.TypeOf<BotJoinRequiredException>().With.Property(nameof(BotJoinRequiredException.Reason)).EqualTo(BotJoinRequiredReason.Expired));
            Assert.That((await drill.HealthAsync()).Status, Is.EqualTo(HealthStatus.Unhealthy));
            Assert.That(drill.DataTarget(), Is.EqualTo(drill.FirstDataTarget), "the expired set stays in place, whole");
            Assert.That(TortureChecks.DestinationProblem(drill.OutputDirectory), Is.Null);
        });

        // The operator's part: a new token (the old one is spent), then Auth returns.
        await drill.Fixture.WriteNewTokenAsync();
        drill.Fixture.Emulator.Faults.BringAuthOnline();
        await RunUntilAsync(drill.Fixture.Time, drill.Provider, drill.Fixture.Time.GetUtcNow() + drill.Options.RetryMaxBackoff);

        Assert.Multiple(async () =>
        {
            Assert.That(drill.Provider.Current!.IsExpiredAt(drill.Fixture.Time.GetUtcNow()), Is.False, "joined again");
            Assert.That(drill.Provider.Status.Health, Is.EqualTo(BotIdentityHealth.Healthy));
            Assert.That((await drill.HealthAsync()).Status, Is.EqualTo(HealthStatus.Healthy));
        });
        await drill.OutputRewrittenAsync();
        drill.AssertNoLockOrMismatch();
    }

    /// <summary>The bot joined, an output written to a directory, health checked through the hosting package's check.</summary>
    private sealed class Drill : IAsyncDisposable
    {
        private Drill(EmulatorBotFixture fixture, MachineIdOptions options, BotIdentityProvider provider, TeleportSshCertificateSigner signer, IdentityOutputService output, BotIdentity joined)
        {
            Fixture = fixture;
            Options = options;
            Provider = provider;
            Signer = signer;
            Output = output;
            Joined = joined;
            FirstDataTarget = DataTarget();
        }

        public EmulatorBotFixture Fixture { get; }

        public MachineIdOptions Options { get; }

        public BotIdentityProvider Provider { get; }

        public TeleportSshCertificateSigner Signer { get; }

        public IdentityOutputService Output { get; }

        public BotIdentity Joined { get; }

        public string? FirstDataTarget { get; }

        public string OutputDirectory => Path.Combine(Fixture.Directory, "machine-id");

        public static async Task<Drill> StartAsync()
        {
            var fixture = await EmulatorBotFixture.StartAsync();
            await fixture.WriteNewTokenAsync();
            var options = fixture.Options();
            var provider = fixture.CreateProvider(options);
            await provider.StartAsync();
            var joined = await provider.WaitUntilReadyAsync();
            var signer = new TeleportSshCertificateSigner(provider, options, timeProvider: fixture.Time);
            var outputOptions = new IdentityOutputOptions { DestinationPath = Path.Combine(fixture.Directory, "machine-id") };
            outputOptions.Roles.Add("access");
            var output = IdentityOutputService.Create(signer, outputOptions, timeProvider: fixture.Time);
            await output.StartAsync();
            await output.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            return new Drill(fixture, options, provider, signer, output, joined);
        }

        /// <summary>Auth goes away and stays away past the bot's renewal point: the old identity and files are kept, health degrades.</summary>
        public async Task OfflinePastTheRenewalMarginAsync()
        {
            Fixture.Emulator.Faults.TakeAuthOffline();
            var written = Output.Current!;
            await RunUntilAsync(Fixture.Time, Provider, Joined.NotAfter - TimeSpan.FromMinutes(5), _ => Assert.That(Provider.Current, Is.SameAs(Joined), "the old identity is kept while valid"));
            var status = Provider.Status;
            Assert.Multiple(async () =>
            {
                Assert.That(status.Health, Is.EqualTo(BotIdentityHealth.Degraded));
                Assert.That(status.LastError, Is.InstanceOf<TeleportException>().With.Property(nameof(TeleportException.IsTransient)).True);
                Assert.That((await HealthAsync()).Status, Is.EqualTo(HealthStatus.Degraded));
                Assert.That(DataTarget(), Is.EqualTo(FirstDataTarget), "the output's files are kept");
                Assert.That(written.Certificates.NotAfter, Is.GreaterThan(Fixture.Time.GetUtcNow()), "and still valid");
                Assert.That(TortureChecks.DestinationProblem(OutputDirectory), Is.Null);
            });
        }

        public Task<HealthCheckResult> HealthAsync() => new BotIdentityHealthCheck(Provider).CheckHealthAsync(HealthContext);

        /// <summary>
        /// The output follows the bot's new identity: a new generation of files, one consistent set.
        /// Simulated time keeps moving meanwhile (1 s steps), as it would for a real daemon: a call
        /// the outage left hanging ends at its timeout, then the output renews on the bot's change.
        /// </summary>
        public async Task OutputRewrittenAsync()
        {
            var limit = Fixture.Time.GetUtcNow() + TimeSpan.FromMinutes(3);
            while (!(DataTarget() != FirstDataTarget && Output.Current!.Certificates.NotAfter > Fixture.Time.GetUtcNow()))
            {
                if (Fixture.Time.GetUtcNow() > limit)
                {
                    Assert.Fail($"The output was not rewritten within 3 minutes: last error {Output.LastError?.Message}; written {Output.Current?.WrittenAt:O}; bot generation {Provider.Current?.Generation}");
                }

                await Task.Delay(20);
                Fixture.Time.Advance(TimeSpan.FromSeconds(1));
            }

            Assert.That(TortureChecks.DestinationProblem(OutputDirectory), Is.Null);
        }

        public void AssertNoLockOrMismatch()
        {
            Assert.That(Fixture.Emulator.Locks, Is.Empty);
            Assert.That(Fixture.GenerationMismatches, Is.Zero);
        }

        public string? DataTarget() => new FileInfo(Path.Combine(OutputDirectory, "..data")).LinkTarget;

        public async ValueTask DisposeAsync()
        {
            await Output.DisposeAsync();
            await Signer.DisposeAsync();
            await Provider.DisposeAsync();
            await Fixture.DisposeAsync();
        }
    }
}
