using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Hosting;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Tests.Identity;
using Teleport.MachineId.Tests.Infrastructure;
using static Teleport.MachineId.Tests.Identity.IdentityTestSupport;

namespace Teleport.MachineId.Tests.Hosting;

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class BotIdentityHealthCheckTests
{
    [Test]
    public async Task Health_follows_the_provider_healthy_degraded_unhealthy()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        await using var provider = CreateProvider(options, cluster, time);
        var check = new BotIdentityHealthCheck(provider);
        var context = new HealthCheckContext
        {
            Registration = new HealthCheckRegistration("teleport-machine-id", check, HealthStatus.Unhealthy, null),
        };

        Assert.That((await check.CheckHealthAsync(context)).Status, Is.EqualTo(HealthStatus.Degraded), "initializing");
        await provider.StartAsync();
        var joined = await provider.WaitUntilReadyAsync();
        var healthy = await check.CheckHealthAsync(context);
        Assert.Multiple(() =>
        {
            Assert.That(healthy.Status, Is.EqualTo(HealthStatus.Healthy));
            Assert.That(healthy.Data["generation"], Is.EqualTo(1));
            Assert.That(healthy.Data["expires"], Is.EqualTo(joined.NotAfter.ToString("O")));
        });

        cluster.AuthDown = true;
        Assert.CatchAsync<TeleportException>(() => provider.RenewNowAsync());
        var degraded = await check.CheckHealthAsync(context);
        Assert.Multiple(() =>
        {
            Assert.That(degraded.Status, Is.EqualTo(HealthStatus.Degraded));
            Assert.That(degraded.Exception, Is.TypeOf<TeleportConnectionException>());
            Assert.That(degraded.Data["consecutive_failures"], Is.EqualTo(1));
        });

        await RunUntilAsync(time, provider, joined.NotAfter + TimeSpan.FromMinutes(1));
        var unhealthy = await check.CheckHealthAsync(context);
        Assert.Multiple(() =>
        {
            Assert.That(unhealthy.Status, Is.EqualTo(HealthStatus.Unhealthy));
            Assert.That(unhealthy.Exception, Is.TypeOf<BotJoinRequiredException>());
            Assert.That(unhealthy.Description, Does.Contain("expired"));
        });
    }
}

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class BotIdentityMetricsTests
{
    [Test]
    public async Task Renewals_failures_duration_ttl_and_time_to_expiry_are_measured()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time) { MaxSessionTtl = TimeSpan.FromMinutes(30) };
        var options = Options(null, null);
        options.Token = cluster.AddToken();
        using var meterFactory = new TestMeterFactory();
        var measurements = new List<(string Name, double Value, string? Operation)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (meterFactory.Meters.Contains(instrument.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i.Name, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i.Name, v, tags));
        listener.Start();

        await using var provider = CreateProvider(options, cluster, time, meterFactory: meterFactory);
        await provider.StartAsync();
        await provider.WaitUntilReadyAsync();
        await provider.RenewNowAsync();
        cluster.AuthDown = true;
        Assert.CatchAsync<TeleportException>(() => provider.RenewNowAsync());
        listener.RecordObservableInstruments(); // the retry is due in simulated time, which stands still

        lock (measurements)
        {
            Assert.Multiple(() =>
            {
                Assert.That(measurements.Where(m => m.Name == "teleport.machineid.bot.renewals").Select(m => m.Operation), Is.EqualTo(new[] { "join", "renew" }));
                Assert.That(measurements.Count(m => m.Name == "teleport.machineid.bot.renewal.failures"), Is.EqualTo(1));
                Assert.That(measurements.Count(m => m.Name == "teleport.machineid.bot.renewal.duration"), Is.EqualTo(3));
                Assert.That(measurements.Count(m => m.Name == "teleport.machineid.bot.ttl_shortened"), Is.EqualTo(2));
                Assert.That(measurements.Single(m => m.Name == "teleport.machineid.bot.identity.time_to_expiry").Value, Is.EqualTo(30 * 60).Within(1));
            });
        }

        void Record(string name, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? operation = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "teleport.machineid.operation")
                {
                    operation = tag.Value as string;
                }
            }

            lock (measurements)
            {
                measurements.Add((name, value, operation));
            }
        }
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        public List<Meter> Meters { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, this);
            Meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in Meters)
            {
                meter.Dispose();
            }
        }
    }
}

