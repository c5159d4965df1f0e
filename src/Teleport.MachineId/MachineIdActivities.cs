using System.Diagnostics;

namespace Teleport.MachineId;

/// <summary>
/// The spans every layer emits on the <see cref="MachineIdDiagnostics.ActivitySourceName"/> source
/// (listed in <see cref="MachineIdDiagnostics"/>); free when nothing listens.
/// </summary>
internal static class MachineIdActivities
{
    /// <summary>A file of the bot's storage written durably (tag <see cref="FileTag"/>: its name).</summary>
    public const string StorageWrite = "teleport.machineid.storage.write";

    /// <summary>A file of the bot's storage removed (tag <see cref="FileTag"/>).</summary>
    public const string StorageDelete = "teleport.machineid.storage.delete";

    /// <summary>
    /// A <c>GenerateUserCerts</c> call from the moment it can leave (route resolved, message built):
    /// a renewal's in-flight record is written inside it, immediately before the request is sent.
    /// </summary>
    public const string GenerateUserCerts = "teleport.machineid.wire.generate_user_certs";

    /// <summary>A new connection to a gRPC endpoint (TCP or tunnel, then TLS) before calls can use it.</summary>
    public const string Connect = "teleport.machineid.wire.connect";

    /// <summary>An identity output renewed: certificates issued, artifacts built and written.</summary>
    public const string OutputRenew = "teleport.machineid.output.renew";

    /// <summary>One artifact set written to a directory destination (new generation, <c>..data</c> swap).</summary>
    public const string DestinationWrite = "teleport.machineid.destination.write";

    /// <summary>The file name tag of storage spans.</summary>
    public const string FileTag = "teleport.machineid.file";

    /// <summary>The source (same name as the bot's join/renew spans).</summary>
    public static readonly ActivitySource Source = new(MachineIdDiagnostics.ActivitySourceName);

    /// <summary>Starts a span with a file tag, or returns null when nothing listens.</summary>
    public static Activity? StartFile(string name, string path) =>
        Source.HasListeners()
            ? Source.StartActivity(name, ActivityKind.Internal, parentContext: default, tags: [new(FileTag, Path.GetFileName(path))])
            : null;
}
