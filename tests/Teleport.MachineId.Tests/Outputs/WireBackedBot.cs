using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>
/// A bot identity provider for output tests built from real parts: it joins the emulator with a
/// token through the wire client and renews through <c>GenerateUserCerts</c>, raising
/// <see cref="IdentityChanged"/> like the real provider. (The library's <see cref="BotIdentityProvider"/>
/// is used once its wire credential client lands; see the outputs report.)
/// </summary>
internal sealed class WireBackedBot : IBotIdentityProvider
{
    private readonly TeleportWireClient _wire;
    private readonly SignatureAlgorithmSuite _suite;
    private readonly TimeSpan _ttl;
    private readonly SemaphoreSlim _renewLock = new(1, 1);
    private BotIdentity? _current;
    private WireIdentity? _wireIdentity;

    private WireBackedBot(TeleportWireClient wire, SignatureAlgorithmSuite suite, TimeSpan ttl)
    {
        _wire = wire;
        _suite = suite;
        _ttl = ttl;
    }

    public event EventHandler<BotIdentityChangedEventArgs>? IdentityChanged;

    public BotIdentity? Current => Volatile.Read(ref _current);

    public BotIdentityStatus Status => new(BotIdentityHealth.Healthy, "test bot", Current, null, 0, null, DateTimeOffset.UtcNow);

    public int Renewals { get; private set; }

    public static WireClientOptions Options(TeleportEmulator emulator) => new()
    {
        ProxyServer = HostPort.Parse(emulator.ProxyAddress),
        ProxyCaCertificates = new X509Certificate2Collection(emulator.WebCaCertificate),
        TimeProvider = emulator.TimeProvider,
    };

    public static async Task<WireBackedBot> JoinAsync(TeleportEmulator emulator, string botName, TimeSpan? ttl = null)
    {
        WireBackedBot? bot = null;
        var wire = TeleportWireClient.Create(Options(emulator), () => bot?._wireIdentity);
        bot = new WireBackedBot(wire, emulator.SignatureAlgorithmSuite, ttl ?? TimeSpan.FromHours(1));
        var result = await wire.JoinWithTokenAsync(emulator.CreateJoinToken(botName).Name, bot._ttl);
        bot.Publish(result.PrivateKey, result.Certificates, BotIdentityChangeReason.Joined);
        return bot;
    }

    public Task<BotIdentity> WaitUntilReadyAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Current ?? throw new InvalidOperationException("not joined"));

    public async Task<BotIdentity> RenewNowAsync(CancellationToken cancellationToken = default)
    {
        await _renewLock.WaitAsync(cancellationToken);
        try
        {
            var current = Current!;
            var key = PrivateKey.Generate(_suite, KeyPurpose.BotIdentity);
            var certificates = await _wire.GenerateUserCertsAsync(
                UserCertificateRequest.ForBotRenewal(current.Username, key.PublicKey, DateTimeOffset.UtcNow + _ttl), cancellationToken);
            Renewals++;
            return Publish(key, certificates, BotIdentityChangeReason.Renewed);
        }
        finally
        {
            _renewLock.Release();
        }
    }

    public async IAsyncEnumerable<BotIdentityChangedEventArgs> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask;
        yield break;
    }

    public async ValueTask DisposeAsync() => await _wire.DisposeAsync();

    private BotIdentity Publish(PrivateKey key, IssuedCertificates certificates, BotIdentityChangeReason reason)
    {
        var material = new BotIdentityMaterial(
            certificates.TlsCertificatePem!,
            certificates.SshCertificateLine!.TrimEnd('\n'),
            certificates.TlsCaCertificatePems,
            certificates.SshCaKeyLines,
            "token");
        var identity = BotIdentity.Create(key, material);
        var previous = Current;
        _wireIdentity = WireIdentity.Create(key, certificates);
        Volatile.Write(ref _current, identity);
        IdentityChanged?.Invoke(this, new BotIdentityChangedEventArgs(identity, previous, reason, _ttl, identity.NotAfter - identity.NotBefore));
        return identity;
    }
}
