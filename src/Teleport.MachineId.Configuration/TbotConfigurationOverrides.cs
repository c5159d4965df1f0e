namespace Teleport.MachineId.Configuration;

/// <summary>
/// Values that replace the file's, applied as tbot's command line applies its flags and their
/// environment variables (<c>--proxy-server</c>/<c>TELEPORT_PROXY</c>,
/// <c>--auth-server</c>/<c>TELEPORT_AUTH_SERVER</c>, <c>--token</c>/<c>TELEPORT_BOT_TOKEN</c>).
/// </summary>
/// <remarks>
/// Null or empty values override nothing. As in tbot, <see cref="Token"/> replaces the whole
/// <c>onboarding</c> section: the result joins with <c>join_method: token</c> and this token, and the
/// file's <c>ca_pins</c>, <c>ca_path</c> and <c>join_method</c> are not used (a warning says so).
/// <see cref="ProxyServer"/> and <see cref="AuthServer"/> replace only their own key, so a file
/// <c>auth_server</c> plus <c>TELEPORT_PROXY</c> is rejected because both are then set.
/// </remarks>
public sealed record TbotConfigurationOverrides
{
    /// <summary>The tbot environment variable for <see cref="ProxyServer"/>.</summary>
    public const string ProxyServerVariable = "TELEPORT_PROXY";

    /// <summary>The tbot environment variable for <see cref="AuthServer"/>.</summary>
    public const string AuthServerVariable = "TELEPORT_AUTH_SERVER";

    /// <summary>The tbot environment variable for <see cref="Token"/>.</summary>
    public const string TokenVariable = "TELEPORT_BOT_TOKEN";

    /// <summary>Replaces <c>proxy_server</c>.</summary>
    public string? ProxyServer { get; init; }

    /// <summary>Replaces <c>auth_server</c>.</summary>
    public string? AuthServer { get; init; }

    /// <summary>Replaces the <c>onboarding</c> section with a token join using this token (inline, or an absolute path to a file).</summary>
    public string? Token { get; init; }

    /// <summary>
    /// Reads tbot's environment variables through <paramref name="getVariable"/> (pass
    /// <see cref="Environment.GetEnvironmentVariable(string)"/> in a program, a dictionary lookup in a test).
    /// </summary>
    /// <param name="getVariable">Returns a variable's value, or null when it is not set.</param>
    /// <returns>The overrides the environment asks for; empty values are ignored.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="getVariable"/> is null.</exception>
    public static TbotConfigurationOverrides FromEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        return new TbotConfigurationOverrides
        {
            ProxyServer = NullIfEmpty(getVariable(ProxyServerVariable)),
            AuthServer = NullIfEmpty(getVariable(AuthServerVariable)),
            Token = NullIfEmpty(getVariable(TokenVariable)),
        };
    }

    /// <summary>Describes the overrides without revealing the token.</summary>
    /// <returns>The overridden keys.</returns>
    public override string ToString() =>
        $"TbotConfigurationOverrides {{ ProxyServer = {ProxyServer}, AuthServer = {AuthServer}, Token = {(Token is null ? string.Empty : "(redacted)")} }}";

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
