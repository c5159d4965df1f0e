using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>
/// The output's own schedule, on a <see cref="FakeTimeProvider"/> stepped exactly to each moment the
/// loop waits for: renewed every <c>RenewalInterval</c>, earlier when two thirds of the certificate
/// lifetime come first, and retried with the shared backoff after a failure.
/// </summary>
public sealed class IdentityOutputScheduleTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Test]
    public async Task The_output_renews_on_its_own_interval()
    {
        var time = new FakeTimeProvider(Now);
        using var authority = Authority(time);
        var memory = new MemoryDestination();
        var options = new IdentityOutputOptions { Destination = memory, RenewalInterval = TimeSpan.FromMinutes(5), CredentialTtl = TimeSpan.FromHours(1) };
        await using var output = Create(authority, options, time);

        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(Patience);
        await SimulatedTime.RunUntilAsync(time, output.Activity, Now.AddMinutes(5).AddSeconds(-1));
        Assert.That(output.Current, Is.SameAs(first), "nothing is renewed before the interval");

        await SimulatedTime.RunUntilAsync(time, output.Activity, Now.AddMinutes(10));
        var third = output.Current!;
        Assert.Multiple(() =>
        {
            Assert.That(third.WrittenAt, Is.EqualTo(Now.AddMinutes(10)), "renewed at 5 and at 10 minutes exactly");
            Assert.That(third.Certificates.SshCertificate.PublicKey, Is.Not.EqualTo(first.Certificates.SshCertificate.PublicKey));
            Assert.That(CertificateKey(memory), Is.EqualTo(third.Certificates.SshCertificate.PublicKey), "the destination holds the latest set");
        });
    }

    [Test]
    public async Task Short_lived_certificates_are_renewed_at_two_thirds_of_their_lifetime()
    {
        var time = new FakeTimeProvider(Now);
        using var authority = Authority(time);
        var options = new IdentityOutputOptions { Destination = new MemoryDestination(), RenewalInterval = TimeSpan.FromHours(1), CredentialTtl = TimeSpan.FromMinutes(29) };
        await using var output = Create(authority, options, time);

        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(Patience);
        Assert.That(await SimulatedTime.RunUntilAsync(time, output.Activity, () => !ReferenceEquals(output.Current, first), Now.AddHours(1)), Is.True);

        // The local CA back-dates NotBefore by a minute: lifetime 30 min, two thirds = 20 min after NotBefore.
        var lifetime = first.Certificates.NotAfter - first.Certificates.NotBefore;
        Assert.That(output.Current!.WrittenAt, Is.EqualTo(first.Certificates.NotBefore + (lifetime * 2 / 3)));
    }

    [Test]
    public async Task A_failed_renewal_is_reported_and_retried_with_backoff_and_the_previous_set_stays()
    {
        var time = new FakeTimeProvider(Now);
        using var authority = Authority(time);
        var destination = new FlakyDestination();
        var options = new IdentityOutputOptions { Destination = destination, RenewalInterval = TimeSpan.FromMinutes(5) };
        await using var output = Create(authority, options, time);
        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(Patience);

        destination.Failing = true;
        await SimulatedTime.RunUntilAsync(time, output.Activity, Now.AddMinutes(5));
        Assert.Multiple(() =>
        {
            Assert.That(output.LastError, Is.InstanceOf<DestinationException>(), "the scheduled renewal at 5 minutes failed");
            Assert.That(output.Current, Is.SameAs(first), "the previous set stays current");
            Assert.That(CertificateKey(destination.Inner), Is.EqualTo(first.Certificates.SshCertificate.PublicKey), "the destination keeps the previous set");
        });

        // Retries follow the shared full-jitter backoff (1 s doubling to 1 min): five more failures take under a minute.
        await SimulatedTime.RunUntilAsync(time, output.Activity, () => destination.Checks >= 6, Now.AddMinutes(6));
        Assert.That(destination.Checks, Is.GreaterThanOrEqualTo(6), "retried with backoff, not at the next interval");

        destination.Failing = false;
        var failedAt = time.GetUtcNow();
        Assert.That(await SimulatedTime.RunUntilAsync(time, output.Activity, () => !ReferenceEquals(output.Current, first), failedAt.AddMinutes(2)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(output.LastError, Is.Null, "a success clears the error");
            Assert.That(output.Current!.WrittenAt - failedAt, Is.LessThanOrEqualTo(TimeSpan.FromMinutes(1)), "within one capped backoff step");
        });
    }

    private static IdentityOutputService Create(LocalCertificateAuthority authority, IdentityOutputOptions options, FakeTimeProvider time)
    {
        var random = new Random(11);
        return IdentityOutputService.CreateCore(new LocalSshCertificateSigner(authority, time), options, null, time, random.NextDouble);
    }

    private static Crypto.PublicKeyInfo CertificateKey(MemoryDestination destination) =>
        Ssh.SshCertificate.ParseAuthorizedKey(System.Text.Encoding.UTF8.GetString(destination.Current!["key-cert.pub"].Span).Trim()).PublicKey;

    private static LocalCertificateAuthority Authority(TimeProvider time)
    {
        var authority = LocalCertificateAuthority.Generate("offline.example", timeProvider: time);
        authority.RoleLogins = new Dictionary<string, IReadOnlyList<string>> { ["access"] = ["ubuntu"] };
        return authority;
    }

    /// <summary>A memory destination whose writability check fails on demand, like a full or read-only disk.</summary>
    private sealed class FlakyDestination : IDestinationWriter
    {
        public MemoryDestination Inner { get; } = new();

        public volatile bool Failing;

        private int _checks;

        /// <summary>Writability checks made while failing.</summary>
        public int Checks => Volatile.Read(ref _checks);

        public string Description => "flaky memory";

        public bool IsPersistent => false;

        public Task InitializeAsync(CancellationToken cancellationToken = default) => Inner.InitializeAsync(cancellationToken);

        public Task VerifyWritableAsync(CancellationToken cancellationToken = default)
        {
            if (!Failing)
            {
                return Inner.VerifyWritableAsync(cancellationToken);
            }

            Interlocked.Increment(ref _checks);
            throw new DestinationException(DestinationFailure.NotWritable, null, "flaky memory is not writable (test)");
        }

        public Task WriteAsync(DestinationArtifacts artifacts, CancellationToken cancellationToken = default) => Inner.WriteAsync(artifacts, cancellationToken);

        public Task<DestinationArtifacts?> ReadAsync(CancellationToken cancellationToken = default) => Inner.ReadAsync(cancellationToken);
    }
}
