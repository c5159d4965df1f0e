using System.Collections.Immutable;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Teleport.MachineId.Destinations.Internal;

namespace Teleport.MachineId.Destinations;

/// <summary>
/// Writes artifact sets to a local directory (tbot's <c>directory</c> destination): files mode
/// 0600, directories 0700, symbolic-link attacks refused, optional POSIX ACL readers, and each set
/// replaced atomically as a whole.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> Each <see cref="WriteAsync"/> writes the complete set into a fresh hidden
/// generation directory <c>..gen-&lt;UTC time&gt;-&lt;random&gt;</c> (plus a <c>.manifest</c> listing
/// names and sizes), fsyncs it, then switches the symbolic link <c>..data</c> to it with one
/// <c>rename(2)</c> — the commit point. The visible names are links into <c>..data</c>
/// (<c>key → ..data/key</c>, …), so tools keep using <c>&lt;dir&gt;/key</c>; OpenSSH follows the links
/// and checks the 0600 mode of the target. This is the scheme of Kubernetes' AtomicWriter.</para>
/// <para><b>Consistency for readers.</b> <see cref="ReadAsync"/> resolves <c>..data</c> once and reads
/// every file of that generation, so it never mixes sets. Other programs get the same guarantee by
/// resolving <c>&lt;dir&gt;/..data</c> once (<c>readlink</c>) and reading <c>&lt;dir&gt;/&lt;target&gt;/key</c>,
/// <c>&lt;dir&gt;/&lt;target&gt;/key-cert.pub</c>, …; if a file is missing the generation was retired meanwhile,
/// so start again. Opening <c>&lt;dir&gt;/key</c> and <c>&lt;dir&gt;/key-cert.pub</c> separately can straddle a
/// renewal (as with any file layout). The previous generation is kept until the next write, so a
/// reader that resolved <c>..data</c> just before a swap can still finish.</para>
/// <para><b>Links.</b> Entries inside the directory are never written through: files are created with
/// <c>O_CREAT|O_EXCL</c> in the new generation and visible names are replaced by <c>rename(2)</c>, which
/// replaces a planted link instead of following it (logged). The destination's own links are
/// recognised by their exact targets (<c>..data/&lt;name&gt;</c>, and <c>..gen-…</c> for <c>..data</c>).
/// <see cref="SymlinkMode"/> governs the destination path itself. Names starting with a dot are
/// reserved for these entries.</para>
/// <para><b>ACLs.</b> With <see cref="DirectoryDestinationOptions.Readers"/> on Linux the reader ACL is
/// set on the directory (checked and corrected on every write) and on every generation directory
/// and file as it is created.</para>
/// <para><b>Thread safety.</b> Safe for concurrent use: writes, initialization and write checks are
/// serialized, and writers of the same directory in other instances or processes are serialized by
/// an <c>flock</c> on <c>..lock</c> in it (waiting up to 30 seconds); reads take no lock. File
/// operations run synchronously on the calling thread.</para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage(
    "Design",
    "CA1001:Types that own disposable fields should be disposable",
    Justification = "The SemaphoreSlim's wait handle is never created, so it holds no unmanaged resource; not disposable keeps the destination simple to share.")]
public sealed class DirectoryDestination : IDestinationWriter
{
    internal const string DataLinkName = "..data";
    internal const string DataLinkTempName = "..data.tmp";
    internal const string LinkTempName = "..link.tmp";
    internal const string GenerationPrefix = "..gen-";
    internal const string ManifestName = ".manifest";
    internal const string WriteTestName = ".write-test";
    internal const string WriteLockName = "..lock";
    internal const string ManifestHeader = "teleport-machineid-artifacts v1";

    private const int MaxReadAttempts = 8;
    private static readonly TimeSpan LockRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private readonly SymlinkMode _symlinks;
    private readonly AclMode _acls;
    private readonly ImmutableArray<AclReader> _readers;
    private readonly string _readersDescription;
    private readonly bool _simulateMissingOpenat2;
    private readonly bool _forcePortable;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private InitializedState? _state;
    private int _fallbackWarned;

