using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Destinations.Internal;
using Teleport.MachineId.Wire.Join;

namespace Teleport.MachineId.Identity.Internal.Joins;

/// <summary>Where a bound keypair bot keeps tbot's four files; every write is atomic and durable when it completes.</summary>
internal interface IBoundKeypairFiles
{
    /// <summary>Describes the location (never secrets).</summary>
    string Description { get; }

    /// <summary>The file's content, or null when it does not exist.</summary>
    /// <exception cref="TeleportException">The file exists but cannot be read.</exception>
    Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken);

    /// <summary>Replaces the file atomically and durably.</summary>
    /// <exception cref="TeleportException">The file cannot be written.</exception>
    Task WriteAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);
}

/// <summary>The files in the bot's storage directory (next to its identity, under the same lock), mode 0600.</summary>
internal sealed class DirectoryBoundKeypairFiles(string directory) : IBoundKeypairFiles
{
    private const int MaxFileBytes = 256 * 1024;

    public string Description => "directory " + directory;

    public async Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, name);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                return null;
            }

            if (info.Length > MaxFileBytes)
            {
                throw new TeleportFormatException($"The bound keypair file '{path}' is larger than {MaxFileBytes / 1024} KiB; it is not one tbot or this SDK wrote.");
            }

            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TeleportException($"Cannot read the bound keypair file '{path}': {ex.GetType().Name}. Check the storage directory's owner and permissions.", ex);
        }
    }

    public async Task WriteAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, name);
        try
        {
            await AtomicFile.WriteAsync(path, content, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TeleportException($"Cannot write the bound keypair file '{path}': {ex.GetType().Name}. Check the storage directory's owner, permissions and free space.", ex);
        }
    }
}

/// <summary>Process memory (storage <c>memory://</c>): the keypair is lost when the process ends.</summary>
internal sealed class MemoryBoundKeypairFiles : IBoundKeypairFiles
{
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);

    public string Description => "memory";

    public Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(_files.TryGetValue(name, out var content) ? (byte[]?)content.ToArray() : null);

    public Task WriteAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        _files[name] = content.ToArray();
        return Task.CompletedTask;
    }
}

/// <summary>
/// A bound keypair bot's client state, in tbot's layout: the active private key <c>id_bkp</c> (PEM,
/// Teleport's encodings) and <c>id_bkp.pub</c> (authorized_keys), the last join state
/// <c>bkp_state</c>, and <c>bkp_key_history.json</c> (up to 10 keys, newest first) so a join can
/// answer a challenge for any key the cluster may have bound.
/// </summary>
/// <remarks>
/// Crash safety follows from the write order. A key the cluster asks for is written to the history
/// before the answer leaves (<see cref="CreateKeyAsync"/>), so whatever the cluster bound is on disk.
/// After a join, <see cref="CompleteAsync"/> writes the join state before the active key, and the
/// caller stores the identity only afterwards: the stored join state is never older than the
/// stored identity (an older one would fail verification and lock the token).
/// </remarks>
internal sealed class BoundKeypairClientState : IBoundKeypairKeys, IDisposable
{
    public const string PrivateKeyFile = "id_bkp";
    public const string PublicKeyFile = "id_bkp.pub";
    public const string JoinStateFile = "bkp_state";
    public const string KeyHistoryFile = "bkp_key_history.json";
    public const int KeyHistoryLength = 10;

    private readonly IBoundKeypairFiles? _files;
    private readonly TimeProvider _clock;
    private readonly object _gate = new();
    private readonly List<(DateTimeOffset Time, string Pem)> _history;
    private PrivateKey? _active;
    private byte[] _joinState;

    private BoundKeypairClientState(IBoundKeypairFiles? files, TimeProvider clock, PrivateKey? active, byte[] joinState, List<(DateTimeOffset, string)> history)
    {
        _files = files;
        _clock = clock;
        _active = active;
        _joinState = joinState;
        _history = history;
    }

    /// <summary>Whether the state is a pre-registered static key (read-only: no rotation, nothing stored).</summary>
    public bool IsStatic => _files is null;

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

