namespace Teleport.MachineId.Configuration;

/// <summary>
/// The <c>onboarding.token</c> value: a join token written inline, or — tbot's rule — an absolute
/// path to a file that holds it.
/// </summary>
/// <remarks>
/// The file is read only when the token is needed (<see cref="ResolveAsync"/>), so it may be
/// deleted after the first successful join, as with tbot. The token itself never appears in
/// <see cref="ToString"/>, in exception messages or in equality output.
/// </remarks>
public sealed class TbotJoinToken
{
    private readonly string? inlineValue;

    private TbotJoinToken(string? inlineValue, string? filePath)
    {
        this.inlineValue = inlineValue;
        FilePath = filePath;
    }

    /// <summary>The absolute path of the file holding the token, or null for an inline token.</summary>
    public string? FilePath { get; }

    /// <summary>The inline token, for code in this assembly that hands it on (never logged).</summary>
    internal string? InlineValue => inlineValue;

    /// <summary><see langword="true"/> when the token is read from <see cref="FilePath"/>.</summary>
    public bool IsFile => FilePath is not null;

    /// <summary>
    /// Interprets a configured token as tbot does: an absolute path (<c>/…</c> on Unix, a
    /// fully qualified path on Windows) names a file holding the token; anything else is the token.
    /// </summary>
    /// <param name="valueOrPath">The value of <c>onboarding.token</c>, <c>--token</c> or <c>TELEPORT_BOT_TOKEN</c>.</param>
    /// <returns>The token.</returns>
    /// <exception cref="ArgumentException"><paramref name="valueOrPath"/> is null or empty.</exception>
    public static TbotJoinToken Parse(string valueOrPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(valueOrPath);
        return Path.IsPathFullyQualified(valueOrPath)
            ? new TbotJoinToken(null, valueOrPath)
            : new TbotJoinToken(valueOrPath, null);
    }

    /// <summary>
    /// Returns the token: the inline value, or the content of <see cref="FilePath"/> with
    /// surrounding white space removed.
    /// </summary>
    /// <param name="cancellationToken">Cancels reading the file.</param>
    /// <returns>The join token.</returns>
    /// <exception cref="TbotConfigurationException">The token file cannot be read, is larger than <see cref="InputLimits.JoinTokenFileBytes"/> or is empty.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<string> ResolveAsync(CancellationToken cancellationToken = default)
    {
        if (FilePath is null)
        {
            return inlineValue!;
        }

        string content;
        try
        {
            content = await BoundedFile.ReadAllTextAsync(FilePath, InputLimits.JoinTokenFileBytes, "join token file", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or TeleportFormatException)
        {
            throw new TbotConfigurationException([new TbotConfigurationIssue("onboarding.token", ex.Message)]);
        }

        var token = content.Trim();
        return token.Length > 0
            ? token
            : throw new TbotConfigurationException(
                [new TbotConfigurationIssue("onboarding.token", $"the token file {FilePath} is empty")]);
    }

    /// <summary>Describes the token without revealing it.</summary>
    /// <returns><c>token file &lt;path&gt;</c> or <c>inline token (redacted)</c>.</returns>
    public override string ToString() => FilePath is null ? "inline token (redacted)" : "token file " + FilePath;
}
