using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>
/// The output's own schedule, on a <see cref="FakeTimeProvider"/>: renewed every <c>RenewalInterval</c>,
/// earlier when two thirds of the certificate lifetime come first, and retried with backoff after a failure.
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
        await using var output = IdentityOutputService.Create(new LocalSshCertificateSigner(authority, time), options, timeProvider: time);

        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(Patience);

        await Task.Delay(250);
        time.Advance(TimeSpan.FromMinutes(4));
        await Task.Delay(250);
        Assert.That(output.Current, Is.SameAs(first), "nothing is renewed before the interval");

        var second = await AdvanceUntilRenewedAsync(time, output, first, TimeSpan.FromMinutes(1));
        var third = await AdvanceUntilRenewedAsync(time, output, second, TimeSpan.FromMinutes(5));

        // The clock moves in steps, so a loop that armed its timer a step late renews a step late: allow one.
        Assert.That(second.WrittenAt - first.WrittenAt, Is.InRange(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(6)));
        Assert.That(third.WrittenAt - second.WrittenAt, Is.InRange(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10)));
        Assert.That(second.Certificates.SshCertificate.PublicKey, Is.Not.EqualTo(first.Certificates.SshCertificate.PublicKey));
        Assert.That(CertificateKey(memory), Is.EqualTo(third.Certificates.SshCertificate.PublicKey), "the destination holds the latest set");
    }

    [Test]
    public async Task Short_lived_certificates_are_renewed_at_two_thirds_of_their_lifetime()
    {
        var time = new FakeTimeProvider(Now);
        using var authority = Authority(time);
        var options = new IdentityOutputOptions { Destination = new MemoryDestination(), RenewalInterval = TimeSpan.FromHours(1), CredentialTtl = TimeSpan.FromMinutes(29) };
        await using var output = IdentityOutputService.Create(new LocalSshCertificateSigner(authority, time), options, timeProvider: time);

        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(Patience);
        var second = await AdvanceUntilRenewedAsync(time, output, first, TimeSpan.FromMinutes(1));

        // The local CA back-dates NotBefore by a minute: lifetime 30 min, two thirds = 20 min after NotBefore.
        var lifetime = first.Certificates.NotAfter - first.Certificates.NotBefore;
        var twoThirds = first.Certificates.NotBefore + (lifetime * 2 / 3);
        Assert.That(second.WrittenAt, Is.InRange(twoThirds, twoThirds + TimeSpan.FromMinutes(1)));
        Assert.That(second.WrittenAt - first.WrittenAt, Is.LessThan(options.RenewalInterval));
    }

    [Test]
    public async Task A_failed_renewal_is_reported_and_retried_with_backoff_and_the_previous_set_stays()
    {
        var time = new FakeTimeProvider(Now);
        using var authority = Authority(time);
        var destination = new FlakyDestination();
        var options = new IdentityOutputOptions { Destination = destination, RenewalInterval = TimeSpan.FromMinutes(5) };
        await using var output = IdentityOutputService.Create(new LocalSshCertificateSigner(authority, time), options, timeProvider: time);
        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(Patience);

        destination.Failing = true;
        await AdvanceUntilAsync(time, () => output.LastError is not null, TimeSpan.FromMinutes(5));
        var failedAt = time.GetUtcNow();
        Assert.That(output.LastError, Is.InstanceOf<DestinationException>());
        Assert.That(output.Current, Is.SameAs(first), "the previous set stays current");
        Assert.That(CertificateKey(destination.Inner), Is.EqualTo(first.Certificates.SshCertificate.PublicKey), "the destination keeps the previous set");

        destination.Failing = false;
        var renewed = await AdvanceUntilRenewedAsync(time, output, first, TimeSpan.FromSeconds(1));

        Assert.That(output.LastError, Is.Null, "a success clears the error");
        Assert.That(renewed.WrittenAt - failedAt, Is.LessThanOrEqualTo(TimeSpan.FromMinutes(1)), "retried within the backoff cap, not at the next interval");
    }

    private static async Task<IdentityOutputResult> AdvanceUntilRenewedAsync(FakeTimeProvider time, IdentityOutputService output, IdentityOutputResult previous, TimeSpan step)
    {
        await AdvanceUntilAsync(time, () => !ReferenceEquals(output.Current, previous), step);
        return output.Current!;
    }

    /// <summary>
    /// Moves the clock one step at a time until <paramref name="condition"/> holds. Steps, not one jump:
    /// the loop may arm its timer just after a jump, and would then wait a whole period more.
    /// </summary>
    private static async Task AdvanceUntilAsync(FakeTimeProvider time, Func<bool> condition, TimeSpan step)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            if (condition())
            {
                return;
            }

            time.Advance(step);
            await WaitUntilAsync(condition, TimeSpan.FromMilliseconds(500), throwOnTimeout: false);
            if (condition())
            {
                return;
            }
        }

        throw new AssertionException("the clock moved on but the condition was never reached");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null, bool throwOnTimeout = true)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Patience);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                if (throwOnTimeout)
                {
                    throw new AssertionException("condition not reached");
                }

                return;
            }

            await Task.Delay(10);
        }
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

        public string Description => "flaky memory";

        public bool IsPersistent => false;

        public Task InitializeAsync(CancellationToken cancellationToken = default) => Inner.InitializeAsync(cancellationToken);

        public Task VerifyWritableAsync(CancellationToken cancellationToken = default) =>
            Failing ? throw new DestinationException(DestinationFailure.NotWritable, null, "flaky memory is not writable (test)") : Inner.VerifyWritableAsync(cancellationToken);

        public Task WriteAsync(DestinationArtifacts artifacts, CancellationToken cancellationToken = default) => Inner.WriteAsync(artifacts, cancellationToken);

        public Task<DestinationArtifacts?> ReadAsync(CancellationToken cancellationToken = default) => Inner.ReadAsync(cancellationToken);
    }
}
