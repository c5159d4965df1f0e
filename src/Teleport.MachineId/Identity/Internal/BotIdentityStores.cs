using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Teleport.MachineId.Destinations;
using Teleport.MachineId.Destinations.Internal;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// The bot's internal storage (tbot's <c>storage:</c>): its identity, the hash of the token that
/// produced it, and the record of a renewal in flight.
/// </summary>
/// <remarks>Every write is durable when the returned task completes.</remarks>
internal interface IBotIdentityStore : IAsyncDisposable
{
    string Description { get; }

    bool IsPersistent { get; }

    Task<StoredBotState> LoadAsync(CancellationToken cancellationToken);

    Task SaveIdentityAsync(StoredBotIdentity identity, CancellationToken cancellationToken);

    Task WriteInFlightAsync(InFlightRenewal record, CancellationToken cancellationToken);

    Task ClearInFlightAsync(CancellationToken cancellationToken);
}

/// <summary>A stored identity: private key (PEM), certificates and CAs, and the hash of the join token that produced it.</summary>
internal sealed record StoredBotIdentity(string PrivateKeyPem, BotIdentityMaterial Material, string? TokenHash, DateTimeOffset SavedAt);

/// <summary>
/// Written durably before a renewal request is sent and removed after the renewed identity is
/// stored: if it survives a crash while its <see cref="FromGeneration"/> equals the stored
/// identity's generation, the cluster may have advanced past the stored identity.
/// </summary>
internal sealed record InFlightRenewal(int FromGeneration, string? InstanceId, string NewPublicKey, DateTimeOffset StartedAt);

/// <summary>What a store held at start-up.</summary>
/// <param name="Identity">The stored identity, or <see langword="null"/>.</param>
/// <param name="InFlight">The in-flight renewal record, or <see langword="null"/>.</param>
/// <param name="IdentityError">Why a stored identity could not be read, or <see langword="null"/>.</param>
internal sealed record StoredBotState(StoredBotIdentity? Identity, InFlightRenewal? InFlight, TeleportException? IdentityError);

/// <summary>Simulated crash points of a renewal (internal fault injection for crash-safety tests).</summary>
internal enum RenewalFaultPoint
{
    BeforeInFlightRecord,
    AfterInFlightRecord,
    AfterCertificatesIssued,
    MidWrite,
    AfterPersist,
}

/// <summary>Thrown by fault-injection hooks to stop the process state at a point: nothing may clean up after it.</summary>
internal sealed class SimulatedCrashException : Exception
{
    public SimulatedCrashException(RenewalFaultPoint point)
        : base("Simulated crash at " + point)
    {
        Point = point;
    }

    public RenewalFaultPoint Point { get; }
}

/// <summary>Process memory storage (tbot's <c>memory</c>).</summary>
internal sealed class MemoryBotIdentityStore : IBotIdentityStore
{
    private StoredBotIdentity? _identity;
    private InFlightRenewal? _inFlight;

    public string Description => "memory";

    public bool IsPersistent => false;

    public Task<StoredBotState> LoadAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new StoredBotState(Volatile.Read(ref _identity), Volatile.Read(ref _inFlight), null));

    public Task SaveIdentityAsync(StoredBotIdentity identity, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _identity, identity);
        return Task.CompletedTask;
    }

    public Task WriteInFlightAsync(InFlightRenewal record, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _inFlight, record);
        return Task.CompletedTask;
    }

    public Task ClearInFlightAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _inFlight, null);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// Directory storage: <c>bot-identity.json</c> (key, certificates, CAs, token hash) and
/// <c>renewal-inflight.json</c>, each replaced atomically and durably (<see cref="AtomicFile"/>),
/// mode 0600 in a 0700 directory, under the exclusive <c>lock</c> tbot also takes.
/// </summary>
/// <remarks>
/// The identity is one file so a crash can never leave a key next to certificates of another
/// renewal. The JSON holds PEM and authorized_keys text, so an operator can read it with standard tools.
/// </remarks>
internal sealed class DirectoryBotIdentityStore : IBotIdentityStore
{
    public const string IdentityFileName = "bot-identity.json";
    public const string InFlightFileName = "renewal-inflight.json";
    private const int FormatVersion = 1;

    private readonly ExclusiveDirectoryLock _lock;
    private readonly string _identityPath;
    private readonly string _inFlightPath;

    private DirectoryBotIdentityStore(string directory, ExclusiveDirectoryLock directoryLock)
    {
        DirectoryPath = directory;
        _lock = directoryLock;
        _identityPath = Path.Combine(directory, IdentityFileName);
        _inFlightPath = Path.Combine(directory, InFlightFileName);
    }

