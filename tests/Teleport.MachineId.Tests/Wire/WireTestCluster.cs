using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Calls;

namespace Teleport.MachineId.Tests.Wire;

/// <summary>Holds the identity a wire client reads through its provider callback; tests swap it like a renewal does.</summary>
internal sealed class IdentityHolder
{
    private WireIdentity? _current;

    public WireIdentity? Current
    {
        get => Volatile.Read(ref _current);
        set => Volatile.Write(ref _current, value);
    }

    public Func<WireIdentity?> Provider => () => Current;
}

/// <summary>An emulated cluster with an <c>access</c> role and a bot, and wire clients for it.</summary>
internal sealed class WireTestCluster : IAsyncDisposable
{
    public const string BotName = "robot";
    public const string AccessRole = "access";
    public const string OpsRole = "ops";

    private WireTestCluster(TeleportEmulator emulator)
    {
        Emulator = emulator;
    }

    public TeleportEmulator Emulator { get; }

    public string ClusterName => Emulator.ClusterName;

    public HostPort ProxyAddress => HostPort.Parse(Emulator.ProxyAddress);

    public HostPort AuthAddress => HostPort.Parse(Emulator.AuthAddress);

    public static async Task<WireTestCluster> StartAsync(TeleportEmulatorOptions? options = null)
    {
        var emulator = await TeleportEmulator.StartAsync(options ?? new TeleportEmulatorOptions());
        emulator.UpsertRole(new EmulatorRole
        {
            Name = AccessRole,
            Logins = ["root", "ubuntu"],
            NodeLabels = EmulatorRole.AllNodes,
            MaxSessionTtl = TimeSpan.FromHours(8),
        });
        emulator.UpsertRole(new EmulatorRole { Name = OpsRole, Logins = ["ops"], NodeLabels = EmulatorRole.AllNodes });
        emulator.AddBot(new EmulatorBot { Name = BotName, Roles = [AccessRole, OpsRole] });
        return new WireTestCluster(emulator);
    }

    public string CreateToken() => Emulator.CreateJoinToken(BotName).Name;

    /// <summary>Options for the proxy, trusting the emulator's web CA as a caller-supplied bundle.</summary>
    public WireClientOptions ProxyOptions(bool trustWebCa = true, bool insecure = false) => new()
    {
        ProxyServer = ProxyAddress,
        ProxyCaCertificates = trustWebCa ? new X509Certificate2Collection(Emulator.WebCaCertificate) : null,
        Insecure = insecure,
        TimeProvider = Emulator.TimeProvider,
    };

    /// <summary>Options for direct Auth.</summary>
    public WireClientOptions AuthOptions(IReadOnlyList<string>? pins = null, string? caPath = null, bool insecure = false) => new()
    {
        AuthServer = AuthAddress,
        CaPins = pins ?? [],
        CaPath = caPath,
        Insecure = insecure,
        ProxyCaCertificates = new X509Certificate2Collection(Emulator.WebCaCertificate),
        TimeProvider = Emulator.TimeProvider,
    };

    /// <summary>A client through the proxy and a holder with an identity joined through it.</summary>
    public async Task<(TeleportWireClient Client, IdentityHolder Identity)> JoinedProxyClientAsync(WireClientOptions? options = null)
    {
        var holder = new IdentityHolder();
        var client = TeleportWireClient.Create(options ?? ProxyOptions(), holder.Provider);
        var result = await client.JoinWithTokenAsync(CreateToken(), TimeSpan.FromHours(1));
        holder.Current = result.CreateIdentity();
        return (client, holder);
    }

    /// <summary>
    /// A client holding an impersonated identity of the bot for <paramref name="roles"/> (what an
    /// identity output and <c>ssh-proxy-command</c> use), joined and issued through the proxy.
    /// </summary>
    public async Task<(TeleportWireClient Client, IdentityHolder Identity)> ImpersonatedProxyClientAsync(
        string[]? roles = null, WireClientOptions? options = null)
    {
        var (bot, botIdentity) = await JoinedProxyClientAsync(options);
        await using (bot)
        {
            using var key = PrivateKey.Generate(Emulator.SignatureAlgorithmSuite, KeyPurpose.BotImpersonatedIdentity);
            var certs = await bot.GenerateUserCertsAsync(UserCertificateRequest.ForImpersonation(
                botIdentity.Current!.Tls.Username, key.PublicKey, Emulator.TimeProvider.GetUtcNow().AddHours(1), roles ?? [AccessRole], ClusterName));

            // Impersonated replies carry only the user CA: verify servers with the bot's CAs.
            var holder = new IdentityHolder { Current = WireIdentity.Create(key, certs.TlsCertificate!, botIdentity.Current.TrustedCertificateAuthorities.Cast<X509Certificate2>()) };
            return (TeleportWireClient.Create(options ?? ProxyOptions(), holder.Provider), holder);
        }
    }

    public ValueTask DisposeAsync() => Emulator.DisposeAsync();
}
