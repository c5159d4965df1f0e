using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Identity.Storage;

namespace Teleport.MachineId.Tests.Identity.Joining;

/// <summary>
/// A delegated join method against <see cref="SimulatedBotCluster"/>, shaped like bound keypair:
/// every join proves the bound key, rotates it (the new key is written ahead with
/// <see cref="IJoinMethodStorage"/> before the cluster can bind it) and commits the bound key and a
/// join counter with the identity (<see cref="BotJoinResult.State"/>).
/// </summary>
internal sealed class SimulatedRejoinMethod(SimulatedBotCluster cluster, string botName = "robot") : IBotJoinMethod
{
    public const string MethodName = "sim_rejoin";
    public const string KeyEntry = "sim_key";
    public const string CounterEntry = "sim_counter";
    public const string NextKeyEntry = "sim_key_next";

    /// <summary>Crash points inside the join (they throw <see cref="SimulatedCrashException"/>).</summary>
    public enum CrashPoint
    {
        AfterKeyWrittenAhead,
        AfterClusterAnswered,
    }

    public string Name => MethodName;

    public BotRenewalKind RenewalKind => BotRenewalKind.Rejoin;

    public JoinSecretUse SecretUse => JoinSecretUse.None;

    public bool CanRejoinUnattended => true;

    /// <summary>Crash once at this point (then disarm).</summary>
    public CrashPoint? CrashAt { get; set; }

    /// <summary>What each join presented (null: nothing) and the committed counter it saw.</summary>
    public List<(string? PresentedInstance, int CommittedCounter)> Joins { get; } = [];

    public void Validate(MachineIdOptions options, ICollection<string> errors)
    {
        if (options.Token is not null)
        {
            errors.Add("Token: the sim_rejoin join method takes no token.");
        }
    }

    public async Task<BotJoinResult> JoinAsync(BotJoinContext context, CancellationToken cancellationToken)
    {
        var counter = context.State.TryGet(CounterEntry, out var c) ? int.Parse(System.Text.Encoding.UTF8.GetString(c.Value.Span), System.Globalization.CultureInfo.InvariantCulture) : 0;
        Joins.Add((context.Current?.InstanceId, counter));

        // The bound key may be the committed one, or one written ahead by a join that crashed after the cluster bound it.
        var candidates = new List<PrivateKey>();
        if (context.State.TryGet(KeyEntry, out var committed))
        {
            candidates.Add(PrivateKey.ImportPem(System.Text.Encoding.UTF8.GetString(committed.Value.Span)));
        }

        if (await context.Storage.ReadAsync(NextKeyEntry, cancellationToken) is { } ahead)
        {
            candidates.Add(PrivateKey.ImportPem(System.Text.Encoding.UTF8.GetString(ahead)));
        }

        var bound = cluster.BoundKeyOf(botName);
        var proof = bound is null ? null : candidates.FirstOrDefault(k => k.PublicKey == bound)?.PublicKey;

        using var next = PrivateKey.Generate(KeyAlgorithm.EcdsaP256);
        var nextPem = next.ExportPem();
        await context.Storage.WriteAsync(NextKeyEntry, System.Text.Encoding.UTF8.GetBytes(nextPem), cancellationToken);
        Crash(CrashPoint.AfterKeyWrittenAhead);

        var key = PrivateKey.Generate(cluster.Suite, KeyPurpose.BotIdentity);
        var certificates = cluster.JoinDelegated(botName, context.Current, proof, next.PublicKey, key.PublicKey, context.Time.GetUtcNow() + context.CredentialTtl);
        Crash(CrashPoint.AfterClusterAnswered);
        var state = context.State
            .With(KeyEntry, System.Text.Encoding.UTF8.GetBytes(nextPem))
            .With(CounterEntry, System.Text.Encoding.UTF8.GetBytes((counter + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return new BotJoinResult(key, certificates, state);
    }

    private void Crash(CrashPoint point)
    {
        if (CrashAt == point)
        {
            CrashAt = null;
            throw new SimulatedCrashException(RenewalFaultPoint.AfterCertificatesIssued);
        }
    }
}