    public string DirectoryPath { get; }

    public string Description => "directory " + DirectoryPath;

    public bool IsPersistent => true;

    /// <summary>Fault-injection hook (tests only): called at <see cref="RenewalFaultPoint.MidWrite"/> after a torn temporary file was left behind.</summary>
    internal Action<RenewalFaultPoint>? FaultInjector { get; set; }

    /// <summary>Creates the directory (0700) if needed and takes its lock.</summary>
    /// <exception cref="DestinationException">The directory is locked by someone else (<see cref="DestinationFailure.Locked"/>) or cannot be used.</exception>
    public static DirectoryBotIdentityStore Open(string directory)
    {
        var full = Path.GetFullPath(directory);
        try
        {
            // The storage holds the long-lived identity: like a destination in tbot's default
            // try-secure mode, its path may not go through a symbolic link (one could redirect it).
            using var checkedPath = LinuxNative.IsSupported
                ? (DirectoryHandle)LinuxDirectoryHandle.OpenPath(
                    full, LinuxNative.IsOpenat2Available ? PathResolution.Openat2NoSymlinks : PathResolution.NoFollow, create: true, onCreated: null)
                : PortableDirectoryHandle.OpenPath(full, refuseSymlinks: true, create: true, onCreated: null);
        }
        catch (DestinationException ex) when (ex.Failure == DestinationFailure.SymlinkRefused)
        {
            throw new DestinationException(DestinationFailure.SymlinkRefused, ex.Path,
                $"The bot storage path '{full}' goes through the symbolic link '{ex.Path}'. The storage holds the bot's long-lived identity, so links are refused as for destinations; use the real path.", ex);
        }
        catch (DestinationException ex) when (ex.Failure == DestinationFailure.UnexpectedContent)
        {
            throw new DestinationException(DestinationFailure.UnexpectedContent, ex.Path, $"The bot storage path '{full}' is not a directory ('{ex.Path}' is something else).", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DestinationException(DestinationFailure.NotWritable, full, $"Cannot create the bot storage directory '{full}'. Check its parent's owner and permissions.", ex);
        }

        var directoryLock = ExclusiveDirectoryLock.Acquire(full);
        return new DirectoryBotIdentityStore(full, directoryLock);
    }

    public async Task<StoredBotState> LoadAsync(CancellationToken cancellationToken)
    {
        StoredBotIdentity? identity = null;
        TeleportException? error = null;
        try
        {
            // Over its size limit (InputLimits.StorageFileBytes) counts as unreadable, like bad JSON.
            var identityBytes = await ReadIfExistsAsync(_identityPath, cancellationToken).ConfigureAwait(false);
            identity = identityBytes is null ? null : DecodeIdentity(identityBytes);
        }
        catch (TeleportFormatException ex)
        {
            error = ex;
        }

        InFlightRenewal? inFlight = null;
        try
        {
            var inFlightBytes = await ReadIfExistsAsync(_inFlightPath, cancellationToken).ConfigureAwait(false);
            inFlight = inFlightBytes is null ? null : DecodeInFlight(inFlightBytes);
        }
        catch (TeleportFormatException)
        {
            // A record that cannot be read still says a renewal was in flight; treat it as one
            // from an unknown generation, which the engine handles conservatively.
            inFlight = new InFlightRenewal(-1, null, string.Empty, DateTimeOffset.MinValue);
        }

        return new StoredBotState(identity, inFlight, error);
    }

    public async Task SaveIdentityAsync(StoredBotIdentity identity, CancellationToken cancellationToken)
    {
        var bytes = EncodeIdentity(identity);
        if (FaultInjector is { } inject)
        {
            // A torn write: the temporary file holds half the content and the rename never happens.
            var torn = Path.Combine(DirectoryPath, "." + IdentityFileName + ".tmp-torn");
            await File.WriteAllBytesAsync(torn, bytes.AsMemory(0, bytes.Length / 2).ToArray(), cancellationToken).ConfigureAwait(false);
            inject(RenewalFaultPoint.MidWrite);
        }

        await WriteAsync(_identityPath, bytes, cancellationToken).ConfigureAwait(false);
    }

    public Task WriteInFlightAsync(InFlightRenewal record, CancellationToken cancellationToken) =>
        WriteAsync(_inFlightPath, EncodeInFlight(record), cancellationToken);

    public Task ClearInFlightAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (File.Exists(_inFlightPath))
            {
                File.Delete(_inFlightPath);
                if (!OperatingSystem.IsWindows())
                {
                    PosixNative.SyncDirectory(DirectoryPath);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DestinationException(DestinationFailure.IOError, _inFlightPath, $"Cannot remove '{_inFlightPath}'.", ex);
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _lock.Dispose();
        return ValueTask.CompletedTask;
    }

    internal static byte[] EncodeIdentity(StoredBotIdentity identity)
    {
        var buffer = new ArrayBufferWriter<byte>(8192);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", FormatVersion);
            writer.WriteString("saved_at", identity.SavedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("join_method", identity.Material.JoinMethod);
            if (identity.TokenHash is not null)
            {
                writer.WriteString("token_hash", identity.TokenHash);
            }

            writer.WriteString("private_key", identity.PrivateKeyPem);
            writer.WriteString("tls_cert", identity.Material.TlsCertificatePem);
            writer.WriteString("ssh_cert", identity.Material.SshCertificate);
            writer.WriteStartArray("tls_ca_certs");
            foreach (var pem in identity.Material.TlsCaCertificatesPem)
            {
                writer.WriteStringValue(pem);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("ssh_ca_keys");
            foreach (var line in identity.Material.SshCaKeys)
            {
                writer.WriteStringValue(line);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    internal static StoredBotIdentity DecodeIdentity(byte[] bytes)
    {
        const string what = "The stored bot identity (" + IdentityFileName + ")";
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new TeleportFormatException(what + " is not a JSON object.");
            }

            var version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : 0;
            if (version != FormatVersion)
            {
                throw new TeleportFormatException($"{what} has format version {version}; this library reads version {FormatVersion}.");
            }

            var material = new BotIdentityMaterial(
                RequiredString(root, "tls_cert", what),
                RequiredString(root, "ssh_cert", what),
                StringArray(root, "tls_ca_certs", what),
                StringArray(root, "ssh_ca_keys", what),
                RequiredString(root, "join_method", what));
            var tokenHash = root.TryGetProperty("token_hash", out var th) && th.ValueKind == JsonValueKind.String ? th.GetString() : null;
            var savedAt = DateTimeOffset.TryParse(RequiredString(root, "saved_at", what), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                ? at
                : throw new TeleportFormatException(what + " has an invalid saved_at time.");
            return new StoredBotIdentity(RequiredString(root, "private_key", what), material, tokenHash, savedAt);
        }
        catch (JsonException ex)
        {
            // JsonException messages quote positions, not content.
            throw new TeleportFormatException(what + " is not valid JSON (truncated or corrupted).", ex);
        }
    }

    internal static byte[] EncodeInFlight(InFlightRenewal record)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", FormatVersion);
            writer.WriteNumber("from_generation", record.FromGeneration);
            if (record.InstanceId is not null)
            {
                writer.WriteString("instance_id", record.InstanceId);
            }

            writer.WriteString("new_public_key", record.NewPublicKey);
            writer.WriteString("started_at", record.StartedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    internal static InFlightRenewal DecodeInFlight(byte[] bytes)
    {
        const string what = "The renewal record (" + InFlightFileName + ")";
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("from_generation", out var g) || g.ValueKind != JsonValueKind.Number || !g.TryGetInt32(out var generation))
            {
                throw new TeleportFormatException(what + " has no from_generation.");
            }

            var instance = root.TryGetProperty("instance_id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            var startedAt = DateTimeOffset.TryParse(RequiredString(root, "started_at", what), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                ? at
                : DateTimeOffset.MinValue;
            return new InFlightRenewal(generation, instance, RequiredString(root, "new_public_key", what), startedAt);
        }
        catch (JsonException ex)
        {
            throw new TeleportFormatException(what + " is not valid JSON.", ex);
        }
    }

    private static string RequiredString(JsonElement root, string name, string what) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new TeleportFormatException($"{what} has no '{name}' string.");

    private static string[] StringArray(JsonElement root, string name, string what)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Array)
        {
            throw new TeleportFormatException($"{what} has no '{name}' array.");
        }

        var result = new string[value.GetArrayLength()];
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            result[index++] = item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw new TeleportFormatException($"{what} has a non-string entry in '{name}'.");
        }

        return result;
    }

    private static async Task<byte[]?> ReadIfExistsAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await BoundedFile.ReadAllBytesAsync(path, InputLimits.StorageFileBytes, "bot storage file", cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DestinationException(DestinationFailure.IOError, path, $"Cannot read '{path}'.", ex);
        }
    }

    private static async Task WriteAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        try
        {
            await AtomicFile.WriteAsync(path, content, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DestinationException(DestinationFailure.NotWritable, path, $"Cannot write '{path}' durably. Check free space and permissions.", ex);
        }
    }
}
