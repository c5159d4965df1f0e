using System.Security.Cryptography;
using System.Text;

namespace Teleport.MachineId.Identity.Joining;

/// <summary>Reads the join token from the configured source each time it is needed.</summary>
internal sealed class JoinSecretSource
{
    private readonly string? _value;
    private readonly string? _file;
    private readonly string? _environmentVariable;

    public JoinSecretSource(MachineIdOptions options)
    {
        _value = options.Token?.Trim();
        _file = options.TokenFile;
        _environmentVariable = options.TokenEnvironmentVariable;
    }

    public bool IsConfigured => _value is not null || _file is not null || _environmentVariable is not null;

    /// <summary>Describes the source (never the secret).</summary>
    public string Description =>
        _value is not null ? "the Token option"
        : _file is not null ? "the token file " + _file
        : _environmentVariable is not null ? "the environment variable " + _environmentVariable
        : "no token source";

    /// <summary>The secret, or <see langword="null"/> when none is configured or the source is empty.</summary>
    /// <exception cref="TeleportException">The token file cannot be read.</exception>
    public async Task<string?> ResolveAsync(CancellationToken cancellationToken)
    {
        if (_value is not null)
        {
            return _value;
        }

        if (_environmentVariable is not null)
        {
            var fromEnvironment = Environment.GetEnvironmentVariable(_environmentVariable)?.Trim();
            return string.IsNullOrEmpty(fromEnvironment) ? null : fromEnvironment;
        }

        if (_file is null)
        {
            return null;
        }

        try
        {
            var content = await BoundedFile.ReadAllTextAsync(_file, InputLimits.JoinTokenFileBytes, "join token file", cancellationToken).ConfigureAwait(false);
            var token = content.Trim();
            return token.Length == 0 ? null : token;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The message names the path only, never content (a file over the size limit is a
            // TeleportFormatException from the reader, with the same guarantee).
            throw new TeleportException(ex.Message, ex);
        }
    }

    /// <summary>tbot's token hash: lowercase hex SHA-256 of the token's UTF-8 bytes.</summary>
    public static string Hash(string secret)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(secret), hash);
        return Convert.ToHexStringLower(hash);
    }
}
