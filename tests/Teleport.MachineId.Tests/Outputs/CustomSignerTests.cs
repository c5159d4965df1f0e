using Microsoft.Extensions.Time.Testing;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary><see cref="ISshCertificateSigner"/> is pluggable: an output writes what any implementation issues and renews when it says so.</summary>
public sealed class CustomSignerTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task An_output_accepts_any_signer_and_renews_when_it_raises_CredentialsChanged()
    {
        var time = new FakeTimeProvider(Now);
        using var authority = LocalCertificateAuthority.Generate("custom.example", timeProvider: new FakeTimeProvider(Now.AddDays(-1)));
        authority.RoleLogins = new Dictionary<string, IReadOnlyList<string>> { ["access"] = ["root"] };
        var signer = new CountingSigner(new LocalSshCertificateSigner(authority, time));
        var memory = new MemoryDestination();
        await using var output = IdentityOutputService.Create(signer, new IdentityOutputOptions { Destination = memory, Roles = { "access" } }, timeProvider: time);

        await output.StartAsync();
        var first = await output.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(30));
        signer.RaiseChanged();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (ReferenceEquals(output.Current, first))
        {
            await Task.Delay(10, timeout.Token);
        }

        Assert.Multiple(() =>
        {
            Assert.That(signer.Signed, Is.GreaterThanOrEqualTo(2));
            Assert.That(first.Certificates.ClusterName, Is.EqualTo("custom.example"));
            Assert.That(memory.Current!.Keys, Does.Contain("key-cert.pub").And.Contain("known_hosts").And.Contain("teleport-host-ca.crt"));
            Assert.That(signer.Subscribers, Is.EqualTo(1), "the running output listens");
        });
        await output.DisposeAsync();
        Assert.That(signer.Subscribers, Is.Zero, "a disposed output stops listening");
    }

    /// <summary>A decorator, as an application would write one (caching, auditing, another CA).</summary>
    private sealed class CountingSigner(ISshCertificateSigner inner) : ISshCertificateSigner
    {
        private EventHandler? _changed;
        private int _signed;

        public int Signed => Volatile.Read(ref _signed);

        public int Subscribers => _changed?.GetInvocationList().Length ?? 0;

        public event EventHandler? CredentialsChanged
        {
            add => _changed += value;
            remove => _changed -= value;
        }

        public void RaiseChanged() => _changed?.Invoke(this, EventArgs.Empty);

        public Task<SignedCertificates> SignAsync(SshCertificateSigningRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _signed);
            return inner.SignAsync(request, cancellationToken);
        }

        public Task<OutputClusterInfo> GetClusterInfoAsync(CancellationToken cancellationToken = default) => inner.GetClusterInfoAsync(cancellationToken);

        public Task<IReadOnlyList<CertificateAuthorityMaterial>> GetCertificateAuthoritiesAsync(CertificateAuthorityType type, CancellationToken cancellationToken = default) =>
            inner.GetCertificateAuthoritiesAsync(type, cancellationToken);
    }
}
