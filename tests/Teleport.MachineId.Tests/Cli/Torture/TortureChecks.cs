using System.Security.Cryptography.X509Certificates;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Tests.Cli.Torture;

/// <summary>What the bot's storage held after a kill, next to what the cluster believes.</summary>
/// <param name="Loadable">Whether the storage opened and its files parsed.</param>
/// <param name="Problem">Why not, when not loadable.</param>
/// <param name="StoredGeneration">The stored identity's generation (null: none stored).</param>
/// <param name="ClusterGeneration">The cluster's generation of that bot instance.</param>
/// <param name="InFlightFrom">The generation of an interrupted renewal's record (null: none).</param>
internal sealed record StorageState(bool Loadable, string? Problem, int? StoredGeneration, int? ClusterGeneration, int? InFlightFrom)
{
    /// <summary>The next renewal would present an old generation: the cluster would lock the bot.</summary>
    public bool WouldLock => StoredGeneration is { } stored && ClusterGeneration is { } cluster && cluster > stored && !RenewalStranded;

    /// <summary>
    /// The next run stops and asks for a new token: a renewal from the stored generation was
    /// interrupted (a record that cannot be read counts as one, conservatively).
    /// </summary>
    public bool RenewalStranded => StoredGeneration is { } stored && InFlightFrom is { } from && (from == stored || from < 0);

    /// <summary>The interrupted renewal reached Auth and was applied there (only then is the guard needed).</summary>
    public bool RenewalReachedAuth => ClusterGeneration > StoredGeneration;
}

/// <summary>The invariants checked after every kill: the destination is one consistent set, the storage loads.</summary>
internal static class TortureChecks
{
    /// <summary>
    /// The destination as a reader sees it through the visible names: nothing yet, or key, key.pub,
    /// key-cert.pub, tlscert and identity all of one key. Returns the problem, or null when consistent.
    /// A live writer may swap the set (the <c>..data</c> link) while the five files are read one by
    /// one; such a reading mixes two whole sets, so it is read again (a torn set stays torn).
    /// </summary>
    public static string? DestinationProblem(string destination)
    {
        string? DataTarget() => new FileInfo(Path.Combine(destination, "..data")).LinkTarget;
        string? problem = null;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var before = DataTarget();
            problem = ReadProblem(destination);
            if (problem is null || DataTarget() == before)
            {
                return problem;
            }
        }

        return problem;
    }

    private static string? ReadProblem(string destination)
    {
        string[] names = ["key", "key.pub", "key-cert.pub", "tlscert", "identity"];
        var present = names.Where(n => File.Exists(Path.Combine(destination, n))).ToList();
        if (present.Count == 0)
        {
            return null;
        }

        if (present.Count != names.Length)
        {
            return $"torn set: only {string.Join(", ", present)} present";
        }

        try
        {
            string Read(string name) => File.ReadAllText(Path.Combine(destination, name));
            using var key = PrivateKey.ImportPem(Read("key"));
            var publicKey = PublicKeyInfo.ParseAuthorizedKey(Read("key.pub").Trim());
            var sshCertificate = SshCertificate.ParseAuthorizedKey(Read("key-cert.pub").Trim());
            using var tls = X509Certificate2.CreateFromPem(Read("tlscert"));
            var identity = IdentityFileReader.Parse(Read("identity"));
            using var identityKey = PrivateKey.ImportPem(identity.PrivateKeyPem);
            var identitySsh = SshCertificate.ParseAuthorizedKey(identity.SshCertificate.Trim());
            using var identityTls = X509Certificate2.CreateFromPem(identity.TlsCertificatePem!);
            var keys = new (string What, PublicKeyInfo Key)[]
            {
                ("key.pub", publicKey),
                ("key-cert.pub", sshCertificate.PublicKey),
                ("tlscert", PublicKeyInfo.ImportSubjectPublicKeyInfo(tls.PublicKey.ExportSubjectPublicKeyInfo())),
                ("identity key", identityKey.PublicKey),
                ("identity SSH certificate", identitySsh.PublicKey),
                ("identity TLS certificate", PublicKeyInfo.ImportSubjectPublicKeyInfo(identityTls.PublicKey.ExportSubjectPublicKeyInfo())),
            };
            var mismatched = keys.Where(k => k.Key != key.PublicKey).Select(k => k.What).ToList();
            return mismatched.Count == 0 ? null : $"torn set: {string.Join(", ", mismatched)} not of the key in 'key'";
        }
        catch (Exception ex) when (ex is TeleportException or IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            return "unreadable file in the set: " + ex.Message;
        }
    }

    /// <summary>Opens the storage as the next run would (taking its lock), and compares it with the cluster's view.</summary>
    public static async Task<StorageState> StorageAsync(string storage, Testing.TeleportEmulator cluster)
    {
        if (!Directory.Exists(storage))
        {
            return new StorageState(true, null, null, null, null);
        }

        DirectoryBotIdentityStore store;
        try
        {
            store = DirectoryBotIdentityStore.Open(storage);
        }
        catch (TeleportException ex)
        {
            return new StorageState(false, "cannot open: " + ex.Message, null, null, null);
        }

        await using (store)
        {
            var state = await store.LoadAsync(CancellationToken.None);
            if (state.IdentityError is { } error)
            {
                return new StorageState(false, "stored identity unreadable: " + error.Message, null, null, state.InFlight?.FromGeneration);
            }

            if (state.Identity is not { } stored)
            {
                return new StorageState(true, null, null, null, state.InFlight?.FromGeneration);
            }

            var tls = TeleportTlsIdentity.FromPem(stored.Material.TlsCertificatePem);
            var instance = cluster.BotInstances.FirstOrDefault(i => i.InstanceId == tls.BotInstanceId);
            return new StorageState(true, null, tls.Generation, instance?.Generation, state.InFlight?.FromGeneration);
        }
    }
}
