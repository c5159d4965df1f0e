using Teleport.MachineId.Destinations;
using Teleport.MachineId.Destinations.Internal;
using Teleport.MachineId.Identity.Joining;

namespace Teleport.MachineId.Identity.Storage;

/// <summary>
/// Directory storage: <c>bot-identity.json</c> (key, certificates, CAs, token hash, join method
/// state) and <c>renewal-inflight.json</c>, each replaced atomically and durably
/// (<see cref="AtomicFile"/>), plus the join method's own entries (<c>&lt;dir&gt;/&lt;name&gt;</c>),
/// mode 0600 in a 0700 directory, under the exclusive <c>lock</c> tbot also takes.
/// </summary>
/// <remarks>
/// The identity and its join method state are one file so a crash can never leave a key next to
/// certificates of another renewal, or a join state of another join.
/// </remarks>
internal sealed class DirectoryBotIdentityStore : IBotIdentityStore
{
    public const string IdentityFileName = "bot-identity.json";
    public const string InFlightFileName = "renewal-inflight.json";
    private const string ProbeFileName = ".write-probe";

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

    /// <summary>Creates the directory (0700) if needed, refusing a path through a symbolic link, and takes its lock.</summary>
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
            // Over its size limit counts as unreadable, like bad JSON.
            var identityBytes = await ReadIfExistsAsync(_identityPath, InputLimits.StorageFileBytes, cancellationToken).ConfigureAwait(false);
            identity = identityBytes is null ? null : BotIdentityStoreFormat.DecodeIdentity(identityBytes);
        }
        catch (TeleportFormatException ex)
        {
            error = ex;
        }

        InFlightRenewal? inFlight = null;
        try
        {
            var inFlightBytes = await ReadIfExistsAsync(_inFlightPath, InputLimits.StorageFileBytes, cancellationToken).ConfigureAwait(false);
            inFlight = inFlightBytes is null ? null : BotIdentityStoreFormat.DecodeInFlight(inFlightBytes);
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
        var bytes = BotIdentityStoreFormat.EncodeIdentity(identity);
        if (FaultInjector is { } inject)
        {
            // A torn write: the temporary file holds half the content and the rename never happens.
            var torn = Path.Combine(DirectoryPath, "." + IdentityFileName + ".tmp-torn");
            await File.WriteAllBytesAsync(torn, bytes.AsMemory(0, bytes.Length / 2).ToArray(), cancellationToken).ConfigureAwait(false);
            inject(RenewalFaultPoint.MidWrite);
        }

        await WriteFileAsync(_identityPath, bytes, cancellationToken).ConfigureAwait(false);
    }

    public Task WriteInFlightAsync(InFlightRenewal record, CancellationToken cancellationToken) =>
        WriteFileAsync(_inFlightPath, BotIdentityStoreFormat.EncodeInFlight(record), cancellationToken);

    public Task ClearInFlightAsync(CancellationToken cancellationToken) => DeleteFileAsync(_inFlightPath);

    public async Task VerifyWritableAsync(CancellationToken cancellationToken)
    {
        // The files a commit replaces must be regular files (or absent): rename(2) cannot replace a directory.
        foreach (var path in new[] { _identityPath, _inFlightPath })
        {
            var attributes = File.Exists(path) || Directory.Exists(path) ? File.GetAttributes(path) : (FileAttributes?)null;
            if (attributes is { } found && (found.HasFlag(FileAttributes.Directory) || found.HasFlag(FileAttributes.ReparsePoint)))
            {
                throw new DestinationException(
                    DestinationFailure.UnexpectedContent, path, $"'{path}' in the bot storage is not a regular file, so the bot identity cannot be stored there. Remove it.");
            }
        }

        var probe = Path.Combine(DirectoryPath, ProbeFileName);
        await WriteFileAsync(probe, "probe"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await DeleteFileAsync(probe).ConfigureAwait(false);
    }

    public async Task<byte[]?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        JoinMethodState.ValidateName(name);
        var path = Path.Combine(DirectoryPath, name);
        return await ReadIfExistsAsync(path, JoinMethodState.MaxEntrySize, cancellationToken).ConfigureAwait(false);
    }

    public Task WriteAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        BotIdentityStoreFormat.ValidateEntry(name, content.Length);
        return WriteFileAsync(Path.Combine(DirectoryPath, name), content, cancellationToken);
    }

    public Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        JoinMethodState.ValidateName(name);
        return DeleteFileAsync(Path.Combine(DirectoryPath, name));
    }

    public ValueTask DisposeAsync()
    {
        _lock.Dispose();
        return ValueTask.CompletedTask;
    }

    private Task DeleteFileAsync(string path)
    {
        using var activity = MachineIdActivities.StartFile(MachineIdActivities.StorageDelete, path);
        try
        {
            if (File.Exists(path))
            {
                File.Delete(path);
                if (!OperatingSystem.IsWindows())
                {
                    PosixNative.SyncDirectory(DirectoryPath);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DestinationException(DestinationFailure.IOError, path, $"Cannot remove '{path}'.", ex);
        }

        return Task.CompletedTask;
    }

    /// <exception cref="TeleportFormatException">The file is larger than <paramref name="limit"/>.</exception>
    private static async Task<byte[]?> ReadIfExistsAsync(string path, int limit, CancellationToken cancellationToken)
    {
        try
        {
            return await BoundedFile.ReadAllBytesAsync(path, limit, "bot storage file", cancellationToken).ConfigureAwait(false);
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

    private static async Task WriteFileAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        using var activity = MachineIdActivities.StartFile(MachineIdActivities.StorageWrite, path);
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
