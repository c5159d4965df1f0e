using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>
/// A way to join the cluster (tbot's <c>join_method</c>). New methods (bound_keypair, OIDC-style,
/// IAM, …) implement this and register in <see cref="JoinMethodRegistry"/>.
/// </summary>
internal interface IBotJoinMethod
{
    /// <summary>The method's name in configuration (<c>token</c>, …).</summary>
    string Name { get; }

    /// <summary>
    /// Whether the join secret can be used only once (the <c>token</c> method): the engine then never
    /// presents a secret whose hash matches the one that produced the stored identity.
    /// </summary>
    bool SecretIsSingleUse { get; }

    /// <summary>Whether a secret is needed to join.</summary>
    bool RequiresSecret { get; }

    /// <summary>Joins and returns the new key with its certificates.</summary>
    Task<BotJoinResult> JoinAsync(BotJoinContext context, CancellationToken cancellationToken);
}

/// <summary>What a join method gets: the client, the secret (if any), the requested expiry, the identity being replaced.</summary>
internal sealed record BotJoinContext(
    IBotCredentialClient Client,
    string? Secret,
    TimeSpan CredentialTtl,
    BotIdentity? Current);

/// <summary>A join's key and certificates; the caller owns the key.</summary>
internal sealed record BotJoinResult(PrivateKey PrivateKey, IssuedBotCertificates Certificates);

/// <summary>The <c>token</c> join method: register with the token; the client generates the key for the cluster's suite.</summary>
internal sealed class TokenJoinMethod : IBotJoinMethod
{
    public string Name => MachineIdOptions.TokenJoinMethod;

    public bool SecretIsSingleUse => true;

    public bool RequiresSecret => true;

    public async Task<BotJoinResult> JoinAsync(BotJoinContext context, CancellationToken cancellationToken)
    {
        var token = context.Secret ?? throw new InvalidOperationException("The token join method needs a token.");
        return await context.Client.JoinWithTokenAsync(token, context.CredentialTtl, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The join methods a provider can use, by name (case-insensitive).</summary>
internal sealed class JoinMethodRegistry
{
    private readonly Dictionary<string, IBotJoinMethod> _methods = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The registry with every built-in method.</summary>
    public static JoinMethodRegistry Default { get; } = CreateDefault();

    public IEnumerable<string> Names => _methods.Keys.Order(StringComparer.Ordinal);

    public void Add(IBotJoinMethod method) => _methods[method.Name] = method;

    public bool TryGet(string name, [NotNullWhen(true)] out IBotJoinMethod? method) => _methods.TryGetValue(name.Trim(), out method);

    private static JoinMethodRegistry CreateDefault()
    {
        var registry = new JoinMethodRegistry();
        registry.Add(new TokenJoinMethod());
        return registry;
    }
}

/// <summary>Reads the join secret from the configured source each time it is needed.</summary>
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