    /// <summary>Reads the state from <paramref name="files"/>; no files is an empty (unbound) state.</summary>
    /// <exception cref="TeleportFormatException">The active private key is unreadable.</exception>
    /// <exception cref="TeleportException">A file cannot be read.</exception>
    public static async Task<BoundKeypairClientState> LoadAsync(IBoundKeypairFiles files, TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        var keyBytes = await files.ReadAsync(PrivateKeyFile, cancellationToken).ConfigureAwait(false);
        PrivateKey? active = null;
        if (keyBytes is { Length: > 0 })
        {
            try
            {
                active = PrivateKey.ImportPem(Encoding.UTF8.GetString(keyBytes));
            }
            catch (TeleportFormatException ex)
            {
                throw new TeleportFormatException(
                    $"The bound keypair private key '{PrivateKeyFile}' in {files.Description} is unreadable ({ex.Message}). Restore it from a backup; without it the bot must be re-registered.", ex);
            }
        }

        var joinState = await files.ReadAsync(JoinStateFile, cancellationToken).ConfigureAwait(false) ?? [];
        var history = new List<(DateTimeOffset, string)>();
        try
        {
            if (await files.ReadAsync(KeyHistoryFile, cancellationToken).ConfigureAwait(false) is { Length: > 0 } historyBytes)
            {
                history = ParseHistory(historyBytes);
            }
        }
        catch (Exception ex) when (ex is JsonException or TeleportFormatException or FormatException)
        {
            // As tbot: the history only helps after a rollback; an unreadable one is not fatal.
            JoinMethodLog.HistoryUnreadable(logger, files.Description, ex.GetType().Name);
        }

        if (history.Count == 0 && active is not null)
        {
            history.Add((clock.GetUtcNow(), active.ExportPem()));
        }

        return new BoundKeypairClientState(files, clock, active, joinState, history);
    }

    /// <summary>A pre-registered static key (tbot's <c>static_private_key_path</c>): never rotated, nothing written.</summary>
    public static BoundKeypairClientState Static(PrivateKey key, TimeProvider clock) =>
        new(null, clock, key, [], [(clock.GetUtcNow(), key.ExportPem())]);

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
        if (_files is null)
        {
            throw new TeleportJoinException(
                "The cluster asked this bot to rotate its bound keypair, but it uses a static key (static_private_key_path or TBOT_BOUND_KEYPAIR_STATIC_KEY), " +
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
        await _files.WriteAsync(KeyHistoryFile, content, cancellationToken).ConfigureAwait(false);
        return PrivateKey.ImportPem(pem);
    }

    /// <summary>
    /// Records a successful join: the new join state, then the bound key as the active key. Call it
    /// before storing the identity the join returned.
    /// </summary>
    /// <exception cref="TeleportProtocolException">The cluster bound a key this bot does not hold.</exception>
    /// <exception cref="TeleportException">A file cannot be written.</exception>
    public async Task CompleteAsync(BoundKeypairJoinOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        using var bound = FindKey(outcome.BoundPublicKey)
            ?? throw new TeleportProtocolException($"The cluster reports the bound key {outcome.BoundPublicKey}, which this bot does not hold.");
        if (_files is not null)
        {
            await _files.WriteAsync(JoinStateFile, outcome.JoinState, cancellationToken).ConfigureAwait(false);
            if (ActivePublicKey != bound.PublicKey)
            {
                await _files.WriteAsync(PrivateKeyFile, Encoding.UTF8.GetBytes(bound.ExportPem()), cancellationToken).ConfigureAwait(false);
                await _files.WriteAsync(PublicKeyFile, Encoding.UTF8.GetBytes(bound.PublicKey.ToAuthorizedKey() + "\n"), cancellationToken).ConfigureAwait(false);
            }
        }

        lock (_gate)
        {
            _joinState = outcome.JoinState;
            if (_active?.PublicKey != bound.PublicKey)
            {
                _active?.Dispose();
                _active = PrivateKey.ImportPem(bound.ExportPem());
            }
        }
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