    /// <summary>Creates a directory destination. Nothing is touched on disk until it is initialized or written.</summary>
    /// <param name="options">The options; copied.</param>
    /// <param name="logger">Receives the destination's log messages (event ids 3000–3099); none when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock used to name generations; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/> or lists a <see langword="null"/> reader.</exception>
    /// <exception cref="ArgumentException"><see cref="DirectoryDestinationOptions.Path"/> is empty or invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A mode is not a defined value.</exception>
    public DirectoryDestination(
        DirectoryDestinationOptions options,
        ILogger<DirectoryDestination>? logger = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            throw new ArgumentException("The destination path must not be empty.", nameof(options));
        }

        if (!Enum.IsDefined(options.Symlinks))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Symlinks, "Unknown symlinks mode.");
        }

        if (!Enum.IsDefined(options.Acls))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Acls, "Unknown acls mode.");
        }

        foreach (var reader in options.Readers)
        {
            ArgumentNullException.ThrowIfNull(reader, nameof(options));
        }

        var fullPath = System.IO.Path.GetFullPath(options.Path);
        Path = fullPath.Length > 1 ? System.IO.Path.TrimEndingDirectorySeparator(fullPath) : fullPath;
        _symlinks = options.Symlinks;
        _acls = options.Acls;
        _readers = [.. options.Readers.Distinct()];
        _readersDescription = _readers.IsEmpty ? "none" : string.Join(", ", _readers);
        _simulateMissingOpenat2 = options.SimulateMissingOpenat2;
        _forcePortable = options.ForcePortableFileSystem;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The absolute path of the destination directory.</summary>
    public string Path { get; }

    /// <inheritdoc />
    /// <value>Always <see langword="true"/>.</value>
    public bool IsPersistent => true;

    /// <inheritdoc />
    /// <value><c>directory &lt;absolute path&gt;</c>.</value>
    public string Description => "directory " + Path;

    /// <summary>Whether reader ACLs are being applied (known after initialization).</summary>
    internal bool AclsEnabled => Volatile.Read(ref _state)?.Acls is not null;

    private bool UseLinuxCode => LinuxNative.IsSupported && !_forcePortable;

    /// <inheritdoc />
    /// <remarks>
    /// Creates the directory and missing parents with mode 0700 (an existing directory keeps its
    /// mode, except that write access of its group and others is removed, with a warning; one that
    /// others may write to and that belongs to another user is refused), checks the path against
    /// the <see cref="SymlinkMode"/>, resolves reader names and applies the directory ACL. Runs once;
    /// later calls return at once. <see cref="WriteAsync"/> and <see cref="VerifyWritableAsync"/>
    /// initialize implicitly.
    /// </remarks>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureInitialized(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>Creates, writes and removes <c>.write-test</c> in the directory (replacing anything at that name).</remarks>
    public async Task VerifyWritableAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureInitialized(cancellationToken);
            using var directory = OpenDirectory(create: true, "open");
            using var writeLock = await AcquireWriteLockAsync(directory, "write the test file " + WriteTestName + " to", cancellationToken)
                .ConfigureAwait(false);
            try
            {
                directory.DeleteFile(WriteTestName);
                directory.WriteNewFile(WriteTestName, "."u8, acl: null);
                directory.DeleteFile(WriteTestName);
            }
            catch (Exception ex) when (IsFileSystemError(ex))
            {
                // A full disk fails the write after the file was created: leave nothing behind.
                try
                {
                    directory.DeleteFile(WriteTestName);
                }
                catch (Exception cleanup) when (IsFileSystemError(cleanup))
                {
                    // The original failure is the one to report.
                }

                throw Failure(ex, "write the test file " + WriteTestName + " to");
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Writes a new generation and switches <c>..data</c> to it (see the class remarks), then
    /// points the visible names at it, removes links of artifacts no longer in the set, and removes
    /// generations older than the previous one. Cancellation is honoured until the switch.
    /// </remarks>
    public async Task WriteAsync(DestinationArtifacts artifacts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var activity = MachineIdActivities.Source.StartActivity(MachineIdActivities.DestinationWrite);
            var state = EnsureInitialized(cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            using var directory = OpenDirectory(create: true, "open");
            using var writeLock = await AcquireWriteLockAsync(directory, "lock", cancellationToken).ConfigureAwait(false);
            WriteCore(directory, state, artifacts, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Returns <see langword="null"/> when the directory or its <c>..data</c> link does not exist (for
    /// example a directory written only by tbot, whose plain files are not read). Does not create
    /// anything and does not wait for a write in progress.
    /// </remarks>
    public Task<DestinationArtifacts?> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<DestinationArtifacts?>(cancellationToken);
        }

        try
        {
            return Task.FromResult(ReadCore(cancellationToken));
        }
        catch (Exception ex)
        {
            return Task.FromException<DestinationArtifacts?>(ex);
        }
    }

    /// <summary>Returns <see cref="Description"/>.</summary>
    /// <returns><c>directory &lt;absolute path&gt;</c>.</returns>
    public override string ToString() => Description;

    internal static bool IsGenerationName(string? name) =>
        name is not null
        && name.StartsWith(GenerationPrefix, StringComparison.Ordinal)
        && name.Length > GenerationPrefix.Length
        && name.Length <= 64
        && name.AsSpan(GenerationPrefix.Length).ContainsAnyExcept(GenerationNameChars) is false;

    private static readonly System.Buffers.SearchValues<char> GenerationNameChars =
        System.Buffers.SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-");

    private InitializedState EnsureInitialized(CancellationToken cancellationToken)
    {
        if (_state is { } existing)
        {
            return existing;
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var directory = OpenDirectory(create: true, "create or open");
        int permissions;
        try
        {
            permissions = directory.GetPermissions();
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            throw Failure(ex, "inspect");
        }

        if ((permissions & GroupOrOthersWrite) != 0)
        {
            RemoveGroupAndOthersWrite(directory, permissions);
        }

        var acls = SetUpAcls(directory);
        var state = new InitializedState(acls);
        var symlinks = SymlinksDescription();
        DestinationLog.Initialized(_logger, Description, symlinks, acls is not null || _readers.IsEmpty ? _readersDescription : "disabled");
        Volatile.Write(ref _state, state);
        return state;
    }

    private const int GroupOrOthersWrite = 0b000_010_010;

    // Another user who may write to the directory can swap the links for files of their own: the
    // owner takes write access away (readers keep what they had); a directory of someone else is refused.
    private void RemoveGroupAndOthersWrite(DirectoryHandle directory, int permissions)
    {
        var mode = Convert.ToString(permissions, 8).PadLeft(4, '0');
        try
        {
            var owner = directory.GetOwner();
            if (owner is { } uid && uid != PosixNative.GetEuid())
            {
                throw new DestinationException(DestinationFailure.NotWritable, Path,
                    $"The destination directory {Path} is writable by its group or by others (mode {mode}) and belongs to another user (uid {uid}), so its contents could be replaced; have its owner run chmod go-w on it, or use another directory.");
            }

            var restricted = permissions & ~GroupOrOthersWrite;
            directory.SetPermissions(restricted);
            DestinationLog.DirectoryPermissive(_logger, Path, mode, Convert.ToString(restricted, 8).PadLeft(4, '0'));
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            throw Failure(ex, "restrict the permissions of");
        }
    }

    private ReaderAcls? SetUpAcls(DirectoryHandle directory)
    {
        if (_readers.IsEmpty)
        {
            return null;
        }

        if (_acls == AclMode.Off)
        {
            DestinationLog.AclsIgnored(_logger, Description);
            return null;
        }

        try
        {
            if (!directory.SupportsAcls)
            {
                throw new PlatformNotSupportedException("POSIX ACLs are managed on Linux only");
            }

            var users = new List<uint>();
            var groups = new List<uint>();
            foreach (var reader in _readers)
            {
                var id = reader.Id ?? LinuxNative.LookupId(reader.Name!, reader.Kind == AclReaderKind.Group)
                    ?? throw new DestinationException(
                        DestinationFailure.InvalidConfiguration,
                        Path,
                        $"The ACL reader {reader} does not exist on this system. Fix the name or give a numeric id.");
                (reader.Kind == AclReaderKind.User ? users : groups).Add(id);
            }

            var acls = new ReaderAcls(
                PosixAcl.BuildReaderAcl(users, groups, directory: true),
                PosixAcl.BuildReaderAcl(users, groups, directory: false));
            ApplyDirectoryAcl(directory, acls.Directory, reportCorrection: false);
            return acls;
        }
        catch (Exception ex) when (IsFileSystemError(ex) || ex is DestinationException { Failure: DestinationFailure.InvalidConfiguration })
        {
            if (_acls == AclMode.Required)
            {
                if (ex is DestinationException)
                {
                    throw;
                }

                throw new DestinationException(
                    DestinationFailure.AclFailed,
                    Path,
                    $"acls: required is set for {Description}, but the reader ACLs could not be applied: {ex.Message} "
                    + "Use a file system with POSIX ACL support and a directory owned by this user, or set acls: try.",
                    ex);
            }

            DestinationLog.AclsUnavailable(_logger, _readersDescription, Description, ex.Message);
            return null;
        }
    }

    private void ApplyDirectoryAcl(DirectoryHandle directory, byte[] acl, bool reportCorrection)
    {
        var current = directory.GetAcl();
        if (PosixAcl.AreEquivalent(current, acl))
        {
            return;
        }

        directory.SetAcl(acl);
        if (reportCorrection || current.Length > 0)
        {
            DestinationLog.AclCorrected(_logger, directory.DisplayPath);
        }
    }

    private async Task<IDisposable> AcquireWriteLockAsync(DirectoryHandle directory, string action, CancellationToken cancellationToken)
    {
        // Serializes writers of this directory across instances and processes (readers never lock).
        var waited = TimeSpan.Zero;
        while (true)
        {
            IDisposable? held;
            try
            {
                held = directory.TryLock(WriteLockName);
            }
            catch (Exception ex) when (IsFileSystemError(ex))
            {
                throw Failure(ex, action);
            }

            if (held is not null)
            {
                return held;
            }

            if (waited >= LockTimeout)
            {
                throw new DestinationException(
                    DestinationFailure.Locked,
                    directory.PathOf(WriteLockName),
                    $"Another writer has held '{directory.PathOf(WriteLockName)}' for {LockTimeout.TotalSeconds:0} seconds: another tbot-dotnet "
                    + $"process or destination instance is writing to {Description}. Give each output its own directory.");
            }

            await Task.Delay(LockRetryDelay, _timeProvider, cancellationToken).ConfigureAwait(false);
            waited += LockRetryDelay;
        }
    }

    private void WriteCore(DirectoryHandle directory, InitializedState state, DestinationArtifacts artifacts, CancellationToken cancellationToken)
    {
        string? previous;
        try
        {
            if (state.Acls is { } acls)
            {
                ApplyDirectoryAcl(directory, acls.Directory, reportCorrection: true);
            }

            previous = CurrentGeneration(directory);
            foreach (var name in artifacts.Keys)
            {
                if (directory.GetEntryKind(name) == EntryKind.Directory)
                {
                    throw new DestinationException(
                        DestinationFailure.UnexpectedContent,
                        directory.PathOf(name),
                        $"'{directory.PathOf(name)}' is a directory, so the artifact '{name}' cannot be written there. Remove or rename it.");
                }
            }
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            throw Failure(ex, "prepare");
        }

        var generation = NewGenerationName();
        try
        {
            directory.CreateDirectory(generation);
            using (var generationDirectory = directory.OpenDirectory(generation))
            {
                if (state.Acls is { } acls)
                {
                    generationDirectory.SetAcl(acls.Directory);
                }

                foreach (var artifact in artifacts)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    generationDirectory.WriteNewFile(artifact.Key, artifact.Value.Span, state.Acls?.File);
                }

                generationDirectory.WriteNewFile(ManifestName, BuildManifest(artifacts), state.Acls?.File);
                generationDirectory.Flush();
            }

            cancellationToken.ThrowIfCancellationRequested();
            directory.DeleteFile(DataLinkTempName);
            directory.CreateSymlink(generation, DataLinkTempName);
            directory.Rename(DataLinkTempName, DataLinkName); // the commit point
        }
        catch (Exception ex) when (IsFileSystemError(ex) || ex is OperationCanceledException)
        {
            TryRemoveGeneration(directory, generation);
            TryDeleteFile(directory, DataLinkTempName);
            if (ex is OperationCanceledException)
            {
                throw;
            }

            throw Failure(ex, "write a new generation of artifacts to");
        }

        // Committed: ReadAsync and ..data readers see the new set. Finish without honouring cancellation.
        try
        {
            directory.Flush();
            LinkVisibleNames(directory, artifacts);
            directory.Flush();
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            throw Failure(ex, "link the new artifacts in");
        }

        RemoveOldEntries(directory, generation, previous);
        DestinationLog.ArtifactsWritten(_logger, artifacts.Count, artifacts.TotalLength, Description, generation);
    }

    private void LinkVisibleNames(DirectoryHandle directory, DestinationArtifacts artifacts)
    {
        foreach (var name in artifacts.Keys)
        {
            var expected = DataLinkName + "/" + name;
            switch (directory.GetEntryKind(name))
            {
                case EntryKind.Symlink:
                    var target = directory.ReadLink(name);
                    if (string.Equals(target, expected, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    DestinationLog.UnexpectedSymlinkReplaced(_logger, name, Description, target ?? "(unreadable)");
                    break;
                case EntryKind.File:
                    DestinationLog.PlainFileReplaced(_logger, name, Description);
                    break;
                case EntryKind.Directory:
                    throw new DestinationException(
                        DestinationFailure.UnexpectedContent,
                        directory.PathOf(name),
                        $"'{directory.PathOf(name)}' is a directory, so the artifact '{name}' cannot be linked there. Remove or rename it.");
            }

            // rename(2) replaces whatever is at the name (a planted link included) without following it.
            directory.DeleteFile(LinkTempName);
            directory.CreateSymlink(expected, LinkTempName);
            directory.Rename(LinkTempName, name);
        }

        foreach (var entry in directory.List())
        {
            if (entry.StartsWith('.') || artifacts.ContainsKey(entry) || directory.GetEntryKind(entry) != EntryKind.Symlink)
            {
                continue;
            }

            if (string.Equals(directory.ReadLink(entry), DataLinkName + "/" + entry, StringComparison.Ordinal))
            {
                directory.DeleteFile(entry);
                DestinationLog.StaleLinkRemoved(_logger, entry, Description);
            }
        }
    }

    private void RemoveOldEntries(DirectoryHandle directory, string current, string? previous)
    {
        IReadOnlyList<string> entries;
        try
        {
            entries = directory.List();
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            DestinationLog.CleanupFailed(_logger, ex, "old generations", Description);
            return;
        }

        foreach (var entry in entries)
        {
            if (entry is DataLinkTempName or LinkTempName)
            {
                TryDeleteFile(directory, entry);
            }
            else if (IsGenerationName(entry) && entry != current && entry != previous)
            {
                TryRemoveGeneration(directory, entry);
            }
        }
    }

    private void TryRemoveGeneration(DirectoryHandle directory, string generation)
    {
        try
        {
            var kind = directory.GetEntryKind(generation);
            if (kind == EntryKind.None)
            {
                return;
            }

            if (kind != EntryKind.Directory)
            {
                directory.DeleteFile(generation); // not ours, but in our reserved namespace
                return;
            }

            using (var generationDirectory = directory.OpenDirectory(generation))
            {
                foreach (var file in generationDirectory.List())
                {
                    generationDirectory.DeleteFile(file);
                }
            }

            directory.DeleteDirectory(generation);
            DestinationLog.GenerationRemoved(_logger, generation, Description);
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            DestinationLog.CleanupFailed(_logger, ex, generation, Description);
        }
    }

    private void TryDeleteFile(DirectoryHandle directory, string name)
    {
        try
        {
            directory.DeleteFile(name);
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            DestinationLog.CleanupFailed(_logger, ex, name, Description);
        }
    }

    private static string? CurrentGeneration(DirectoryHandle directory)
    {
        var target = directory.GetEntryKind(DataLinkName) == EntryKind.Symlink ? directory.ReadLink(DataLinkName) : null;
        return IsGenerationName(target) ? target : null;
    }

    private DestinationArtifacts? ReadCore(CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxReadAttempts; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            DirectoryHandle directory;
            try
            {
                directory = OpenDirectoryForRead();
            }
            catch (Exception ex) when (IsNotFound(ex))
            {
                return null;
            }
            catch (Exception ex) when (IsFileSystemError(ex))
            {
                throw Failure(ex, "open");
            }

            using (directory)
            {
                string? generation;
                try
                {
                    var kind = directory.GetEntryKind(DataLinkName);
                    if (kind == EntryKind.None)
                    {
                        return null;
                    }

                    if (kind != EntryKind.Symlink)
                    {
                        throw new DestinationException(
                            DestinationFailure.UnexpectedContent,
                            directory.PathOf(DataLinkName),
                            $"'{directory.PathOf(DataLinkName)}' is not a symbolic link; the directory was modified by something other than this destination.");
                    }

                    generation = directory.ReadLink(DataLinkName);
                }
                catch (Exception ex) when (IsFileSystemError(ex))
                {
                    throw Failure(ex, "read");
                }

                if (generation is null)
                {
                    continue; // replaced between the two calls
                }

                if (!IsGenerationName(generation))
                {
                    throw new DestinationException(
                        DestinationFailure.SymlinkRefused,
                        directory.PathOf(DataLinkName),
                        $"'{directory.PathOf(DataLinkName)}' points to '{generation}', which is not a generation of this destination; refusing to read through it.");
                }

                try
                {
                    var artifacts = ReadGeneration(directory, generation, cancellationToken);
                    if (artifacts is not null)
                    {
                        return artifacts;
                    }
                }
                catch (Exception ex) when (IsNotFound(ex))
                {
                    // The generation was retired by a writer while we read it; resolve ..data again.
                }
                catch (Exception ex) when (IsFileSystemError(ex))
                {
                    throw Failure(ex, "read");
                }

                DestinationLog.ReadRetried(_logger, generation, Description);
            }
        }

        throw new DestinationException(
            DestinationFailure.IOError,
            Path,
            $"Could not read a consistent set from {Description} after {MaxReadAttempts} attempts because it kept changing; "
            + "is more than one process writing to it?");
    }

    private static DestinationArtifacts? ReadGeneration(DirectoryHandle directory, string generation, CancellationToken cancellationToken)
    {
        using var generationDirectory = directory.OpenDirectory(generation);
        var manifest = generationDirectory.ReadFile(ManifestName, InputLimits.DestinationFileBytes);
        if (manifest is null)
        {
            return null;
        }

        var entries = ParseManifest(manifest, generationDirectory.PathOf(ManifestName));
        var contents = new List<KeyValuePair<string, byte[]>>(entries.Count);
        foreach (var (name, length) in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var content = generationDirectory.ReadFile(name, InputLimits.DestinationFileBytes);
            if (content is null)
            {
                return null;
            }

            if (content.Length != length)
            {
                throw new DestinationException(
                    DestinationFailure.UnexpectedContent,
                    generationDirectory.PathOf(name),
                    $"'{generationDirectory.PathOf(name)}' has {content.Length} bytes but its generation's manifest says {length}; it was modified after it was written.");
            }

            contents.Add(KeyValuePair.Create(name, content));
        }

        return DestinationArtifacts.CreateOwned(contents);
    }

    private static byte[] BuildManifest(DestinationArtifacts artifacts)
    {
        var builder = new StringBuilder(ManifestHeader).Append('\n');
        foreach (var artifact in artifacts)
        {
            builder.Append(artifact.Key).Append('\t').Append(artifact.Value.Length.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    private static List<(string Name, int Length)> ParseManifest(byte[] manifest, string path)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(manifest);
        }
        catch (DecoderFallbackException ex)
        {
            throw Corrupt(path, ex);
        }

        var lines = text.Split('\n');
        if (lines.Length < 2 || lines[0] != ManifestHeader || lines[^1].Length != 0)
        {
            throw Corrupt(path, null);
        }

        var entries = new List<(string, int)>(lines.Length - 2);
        foreach (var line in lines.AsSpan(1, lines.Length - 2))
        {
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab <= 0
                || !DestinationArtifacts.IsValidName(line[..tab])
                || !int.TryParse(line.AsSpan(tab + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            {
                throw Corrupt(path, null);
            }

            entries.Add((line[..tab], length));
        }

        return entries;

        static DestinationException Corrupt(string path, Exception? inner) => new(
            DestinationFailure.UnexpectedContent,
            path,
            $"The manifest '{path}' is not valid; the destination was modified by something other than this destination.",
            inner);
    }

    private string NewGenerationName() =>
        GenerationPrefix
        + _timeProvider.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'.'fffffff'Z'", CultureInfo.InvariantCulture)
        + "-"
        + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary>
    /// Binds and listens on a Unix stream socket <paramref name="name"/> in the directory (the
    /// ssh-multiplexer's <c>v1.sock</c> and <c>agent.sock</c>), creating the directory when needed. A socket
    /// left by an earlier run is replaced; one that still accepts connections is another process's.
    /// </summary>
    /// <exception cref="DestinationException">Another process serves the socket, something else is at the name, or the bind failed.</exception>
    internal Socket ListenUnixSocket(string name, int backlog)
    {
        _gate.Wait();
        try
        {
            using var directory = OpenDirectory(create: true, "open");
            var path = directory.PathOf(name);
            var socketPath = directory.SocketPathOf(name);
            try
            {
                switch (directory.GetEntryKind(name))
                {
                    case EntryKind.None:
                        break;
                    case EntryKind.Other when !IsServed(socketPath):
                        directory.DeleteFile(name);
                        break;
                    case EntryKind.Other:
                        throw new DestinationException(DestinationFailure.Locked, Path,
                            $"'{path}' is served by another process (another ssh-multiplexer on {Description}?). Stop it or choose another directory.");
                    default:
                        throw new DestinationException(DestinationFailure.UnexpectedContent, Path,
                            $"'{path}' exists and is not a socket, so the socket cannot be created there. Remove or rename it.");
                }

                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    socket.Bind(new UnixDomainSocketEndPoint(socketPath));
                    socket.Listen(backlog);
                    return socket;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }
            catch (SocketException ex)
            {
                throw new DestinationException(DestinationFailure.IOError, Path, $"Could not listen on '{path}': {ex.Message}", ex);
            }
            catch (Exception ex) when (IsFileSystemError(ex))
            {
                throw Failure(ex, "create the socket " + name + " in");
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Removes the socket <paramref name="name"/> if it is (still) a socket; errors are ignored.</summary>
    internal void TryRemoveUnixSocket(string name)
    {
        _gate.Wait();
        try
        {
            using var directory = OpenHandle(create: false);
            if (directory.GetEntryKind(name) == EntryKind.Other)
            {
                directory.DeleteFile(name);
            }
        }
        catch (Exception ex) when (IsFileSystemError(ex) || ex is DestinationException)
        {
            DestinationLog.CleanupFailed(_logger, ex, "socket " + name, Description);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static bool IsServed(string socketPath)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private DirectoryHandle OpenDirectoryForRead() => OpenHandle(create: false);

    private DirectoryHandle OpenDirectory(bool create, string action)
    {
        try
        {
            return OpenHandle(create);
        }
        catch (Exception ex) when (IsFileSystemError(ex))
        {
            throw Failure(ex, action);
        }
    }

    private DirectoryHandle OpenHandle(bool create)
    {
        var resolution = ChooseResolution();
        Action<string> onCreated = path => DestinationLog.DirectoryCreated(_logger, path);
        return UseLinuxCode
            ? LinuxDirectoryHandle.OpenPath(Path, resolution, create, onCreated)
            : PortableDirectoryHandle.OpenPath(Path, resolution != PathResolution.Follow, create, onCreated);
    }

    private PathResolution ChooseResolution()
    {
        if (_symlinks == SymlinkMode.Insecure)
        {
            return PathResolution.Follow;
        }

        if (UseLinuxCode && !_simulateMissingOpenat2 && LinuxNative.IsOpenat2Available)
        {
            return PathResolution.Openat2NoSymlinks;
        }

        if (_symlinks == SymlinkMode.Secure)
        {
            throw new DestinationException(
                DestinationFailure.InvalidConfiguration,
                Path,
                $"symlinks: secure is set for {Description}, but this system does not provide openat2(RESOLVE_NO_SYMLINKS) "
                + "(it needs Linux 5.6 or later and no seccomp filter blocking it). Use symlinks: try-secure.");
        }

        if (Interlocked.Exchange(ref _fallbackWarned, 1) == 0)
        {
            DestinationLog.SecureSymlinksFallback(
                _logger,
                Description,
                UseLinuxCode
                    ? "per-component O_NOFOLLOW opens (links are still refused)"
                    : "lstat checks of each path component (links are refused, but a concurrent swap cannot be excluded)");
        }

        return PathResolution.NoFollow;
    }

    private string SymlinksDescription() => _symlinks switch
    {
        SymlinkMode.Insecure => "insecure",
        SymlinkMode.Secure => "secure (openat2)",
        _ => ChooseResolution() == PathResolution.Openat2NoSymlinks ? "try-secure (openat2)" : "try-secure (fallback)",
    };

    private static bool IsFileSystemError(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException;

    private static bool IsNotFound(Exception ex) =>
        ex is FileNotFoundException or DirectoryNotFoundException
        || (ex is IOException io && io.HResult == PosixNative.ENOENT);

    private DestinationException Failure(Exception ex, string action)
    {
        if (ex is DestinationException destinationException)
        {
            return destinationException;
        }

        var errno = ex is IOException ? ex.HResult : 0;
        var failure = ex switch
        {
            UnauthorizedAccessException => DestinationFailure.NotWritable,
            IOException when errno is PosixNative.EACCES or PosixNative.EPERM or PosixNative.EROFS or PosixNative.ENOSPC or LinuxNative.EDQUOT
                => DestinationFailure.NotWritable,
            IOException when errno == LinuxNative.ELOOP => DestinationFailure.SymlinkRefused,
            IOException when errno is LinuxNative.EISDIR or LinuxNative.ENOTDIR or PosixNative.EEXIST or LinuxNative.ENOTEMPTY
                => DestinationFailure.UnexpectedContent,
            _ => DestinationFailure.IOError,
        };
        var advice = failure switch
        {
            DestinationFailure.NotWritable =>
                $" Make sure the directory is owned by or writable for this user{CurrentUserSuffix()}, is not on a read-only file system "
                + "or marked immutable (lsattr), and that the disk has space.",
            DestinationFailure.UnexpectedContent => " Remove the unexpected entry or choose another directory.",
            _ => string.Empty,
        };
        return new DestinationException(failure, Path, $"Could not {action} {Description}: {ex.Message}{advice}", ex);
    }

    private static string CurrentUserSuffix() =>
        OperatingSystem.IsWindows() ? string.Empty : $" (uid {PosixNative.GetEuid().ToString(CultureInfo.InvariantCulture)})";

    private sealed record ReaderAcls(byte[] Directory, byte[] File);

    private sealed record InitializedState(ReaderAcls? Acls);
}
