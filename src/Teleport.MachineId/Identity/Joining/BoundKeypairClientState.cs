using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Wire.Join;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>The committed part of a bound keypair client state, stored in the same atomic write as the identity it came with.</summary>
/// <param name="PrivateKeyPem"><c>id_bkp</c>: the active private key (PEM, Teleport's encodings).</param>
/// <param name="PublicKeyLine"><c>id_bkp.pub</c>: its public key (authorized_keys line).</param>
/// <param name="JoinState"><c>bkp_state</c>: the join state document from the join.</param>
internal sealed record BoundKeypairCommit(byte[] PrivateKeyPem, byte[] PublicKeyLine, byte[] JoinState);

/// <summary>
/// A bound keypair bot's client state, in tbot's layout: the active private key <c>id_bkp</c> (PEM,
/// Teleport's encodings) and <c>id_bkp.pub</c>, the last join state <c>bkp_state</c>, and
/// <c>bkp_key_history.json</c> (up to 10 keys, newest first, <c>{"entries":[{"time","private_key"}]}</c>)
/// so a join can answer a challenge for any key the cluster may have bound.
/// </summary>
/// <remarks>
/// Crash safety: the active key and join state are committed with the identity they came with
/// (<see cref="Complete"/> returns them; the engine writes them in the identity's atomic write), so an
/// identity is never paired with another join's state — an older join state would fail verification
/// and lock the token. A key the cluster asks for is written to the key history (written ahead,
/// <see cref="CreateKeyAsync"/>) before the answer leaves, so a crash after the cluster bound it never
/// loses the key: the next join finds it in the history.
/// </remarks>
internal sealed class BoundKeypairClientState : IBoundKeypairKeys, IDisposable
{
    public const string PrivateKeyFile = "id_bkp";
    public const string PublicKeyFile = "id_bkp.pub";
    public const string JoinStateFile = "bkp_state";
    public const string KeyHistoryFile = "bkp_key_history.json";
    public const int KeyHistoryLength = 10;

    private readonly IJoinMethodStorage? _ahead;
    private readonly TimeProvider _clock;
    private readonly object _gate = new();
    private readonly List<(DateTimeOffset Time, string Pem)> _history;
    private PrivateKey? _active;
    private byte[] _joinState;

    private BoundKeypairClientState(IJoinMethodStorage? ahead, TimeProvider clock, PrivateKey? active, byte[] joinState, List<(DateTimeOffset, string)> history)
    {
        _ahead = ahead;
        _clock = clock;
        _active = active;
        _joinState = joinState;
        _history = history;
    }

    /// <summary>Whether the state is a pre-registered static key (read-only: no rotation, nothing stored).</summary>
    public bool IsStatic => _ahead is null;

    /// <summary>Whether the bot holds any key (active or in the history): otherwise a first join needs a registration secret.</summary>
    public bool HasKeys
    {
        get
        {
            lock (_gate)
            {
                return _active is not null || _history.Count > 0;
            }
        }
    }

    /// <summary>The active key's public half, or null before the first join with a registration secret.</summary>
    public PublicKeyInfo? ActivePublicKey
    {
        get
        {
            lock (_gate)
            {
                return _active?.PublicKey;
            }
        }
    }

    /// <summary>The join state from the last join (empty before the first).</summary>
    public ReadOnlyMemory<byte> JoinState
    {
        get
        {
            lock (_gate)
            {
                return _joinState;
            }
        }
    }

    /// <summary>
    /// The state from its committed part (<paramref name="privateKeyPem"/>, <paramref name="joinState"/>;
    /// absent before the first join) and the key history in <paramref name="ahead"/>.
    /// </summary>
    /// <exception cref="TeleportFormatException">The committed private key is unreadable.</exception>
    /// <exception cref="TeleportException">The key history cannot be read.</exception>
    public static async Task<BoundKeypairClientState> LoadAsync(
        ReadOnlyMemory<byte>? privateKeyPem, ReadOnlyMemory<byte>? joinState, IJoinMethodStorage ahead, TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ahead);
        PrivateKey? active = null;
        if (privateKeyPem is { Length: > 0 } pem)
        {
            try
            {
                active = PrivateKey.ImportPem(Encoding.UTF8.GetString(pem.Span));
            }
            catch (TeleportFormatException ex)
            {
                throw new TeleportFormatException(
                    $"The bound keypair private key '{PrivateKeyFile}' in {ahead.Description} is unreadable ({ex.Message}). Restore the storage from a backup; without the key the bot must be registered again.", ex);
            }
        }

        var history = new List<(DateTimeOffset, string)>();
        try
        {
            if (await ahead.ReadAsync(KeyHistoryFile, cancellationToken).ConfigureAwait(false) is { Length: > 0 } historyBytes)
            {
                history = ParseHistory(historyBytes);
            }
        }
        catch (Exception ex) when (ex is JsonException or TeleportFormatException or FormatException)
        {
            // As tbot: the history only helps after a rollback or a crash mid-rotation; an unreadable one is not fatal.
            JoinMethodLog.HistoryUnreadable(logger, ahead.Description, ex.GetType().Name);
        }

