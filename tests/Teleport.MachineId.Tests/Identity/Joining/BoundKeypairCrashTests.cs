using System.Text;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Wire.Calls;
using Teleport.MachineId.Wire.Join;

namespace Teleport.MachineId.Tests.Identity.Joining;

/// <summary>
/// Bound keypair crash safety against the emulator (real wire client, directory storage, Teleport's
/// server rules): a simulated crash at every step of a registration, a re-join, a re-join with key
/// rotation and a recovery — before the join, at each challenge, before and after a new key is
/// stored, after the cluster answered, mid-write of the identity, after the commit — then a clean
/// restart on the same storage must join again without operator action, within the recovery rules.
/// </summary>
/// <remarks>
/// One window cannot be closed by any client: the cluster has committed a <em>recovery</em> (a first
/// registration or a join after expiry) and the answer is lost before the bot stores it. Teleport
/// then demands the join state the bot never received, and in <c>standard</c>/<c>relaxed</c> mode only
/// an administrator can let it back (tbot is in the same position). Those cases are counted
/// apart, asserted to fail exactly as Teleport fails with the SDK's actionable message, and run
/// again with <c>recovery.mode: insecure</c>, where they recover unattended.
/// </remarks>
[TestFixture]
[NonParallelizable]
public sealed class BoundKeypairCrashTests
{
    private const int Rounds = 8;

    public enum Scenario
    {
        Registration,
        Rejoin,
        RotationRejoin,
        Recovery,
    }

    public enum Point
    {
        BeforeJoin,
        AtChallenge,
        BeforeNewKeyStored,
        AfterNewKeyStored,
        AtNewKeyChallenge,
        AfterClusterAnswered,
        MidWrite,
        AfterPersist,
    }