[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class MachineIdDependencyInjectionTests
{
    [Test]
    public void Validate_on_start_fails_fast_on_bad_options()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddTeleportMachineId(o =>
        {
            o.ProxyServer = "teleport.example.com:notaport";
            o.Token = "secret-token-value";
            o.TokenFile = "/run/token";
        });
        using var host = builder.Build();
        var error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Multiple(() =>
        {
            Assert.That(error!.Failures, Has.Some.Contains("ProxyServer"));
            Assert.That(error.Failures, Has.Some.Contains("at most one of Token"));
            Assert.That(error.Failures, Has.Some.Contains("StoragePath"));
            Assert.That(error.Message, Does.Not.Contain("secret-token-value"));
        });
    }

    [Test]
    public void Options_bind_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Teleport:AuthServer"] = "auth.example.com:3025",
            ["Teleport:TokenFile"] = "/var/run/bot-token",
            ["Teleport:CaPins:0"] = "sha256:" + new string('a', 64),
            ["Teleport:CaPins:1"] = "sha256:" + new string('b', 64),
            ["Teleport:CredentialTtl"] = "02:00:00",
            ["Teleport:RenewalMode"] = "FixedInterval",
            ["Teleport:RenewalInterval"] = "00:30:00",
            ["Teleport:StorageType"] = "Directory",
            ["Teleport:StoragePath"] = "/var/lib/teleport/bot",
        }).Build();
        var services = new ServiceCollection();
        services.AddTeleportMachineId(configuration.GetSection("Teleport"));
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<MachineIdOptions>>().Value;
        Assert.Multiple(() =>
        {
            Assert.That(options.AuthServer, Is.EqualTo("auth.example.com:3025"));
            Assert.That(options.TokenFile, Is.EqualTo("/var/run/bot-token"));
            Assert.That(options.CaPins, Has.Count.EqualTo(2));
            Assert.That(options.CredentialTtl, Is.EqualTo(TimeSpan.FromHours(2)));
            Assert.That(options.RenewalMode, Is.EqualTo(BotRenewalMode.FixedInterval));
            Assert.That(options.RenewalInterval, Is.EqualTo(TimeSpan.FromMinutes(30)));
            Assert.That(options.StoragePath, Is.EqualTo("/var/lib/teleport/bot"));
            Assert.That(new MachineIdOptionsValidator().Validate(null, options).Succeeded, Is.True);
        });
    }

    [Test]
    public async Task A_host_runs_the_provider_and_reports_health_then_stops_it()
    {
        var time = new FakeTimeProvider(Start);
        using var cluster = new SimulatedBotCluster(time);
        using var temp = new TempDirectory("tmid-identity-");
        var dir = temp.Path;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<TimeProvider>(time);
        // The simulated cluster's provider, registered before AddTeleportMachineId (which only adds one when none is).
        builder.Services.AddSingleton(sp => IdentityTestSupport.CreateProvider(sp.GetRequiredService<IOptions<MachineIdOptions>>().Value, cluster, time));
        builder.Services.AddTeleportMachineId(o =>
        {
            o.ProxyServer = "proxy.sim.example.com";
            o.Token = cluster.AddToken();
            o.StoragePath = Path.Combine(dir, "storage");
        });
        builder.Services.AddHealthChecks().AddCheck<BotIdentityHealthCheck>("teleport-machine-id");
        using var host = builder.Build();
        await host.StartAsync();
        var bot = host.Services.GetRequiredService<IBotIdentityProvider>();
        Assert.That(host.Services.GetRequiredService<BotIdentityProvider>(), Is.SameAs(bot));
        var identity = await bot.WaitUntilReadyAsync();
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Multiple(() =>
        {
            Assert.That(identity.BotName, Is.EqualTo("robot"));
            Assert.That(report.Status, Is.EqualTo(HealthStatus.Healthy));
        });

        // The storage is locked while the host runs and released when it stops.
        Assert.Throws<Teleport.MachineId.Destinations.DestinationException>(() => DirectoryBotIdentityStore.Open(Path.Combine(dir, "storage")));
        await host.StopAsync();
        await using var reopened = DirectoryBotIdentityStore.Open(Path.Combine(dir, "storage"));
        Assert.That(bot.Current, Is.SameAs(identity), "the last identity stays readable after stop");
    }
}
