namespace Teleport.MachineId.Configuration;

/// <summary>
/// Reads tbot's own v2 YAML configuration (<c>tbot.yaml</c>) for the subset Teleport.MachineId
/// supports, and reports every problem with its YAML path.
/// </summary>
/// <remarks>
/// <para>
/// Supported: <c>proxy_server</c> or <c>auth_server</c>, <c>credential_ttl</c> (and the deprecated
/// <c>certificate_ttl</c>), <c>renewal_interval</c>, <c>oneshot</c>, <c>insecure</c>, <c>debug</c>,
/// <c>diag_addr</c>, <c>onboarding</c> with <c>join_method: token</c>, <c>storage</c>, and
/// <c>services</c>/<c>outputs</c> of <c>type: identity</c> with <c>directory</c> or <c>memory</c>
/// destinations. Other join methods, service types, <c>kubernetes_secret</c> destinations and
/// <c>fips: true</c> are rejected by name; unknown keys are rejected with the closest known key.
/// </para>
/// <para>
/// Scalars are read as gopkg.in/yaml.v3 reads them for tbot: string fields take any scalar as
/// written (<c>ssh_config: off</c> is the string <c>off</c>), boolean fields take
/// <c>true</c>/<c>false</c> and the YAML 1.1 words (<c>yes</c>, <c>on</c>, …), <c>null</c>/<c>~</c>
/// leave a field unset, and durations use Go's syntax (<see cref="GoDuration"/>).
/// </para>
/// <para>
/// Overrides from the environment or the command line are an explicit input
/// (<see cref="TbotConfigurationOverrides"/>); the reader never reads the process environment.
/// </para>
/// </remarks>
public static class TbotConfigurationReader
{
    /// <summary>The largest configuration accepted, <see cref="InputLimits.ConfigurationFileBytes"/> (1 MiB; tbot files are a few KiB).</summary>
    public const int MaxLength = InputLimits.ConfigurationFileBytes;

    /// <summary>Reads a configuration from YAML text.</summary>
    /// <param name="yaml">The YAML document.</param>
    /// <param name="overrides">Flag/environment values that replace the file's, applied before validation; null for none.</param>
    /// <param name="sourceName">Where the text came from (a file name), for the exception message; null when not from a file.</param>
    /// <returns>The validated configuration and the warnings found.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="yaml"/> is null.</exception>
    /// <exception cref="TbotConfigurationException">
    /// The text is not valid YAML, not a tbot v2 configuration, or uses unsupported or invalid
    /// settings; <see cref="TbotConfigurationException.Errors"/> lists every problem found.
    /// </exception>
    public static TbotConfigurationResult Read(string yaml, TbotConfigurationOverrides? overrides = null, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        return TbotConfigurationParser.ParseConfiguration(yaml, overrides, sourceName);
    }

    /// <summary>Reads a configuration file (UTF-8).</summary>
    /// <param name="path">The file, e.g. <c>/etc/tbot.yaml</c>.</param>
    /// <param name="overrides">Flag/environment values that replace the file's, applied before validation; null for none.</param>
    /// <returns>The validated configuration and the warnings found.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="IOException">The file cannot be read (<see cref="FileNotFoundException"/> when it does not exist).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="TbotConfigurationException">
    /// The file is larger than <see cref="MaxLength"/>, not valid YAML, not a tbot v2 configuration,
    /// or uses unsupported or invalid settings; <see cref="TbotConfigurationException.Errors"/> lists every problem found.
    /// </exception>
    public static TbotConfigurationResult ReadFile(string path, TbotConfigurationOverrides? overrides = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = BoundedFile.ReadAllText(path, MaxLength, "tbot configuration file");
        }
        catch (TeleportFormatException ex)
        {
            throw new TbotConfigurationException([new TbotConfigurationIssue(string.Empty, ex.Message)], path);
        }

        return Read(text, overrides, path);
    }
}