    /// <remarks>Run against a cluster with <c>teleport.join.v1</c> and one without it (18.0/18.1), where every join falls back to the legacy stream.</remarks>
    [Test]
    public async Task Two_hundred_crashes_at_every_step_leave_no_bot_stranded([Values] EmulatorJoinApis apis)
    {
        await using var fixture = await EmulatorBotFixture.StartAsync(apis);
        var combinations = Combinations().ToList();
        var results = new List<(Scenario Scenario, Point Point, string Mode, bool Recovered, string Detail)>();
        var serial = 0;
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var (scenario, point) in combinations)
            {
                var inherent = IsInherentWindow(scenario, point);
                var mode = inherent && round % 2 == 1 ? "insecure" : "standard";
                var (recovered, detail) = await CrashAndRestartAsync(fixture, scenario, point, mode, ++serial);
                results.Add((scenario, point, mode, recovered, detail));
            }
        }

        var report = new StringBuilder();
        foreach (var group in results.GroupBy(r => (r.Scenario, r.Point, r.Mode)))
        {
            report.AppendLine($"{group.Key.Scenario,-15} {group.Key.Point,-21} {group.Key.Mode,-9} crashes {group.Count(),3}  recovered {group.Count(r => r.Recovered),3}");
        }

        TestContext.Out.WriteLine(report);
        var stranded = results.Where(r => !r.Recovered && !(IsInherentWindow(r.Scenario, r.Point) && r.Mode == "standard")).ToList();
        var inherentStandard = results.Where(r => IsInherentWindow(r.Scenario, r.Point) && r.Mode == "standard").ToList();
        Assert.Multiple(() =>
        {
            Assert.That(results, Has.Count.GreaterThanOrEqualTo(200));
            Assert.That(stranded, Is.Empty, "stranded: " + string.Join("; ", stranded.Select(s => $"{s.Scenario}/{s.Point}/{s.Mode}: {s.Detail}")));
            Assert.That(inherentStandard.Where(r => r.Recovered), Is.Empty, "a lost recovery answer cannot be recovered in standard mode (Teleport's rule)");
            Assert.That(inherentStandard.Select(r => r.Detail), Is.All.Contain("An administrator"), "the refusal says what an administrator does");
            var joinApis = fixture.Emulator.AuditEvents.Where(e => e.Type == "bot.join" && e.Success && e.Fields.TryGetValue("api", out _))
                .Select(e => e.Fields["api"]).Distinct().ToList();
            Assert.That(joinApis, Is.Not.Empty.And.All.Contain(apis == EmulatorJoinApis.Legacy ? "RegisterUsingBoundKeypairMethod" : "teleport.join.v1"),
                "every join ran over the protocol the cluster offers");
        });
    }

    /// <summary>The steps each scenario goes through (a registration and a rotation ask for a new key; others do not).</summary>
    private static IEnumerable<(Scenario, Point)> Combinations()
    {
        foreach (var scenario in Enum.GetValues<Scenario>())
        {
            foreach (var point in Enum.GetValues<Point>())
            {
                var rotates = scenario is Scenario.Registration or Scenario.RotationRejoin;
                var applies = point switch
                {
                    Point.AtChallenge => scenario != Scenario.Registration,
                    Point.BeforeNewKeyStored or Point.AfterNewKeyStored or Point.AtNewKeyChallenge => rotates,
                    _ => true,
                };
                if (applies)
                {
                    yield return (scenario, point);
                }
            }
        }
    }

    /// <summary>The cluster committed a recovery and the answer was lost before the bot stored it.</summary>
    private static bool IsInherentWindow(Scenario scenario, Point point) =>
        scenario is Scenario.Registration or Scenario.Recovery && point is Point.AfterClusterAnswered or Point.MidWrite;

    private static async Task<(bool Recovered, string Detail)> CrashAndRestartAsync(EmulatorBotFixture fixture, Scenario scenario, Point point, string mode, int serial)
    {
        using var storage = new TempDirectory("tmid-bkp-crash-");
        var tokenName = $"bkp-crash-{serial}";
        var secret = $"secret-{serial}";
        fixture.Emulator.AddJoinToken(Token(tokenName, secret, mode, rotateAfter: null));
        var options = DelegatedJoinMethodEmulatorTests.DelegatedOptions(fixture, MachineIdOptions.BoundKeypairJoinMethod, tokenName);
        options.StoragePath = storage.Path;
        options.BoundKeypair.RegistrationSecret = secret;

        if (scenario != Scenario.Registration)
        {
            await using var setup = Create(fixture, options, crash: null);
            await setup.StartAsync();
            await setup.RenewNowAsync();
        }

        if (scenario == Scenario.RotationRejoin)
        {
            fixture.Emulator.UpdateJoinToken(Token(tokenName, secret, mode, rotateAfter: fixture.Time.GetUtcNow()));
        }

        if (scenario == Scenario.Recovery)
        {
            fixture.Time.Advance(options.CredentialTtl + TimeSpan.FromMinutes(5));
        }

        var crash = new CrashPlan(point);
        var crashing = Create(fixture, options, crash);
        await crashing.StartAsync();
        for (var attempt = 0; attempt < 3 && !crashing.Crashed; attempt++)
        {
            try
            {
                await crashing.RenewNowAsync();
            }
            catch (Exception) when (crashing.Crashed)
            {
            }
        }

        Assert.That(crashing.Crashed, Is.True, $"{scenario}/{point}: the crash happened");
        await crashing.DisposeAsync();

        // The process is gone; a new one starts on the same storage (the secret still configured, as a real deployment keeps it).
        await using var restarted = Create(fixture, options, crash: null);
        try
        {
            await restarted.StartAsync();
            var identity = await restarted.RenewNowAsync();
            return (!identity.IsExpiredAt(fixture.Time.GetUtcNow()) && fixture.Emulator.GetBoundKeypairStatus(tokenName)!.BoundPublicKey is not null, "joined");
        }
        catch (TeleportException ex)
        {
            return (false, ex.Message);
        }
    }

    private static EmulatorJoinToken Token(string name, string secret, string mode, DateTimeOffset? rotateAfter) => new()
    {
        Name = name,
        BotName = EmulatorBotFixture.BotName,
        JoinMethod = EmulatorJoinMethods.BoundKeypair,
        BoundKeypair = new EmulatorBoundKeypairJoinSpec { RegistrationSecret = secret, RecoveryMode = mode, RecoveryLimit = 100, RotateAfter = rotateAfter },
    };

    private static BotIdentityProvider Create(EmulatorBotFixture fixture, MachineIdOptions options, CrashPlan? crash)
    {
        var random = new Random(11);
        var provider = BotIdentityProvider.CreateInternal(
            options, null, fixture.Time,
            (o, loggers, time, current) =>
            {
                var inner = WireBotCredentialClient.Create(o, loggers, time, current);
                return crash is null ? inner : new CrashingClient(inner, crash);
            },
            null, null, () => random.NextDouble());
        if (crash?.EnginePoint is { } enginePoint)
        {
            provider.FaultInjector = p =>
            {
                if (p == enginePoint && crash.Arm())
                {
                    throw new SimulatedCrashException(p);
                }
            };
        }

        return provider;
    }

    /// <summary>Where to crash, once.</summary>
    private sealed class CrashPlan(Point point)
    {
        private int _fired;

        public Point Point { get; } = point;

        public RenewalFaultPoint? EnginePoint => Point switch
        {
            Point.AfterClusterAnswered => RenewalFaultPoint.AfterCertificatesIssued,
            Point.MidWrite => RenewalFaultPoint.MidWrite,
            Point.AfterPersist => RenewalFaultPoint.AfterPersist,
            _ => null,
        };

        public bool Arm() => Interlocked.Exchange(ref _fired, 1) == 0;

        public void At(Point here)
        {
            if (here == Point && Arm())
            {
                throw new SimulatedCrashException(RenewalFaultPoint.BeforeInFlightRecord);
            }
        }

        /// <summary>A challenge after a new key was made is the one for the new key.</summary>
        public void AtChallenge(bool afterNewKey) => At(afterNewKey ? Point.AtNewKeyChallenge : Point.AtChallenge);
    }

    /// <summary>The real credential client, crashing at the plan's step inside a bound keypair join.</summary>
    private sealed class CrashingClient(IBotCredentialClient inner, CrashPlan plan) : IBotCredentialClient
    {
        public Task<SignatureAlgorithmSuite> GetSignatureAlgorithmSuiteAsync(BotIdentity? identity, CancellationToken cancellationToken) =>
            inner.GetSignatureAlgorithmSuiteAsync(identity, cancellationToken);

        public Task<BotJoinResult> JoinWithTokenAsync(string token, TimeSpan credentialTtl, CancellationToken cancellationToken) =>
            inner.JoinWithTokenAsync(token, credentialTtl, cancellationToken);

        public Task<BotJoinResult> JoinWithIdTokenAsync(string tokenName, string idToken, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken) =>
            inner.JoinWithIdTokenAsync(tokenName, idToken, credentialTtl, presentIdentity, cancellationToken);

        public Task<BoundKeypairJoinAnswer> JoinWithBoundKeypairAsync(
            BoundKeypairJoinParameters parameters, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken)
        {
            plan.At(Point.BeforeJoin);
            return inner.JoinWithBoundKeypairAsync(parameters with { Keys = new CrashingKeys(parameters.Keys, plan) }, credentialTtl, presentIdentity, cancellationToken);
        }

        public Task<IssuedBotCertificates> RenewAsync(
            BotIdentity identity, PublicKeyInfo publicKey, DateTimeOffset expires, Func<CancellationToken, Task> beforeSend, CancellationToken cancellationToken) =>
            inner.RenewAsync(identity, publicKey, expires, beforeSend, cancellationToken);

        public Task SubmitHeartbeatAsync(BotIdentity identity, BotHeartbeat heartbeat, CancellationToken cancellationToken) =>
            inner.SubmitHeartbeatAsync(identity, heartbeat, cancellationToken);

        public IAsyncEnumerable<CertificateAuthorityChange> WatchCertificateAuthoritiesAsync(BotIdentity identity, CancellationToken cancellationToken) =>
            inner.WatchCertificateAuthoritiesAsync(identity, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class CrashingKeys(IBoundKeypairKeys inner, CrashPlan plan) : IBoundKeypairKeys
    {
        private bool _newKey;

        public PrivateKey? FindKey(PublicKeyInfo publicKey)
        {
            plan.AtChallenge(_newKey);
            return inner.FindKey(publicKey);
        }

        public async Task<PrivateKey> CreateKeyAsync(SignatureAlgorithmSuite suite, CancellationToken cancellationToken)
        {
            plan.At(Point.BeforeNewKeyStored);
            var key = await inner.CreateKeyAsync(suite, cancellationToken);
            _newKey = true;
            plan.At(Point.AfterNewKeyStored);
            return key;
        }
    }
}