        if (active is not null && !history.Exists(entry => entry.Item2 == active.ExportPem()))
        {
            history.Insert(0, (clock.GetUtcNow(), active.ExportPem()));
        }

        return new BoundKeypairClientState(ahead, clock, active, joinState?.ToArray() ?? [], history);
    }

    /// <summary>A pre-registered static key (tbot's <c>static_private_key_path</c>): never rotated, nothing written ahead.</summary>
    public static BoundKeypairClientState Static(PrivateKey key, ReadOnlyMemory<byte>? joinState, TimeProvider clock) =>
        new(null, clock, key, joinState?.ToArray() ?? [], [(clock.GetUtcNow(), key.ExportPem())]);

    /// <inheritdoc />
    public PrivateKey? FindKey(PublicKeyInfo publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        lock (_gate)
        {
            if (_active is not null && _active.PublicKey == publicKey)
            {
                return PrivateKey.ImportPem(_active.ExportPem());
            }

            foreach (var (_, pem) in _history)
            {
                PrivateKey candidate;
                try
                {
                    candidate = PrivateKey.ImportPem(pem);
                }
                catch (TeleportFormatException)
                {
                    continue;
                }

                if (candidate.PublicKey == publicKey)
                {
                    return candidate;
                }

                candidate.Dispose();
            }

            return null;
        }
    }

    /// <inheritdoc />
    /// <exception cref="TeleportJoinException">The key is static (pre-registered keys cannot be rotated).</exception>
    public async Task<PrivateKey> CreateKeyAsync(SignatureAlgorithmSuite suite, CancellationToken cancellationToken)
    {
        if (_ahead is null)
        {
            throw new TeleportJoinException(
                "The cluster asked this bot for a new bound keypair key, but it uses a static key (static_private_key_path or TBOT_BOUND_KEYPAIR_STATIC_KEY), " +
                "which cannot be rotated. Remove rotate_after from the token, or let the bot keep its key in its storage.");
        }

        using var key = PrivateKey.Generate(suite, KeyPurpose.BoundKeypairJoining);
        var pem = key.ExportPem();
        byte[] content;
        lock (_gate)
        {
            _history.Insert(0, (_clock.GetUtcNow(), pem));
            if (_history.Count > KeyHistoryLength)
            {
                _history.RemoveRange(KeyHistoryLength, _history.Count - KeyHistoryLength);
            }

            content = SerializeHistory(_history);
        }

        // Durable before the cluster hears of the key: it may bind it the moment the answer leaves.
        await _ahead.WriteAsync(KeyHistoryFile, content, cancellationToken).ConfigureAwait(false);
        return PrivateKey.ImportPem(pem);
    }

    /// <summary>
    /// Records a successful join in memory and returns what to commit with its identity: the bound
    /// key as the active key, and the new join state.
    /// </summary>
    /// <exception cref="TeleportProtocolException">The cluster bound a key this bot does not hold.</exception>
    public BoundKeypairCommit Complete(BoundKeypairJoinOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        using var bound = FindKey(outcome.BoundPublicKey)
            ?? throw new TeleportProtocolException($"The cluster reports the bound key {outcome.BoundPublicKey}, which this bot does not hold.");
        var pem = bound.ExportPem();
        lock (_gate)
        {
            _joinState = outcome.JoinState;
            if (_active?.PublicKey != bound.PublicKey)
            {
                _active?.Dispose();
                _active = PrivateKey.ImportPem(pem);
            }
        }

        return new BoundKeypairCommit(Encoding.UTF8.GetBytes(pem), Encoding.UTF8.GetBytes(bound.PublicKey.ToAuthorizedKey() + "\n"), outcome.JoinState);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _active?.Dispose();
            _active = null;
        }
    }

    private static byte[] SerializeHistory(List<(DateTimeOffset Time, string Pem)> history)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("entries");
            foreach (var (time, pem) in history)
            {
                writer.WriteStartObject();
                writer.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
                writer.WriteString("private_key", pem);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static List<(DateTimeOffset, string)> ParseHistory(byte[] content)
    {
        // JsonDocument checks UTF-8 inside strings only when they are read (GetString would throw
        // InvalidOperationException): refuse invalid text up front, as the storage decoder does.
        if (!System.Text.Unicode.Utf8.IsValid(content))
        {
            throw new TeleportFormatException("the key history is not UTF-8 text");
        }

        using var document = JsonDocument.Parse(content, new JsonDocumentOptions { MaxDepth = 8 });
        var result = new List<(DateTimeOffset, string)>();
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("entries", out var entries) || entries.ValueKind != JsonValueKind.Array)
        {
            throw new TeleportFormatException("expected {\"entries\": [...]}");
        }

        foreach (var entry in entries.EnumerateArray().Take(KeyHistoryLength))
        {
            if (entry.ValueKind == JsonValueKind.Object
                && entry.TryGetProperty("private_key", out var pem) && pem.ValueKind == JsonValueKind.String
                && pem.GetString() is { Length: > 0 } text)
            {
                var time = entry.TryGetProperty("time", out var t) && t.ValueKind == JsonValueKind.String && t.TryGetDateTimeOffset(out var parsed) ? parsed : DateTimeOffset.UnixEpoch;
                result.Add((time, text));
            }
        }

        return result;
    }
}
