using Microsoft.Extensions.Diagnostics.HealthChecks;
using Teleport.MachineId.Hosting;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Tests.Cli.Torture;
using Teleport.MachineId.Tests.Identity;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.FaultDrills;

/// <summary>
/// A serving bot for the fault drills: the bot joined (directory storage, simulated time shared with
/// the emulator, whose clock may be skewed from the bot's), an output written to a directory, health
/// checked through the hosting package's check.
/// </summary>
internal sealed class ServingBotDrill : IAsyncDisposable
{
    private static readonly HealthCheckContext HealthContext = new()
    {
        Registration = new HealthCheckRegistration("teleport-machine-id", _ => null!, HealthStatus.Unhealthy, null),
    };

    private ServingBotDrill(EmulatorBotFixture fixture, MachineIdOptions options, BotIdentityProvider provider, TeleportSshCertificateSigner signer, IdentityOutputService output, BotIdentity joined)
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

    public static async Task<ServingBotDrill> StartAsync(TimeSpan? clusterClockSkew = null)
    {
        var fixture = await EmulatorBotFixture.StartAsync();
        if (clusterClockSkew is { } skew)
        {
            // A cluster's CAs are older than its bots; the emulator's were made a moment ago (valid
            // from a minute before), so an hour passes first, or a clock set back would date them in
            // its future.
            fixture.Time.Advance(TimeSpan.FromHours(1));
            fixture.Emulator.Faults.ClockSkew = skew;
        }

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
        try
        {
            await output.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The output was not written within 60 s: {output.LastError}");
        }

        return new ServingBotDrill(fixture, options, provider, signer, output, joined);
    }

    /// <summary>Auth goes away and stays away past the bot's renewal point: the old identity and files are kept, health degrades.</summary>
    public async Task OfflinePastTheRenewalMarginAsync()
    {
        Fixture.Emulator.Faults.TakeAuthOffline();
        var written = Output.Current!;
        await RunThroughStallsUntilAsync(Fixture.Time, Provider, Joined.NotAfter - TimeSpan.FromMinutes(5), _ => Assert.That(Provider.Current, Is.SameAs(Joined), "the old identity is kept while valid"));
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
