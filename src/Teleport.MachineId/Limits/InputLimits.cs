namespace Teleport.MachineId;

/// <summary>
/// The largest input Teleport.MachineId and <c>tbot-dotnet</c> accept from each source: files,
/// HTTP bodies and headers, gRPC messages. Every limit is enforced before the input is buffered
/// (a file is read to at most its limit plus one byte; a declared length is checked first), so a
/// wrong path such as <c>/dev/zero</c>, a FIFO or a hostile server cannot exhaust memory or hang
/// a read. The table in <c>docs/limits.md</c> lists the same values.
/// </summary>
/// <remarks>
/// Each limit is far above anything Teleport produces (a join token is 32 characters, a tbot
/// configuration a few KiB, an identity file about 10 KiB) and far below what would hurt a
/// process. Exceeding one is a <see cref="TeleportFormatException"/> naming the input and the
/// limit (configuration files: its subtype for configuration problems); from a server it is a
/// protocol error, never a reason to retry.
/// </remarks>
public static class InputLimits
{
    /// <summary>A join token file (<c>--token /path</c>, <c>onboarding.token</c>, <c>MachineIdOptions.TokenFile</c>): 64 KiB (token secrets and ID tokens are well under 16 KiB).</summary>
    public const int JoinTokenFileBytes = 64 * 1024;

    /// <summary>A configuration file: tbot's YAML, the emulator's YAML and its resource files: 1 MiB.</summary>
    public const int ConfigurationFileBytes = 1024 * 1024;

    /// <summary>An identity file (<c>tsh -i</c>, <c>tbot-dotnet ssh -i</c>): 1 MiB.</summary>
    public const int IdentityFileBytes = 1024 * 1024;

    /// <summary>
    /// A PEM or key file given by path: CA bundles (<c>--ca-bundle</c>, <c>--ca-path</c>), keys and
    /// certificates: 4 MiB (the operating system's whole CA bundle is about 200 KiB).
    /// </summary>
    public const int PemFileBytes = 4 * 1024 * 1024;

    /// <summary>A file of the bot's own storage (<c>bot-identity.json</c>, <c>renewal-inflight.json</c>): 1 MiB.</summary>
    public const int StorageFileBytes = 1024 * 1024;

    /// <summary>One entry of a join method's own state in the bot's storage (bound keypair keys, join state): 64 KiB.</summary>
    public const int JoinMethodStateEntryBytes = 64 * 1024;

    /// <summary>A file of a destination read back (the output's key, certificates, CA files, manifest): 4 MiB.</summary>
    public const int DestinationFileBytes = 4 * 1024 * 1024;

    /// <summary>A response body of the proxy's web API (<c>/webapi/find</c>, <c>/webapi/ping</c>, legacy joins): 4 MiB.</summary>
    public const int WebApiResponseBytes = 4 * 1024 * 1024;

    /// <summary>The response headers of one HTTP response (web API and gRPC): 64 KiB.</summary>
    public const int HttpResponseHeadersBytes = 64 * 1024;

    /// <summary>One gRPC message received from Auth or the proxy (certificate authorities, certificates): 16 MiB.</summary>
    public const int GrpcMessageBytes = 16 * 1024 * 1024;

    /// <summary>
    /// One frame of a <c>TransportService.ProxySSH</c> stream: 4 MiB (gRPC's default receive limit,
    /// which every Teleport client applies; the proxy sends SSH data in frames of tens of KiB).
    /// </summary>
    public const int ProxySshFrameBytes = 4 * 1024 * 1024;

    /// <summary>
    /// How long a read from something that is not a regular file (a FIFO, a terminal, a socket) may
    /// take before it is abandoned as a mistake: 10 seconds. Regular files are never timed.
    /// </summary>
    public static TimeSpan NonRegularFileReadTimeout { get; } = TimeSpan.FromSeconds(10);

    /// <summary>A size as the limits are written: <c>64 KiB</c>, <c>4 MiB</c>, or bytes.</summary>
    /// <param name="bytes">The size.</param>
    /// <returns>The size in the largest whole binary unit.</returns>
    public static string Describe(long bytes) =>
        bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB"
        : bytes >= 1024 && bytes % 1024 == 0 ? $"{bytes / 1024} KiB"
        : $"{bytes} bytes";
}
