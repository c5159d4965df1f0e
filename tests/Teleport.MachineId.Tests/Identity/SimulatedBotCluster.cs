using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Tests.Identity;

/// <summary>
/// The server side of the identity engine's seam, in process, for scheduler and crash tests that
/// run days of simulated time: real CAs and certificates (built with the SDK's own issuers),
/// single-use tokens, bot instances with Teleport's generation check (a mismatch locks the bot),
/// TTL capping, outages, lost replies, heartbeats and CA rotation notices.
/// </summary>
internal sealed class SimulatedBotCluster : IDisposable
{
    public const string ClusterName = "sim.example.com";

    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly ECDsa _userCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _hostCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly PrivateKey _userCaSsh = PrivateKey.Generate(KeyAlgorithm.Ed25519);
    private readonly PrivateKey _hostCaSsh = PrivateKey.Generate(KeyAlgorithm.Ed25519);
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Instance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PublicKeyInfo> _boundKeys = new(StringComparer.Ordinal);
    private int _renewalRequestsSent;
    private readonly List<Channel<CertificateAuthorityChange>> _watchers = [];

    public SimulatedBotCluster(TimeProvider time)
    {
        _time = time;
        var notBefore = time.GetUtcNow().AddYears(-1);
        UserCa = TeleportTlsCertificateBuilder.CreateCertificateAuthority(ClusterName, _userCaKey, notBefore);
        HostCa = TeleportTlsCertificateBuilder.CreateCertificateAuthority(ClusterName, _hostCaKey, notBefore);
    }

    public X509Certificate2 UserCa { get; }

    public X509Certificate2 HostCa { get; }

    /// <summary>When true every call fails as if Auth were unreachable.</summary>
    public bool AuthDown { get; set; }

    /// <summary>When true a renewal is processed but its reply is lost.</summary>
    public bool LoseRenewalReplies { get; set; }

    /// <summary>The bot role's max_session_ttl (Teleport's default 12h).</summary>
    public TimeSpan MaxSessionTtl { get; set; } = TimeSpan.FromHours(12);

    public SignatureAlgorithmSuite Suite { get; set; } = SignatureAlgorithmSuite.BalancedV1;

    /// <summary>
    /// Runs while a renewal request is being prepared and its connection set up — before anything
    /// leaves the client (it may hang, fail or simulate a crash there).
    /// </summary>
    public Func<CancellationToken, Task>? Connecting { get; set; }

    /// <summary>When set, renewals block until it is set (to make calls overlap).</summary>
    public ManualResetEventSlim? RenewalGate { get; set; }

    public int GenerationMismatches { get; private set; }

    public int Joins { get; private set; }

    public int Renewals { get; private set; }

    /// <summary>Renewal requests that left the client (after its in-flight record).</summary>
    public int RenewalRequestsSent => Volatile.Read(ref _renewalRequestsSent);

    /// <summary>Joins of the simulated delegated method (first joins and re-joins).</summary>
    public int DelegatedJoins { get; private set; }

    /// <summary>Delegated joins refused because the client could not prove the bound key (a stranded bot).</summary>
    public int BoundKeyRefusals { get; private set; }

    public List<BotHeartbeat> Heartbeats { get; } = [];

    public bool AnyInstanceLocked
    {
        get
        {
            lock (_gate)
            {
                return _instances.Values.Any(i => i.Locked);
            }
        }
    }

    public string AddToken(string botName = "robot")
    {
        var secret = "sim-token-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        lock (_gate)
        {
            _tokens[secret] = botName;
        }

        return secret;
    }

    public int GenerationOf(string instanceId)
    {
        lock (_gate)
        {
            return _instances[instanceId].Generation;
        }
    }

    public void PublishCaChange(string type, string phase)
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite(new CertificateAuthorityChange(type, ClusterName, phase));
            }
        }
    }

    public int WatcherCount
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    public IBotCredentialClient CreateClient() => new Client(this);

    /// <summary>The key the cluster has bound for <paramref name="botName"/> (bound keypair style), or <see langword="null"/>.</summary>
    public PublicKeyInfo? BoundKeyOf(string botName)
    {
        lock (_gate)
        {
            return _boundKeys.GetValueOrDefault(botName);
        }
    }

    /// <summary>
    /// A delegated join (non-renewable identity), modelled on bound keypair: the client proves the
    /// bound key (when one is bound), the cluster binds <paramref name="nextBoundKey"/> and issues
    /// certificates. A valid presented identity keeps its bot instance (generation counted, never
    /// locked), as Teleport does for non-token re-joins.
    /// </summary>
    public IssuedBotCertificates JoinDelegated(
        string botName, BotIdentity? presented, PublicKeyInfo? proof, PublicKeyInfo nextBoundKey, PublicKeyInfo certificateKey, DateTimeOffset expires)
    {
        ThrowIfDown();
        lock (_gate)
        {
            if (_boundKeys.TryGetValue(botName, out var bound) && bound != proof)
            {
                BoundKeyRefusals++;
                throw new TeleportJoinException("The bound keypair challenge failed: the client does not hold the bound key.");
            }

            _boundKeys[botName] = nextBoundKey;
            DelegatedJoins++;
            var now = _time.GetUtcNow();
            Instance instance;
            if (presented is { InstanceId: { } id } && !presented.IsExpiredAt(now) && _instances.TryGetValue(id, out var existing) && !existing.Locked)
            {
                instance = existing;
                instance.Generation++;
            }
            else
            {
                instance = new Instance(botName, Guid.NewGuid().ToString()) { Generation = 1 };
                _instances[instance.Id] = instance;
            }

            return Issue(instance, certificateKey, expires, renewable: false);
        }
    }

    public BotCredentialClientFactory ClientFactory => (_, _, _, _) => CreateClient();

    public void Dispose()
    {
        _userCaKey.Dispose();
        _hostCaKey.Dispose();
        _userCaSsh.Dispose();
        _hostCaSsh.Dispose();
    }

    private void ThrowIfDown()
    {
        if (AuthDown)
        {
            throw new TeleportConnectionException("Auth is unreachable (simulated outage).");
        }
    }

    private IssuedBotCertificates Join(string token, PublicKeyInfo publicKey, DateTimeOffset expires)
    {
        ThrowIfDown();
        lock (_gate)
        {
            if (!_tokens.Remove(token, out var botName))
            {
                throw new TeleportJoinException("The join token is not found or was already used.");
            }

            Joins++;
            var instance = new Instance(botName, Guid.NewGuid().ToString()) { Generation = 1 };
            _instances[instance.Id] = instance;
            return Issue(instance, publicKey, expires);
        }
    }

    private IssuedBotCertificates Renew(BotIdentity identity, PublicKeyInfo publicKey, DateTimeOffset expires)
    {
        RenewalGate?.Wait(TimeSpan.FromSeconds(30));
        ThrowIfDown();
        IssuedBotCertificates issued;
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (identity.InstanceId is null || !_instances.TryGetValue(identity.InstanceId, out var instance))
            {
                throw new TeleportAccessDeniedException("Unknown bot instance.");
            }

            if (instance.Locked)
            {
                throw new TeleportAccessDeniedException("The bot is locked.");
            }

            if (identity.IsExpiredAt(now))
            {
                throw new TeleportAccessDeniedException("The client credentials have expired.");
            }

            if (identity.Generation != instance.Generation)
            {
                GenerationMismatches++;
                instance.Locked = true;
                throw new TeleportAccessDeniedException("Renewable certificate generation mismatch; the bot is locked.");
            }

            instance.Generation++;
            Renewals++;
            issued = Issue(instance, publicKey, expires);
        }

        if (LoseRenewalReplies)
        {
            throw new RenewalOutcomeUnknownException("The connection was reset before the reply arrived (simulated).", null);
        }

        return issued;
    }

    private IssuedBotCertificates Issue(Instance instance, PublicKeyInfo publicKey, DateTimeOffset expires, bool renewable = true)
    {
        var now = _time.GetUtcNow();
        var notAfter = expires;
        if (notAfter > now + MaxSessionTtl)
        {
            notAfter = now + MaxSessionTtl;
        }

        var username = "bot-" + instance.BotName;
        var tls = new TeleportTlsCertificateBuilder
        {
            Username = username,
            Roles = { username },
            IsRenewable = renewable,
            Generation = instance.Generation,
            BotName = instance.BotName,
            BotInstanceId = instance.Id,
            TeleportCluster = ClusterName,
        }.Issue(publicKey.ExportSubjectPublicKeyInfo(), UserCa, _userCaKey, now.AddMinutes(-1), notAfter);
        var ssh = new SshCertificateBuilder
        {
            PublicKey = publicKey,
            Type = SshCertificateType.User,
            KeyId = username,
            Principals = { "-teleport-nologin-" + instance.Id, "-teleport-internal-join" },
            ValidAfter = now.AddMinutes(-1),
            ValidBefore = notAfter,
            Extensions =
            {
                ["generation"] = instance.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["bot-name@goteleport.com"] = instance.BotName,
                ["bot-instance-id@goteleport.com"] = instance.Id,
            },
        };
        if (renewable)
        {
            ssh.Extensions["renewable"] = "";
        }

        var signed = ssh.Sign(_userCaSsh);
        return new IssuedBotCertificates(
            tls.ExportCertificatePem() + "\n",
            signed.ToAuthorizedKey() + "\n",
            [UserCa.ExportCertificatePem() + "\n", HostCa.ExportCertificatePem() + "\n"],
            [_userCaSsh.PublicKey.ToAuthorizedKey(), _hostCaSsh.PublicKey.ToAuthorizedKey()]);
    }

    private sealed class Instance(string botName, string id)
    {
        public string BotName { get; } = botName;

        public string Id { get; } = id;

        public int Generation { get; set; }

        public bool Locked { get; set; }
    }

    private sealed class Client(SimulatedBotCluster cluster) : IBotCredentialClient
    {
        public Task<SignatureAlgorithmSuite> GetSignatureAlgorithmSuiteAsync(BotIdentity? identity, CancellationToken cancellationToken)
        {
            cluster.ThrowIfDown();
            return Task.FromResult(cluster.Suite);
        }

        public Task<BotJoinResult> JoinWithTokenAsync(string token, TimeSpan credentialTtl, CancellationToken cancellationToken) =>
            Task.Run(
                () =>
                {
                    cluster.ThrowIfDown();
                    var key = PrivateKey.Generate(cluster.Suite, KeyPurpose.BotIdentity);
                    return new BotJoinResult(key, cluster.Join(token, key.PublicKey, cluster._time.GetUtcNow() + credentialTtl));
                },
                cancellationToken);

        public Task<BotJoinResult> JoinWithIdTokenAsync(string tokenName, string idToken, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken) =>
            throw new NotSupportedException("The simulated cluster serves token joins only; delegated methods are tested against the emulator.");

        public Task<BoundKeypairJoinAnswer> JoinWithBoundKeypairAsync(
            MachineId.Wire.Join.BoundKeypairJoinParameters parameters, TimeSpan credentialTtl, bool presentIdentity, CancellationToken cancellationToken) =>
            throw new NotSupportedException("The simulated cluster serves token joins only; delegated methods are tested against the emulator.");

        public async Task<IssuedBotCertificates> RenewAsync(
            BotIdentity identity, PublicKeyInfo publicKey, DateTimeOffset expires, Func<CancellationToken, Task> beforeSend, CancellationToken cancellationToken)
        {
            // An unreachable Auth fails before anything is sent, as a refused connection does.
            cluster.ThrowIfDown();
            if (cluster.Connecting is { } connecting)
            {
                await connecting(cancellationToken);
            }

            await beforeSend(cancellationToken);
            Interlocked.Increment(ref cluster._renewalRequestsSent);
            return await Task.Run(() => cluster.Renew(identity, publicKey, expires), cancellationToken);
        }

        public Task SubmitHeartbeatAsync(BotIdentity identity, BotHeartbeat heartbeat, CancellationToken cancellationToken)
        {
            cluster.ThrowIfDown();
            lock (cluster._gate)
            {
                cluster.Heartbeats.Add(heartbeat);
            }

            return Task.CompletedTask;
        }

        public async IAsyncEnumerable<CertificateAuthorityChange> WatchCertificateAuthoritiesAsync(
            BotIdentity identity, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            cluster.ThrowIfDown();
            var channel = Channel.CreateUnbounded<CertificateAuthorityChange>();
            lock (cluster._gate)
            {
                cluster._watchers.Add(channel);
            }

            try
            {
                await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken))
                {
                    yield return change;
                }
            }
            finally
            {
                lock (cluster._gate)
                {
                    cluster._watchers.Remove(channel);
                }
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
