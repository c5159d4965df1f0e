using System.Globalization;
using System.Net;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Testing.Cluster;

namespace Teleport.MachineId.Testing.Server;

/// <summary>Validated, immutable options of one emulator instance.</summary>
internal sealed class EmulatorSettings
{
    public required string ClusterName { get; init; }

    public required SignatureAlgorithmSuite Suite { get; init; }

    public required string ServerVersion { get; init; }

    /// <summary><c>&lt;major-1&gt;.0.0-aa</c>: the oldest client version Auth accepts.</summary>
    public required SemanticVersion MinClientVersion { get; init; }

    public required EmulatorJoinApis JoinApis { get; init; }

    public required bool TlsRoutingEnabled { get; init; }

    public required string PublicHostName { get; init; }

    public required IPAddress ListenAddress { get; init; }

    public int ProxyPort { get; init; }

    public int SshProxyPort { get; init; }

    public int AuthPort { get; init; }

    /// <summary>The advertised proxy address, or null for the public host name and the proxy port.</summary>
    public string? PublicProxyAddress { get; init; }

    public TimeSpan ConnectionUpgradePingInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Names the proxy and Auth certificates cover besides the Teleport API domain.</summary>
    public IReadOnlyList<string> ServerNames => new[] { PublicHostName, "localhost", "127.0.0.1", "::1" }.Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public static EmulatorSettings From(TeleportEmulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ClusterName) || options.ClusterName.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new ArgumentException("The cluster name must be non-empty and contain no whitespace.", nameof(options));
        }

        if (!options.SignatureAlgorithmSuite.IsKnown)
        {
            throw new ArgumentException($"Unknown signature algorithm suite '{options.SignatureAlgorithmSuite}'.", nameof(options));
        }

        if (!SemanticVersion.TryParse(options.ServerVersion, out var version))
        {
            throw new ArgumentException($"The server version '{options.ServerVersion}' is not a semantic version such as 18.0.0.", nameof(options));
        }

        if (string.IsNullOrWhiteSpace(options.PublicHostName) || options.PublicHostName.Contains(':', StringComparison.Ordinal) && !IPAddress.TryParse(options.PublicHostName, out _))
        {
            throw new ArgumentException("The public host name must be a host name or IP address without a port.", nameof(options));
        }

        if (options.PublicProxyAddress is { } publicAddress && !IsHostPort(publicAddress))
        {
            throw new ArgumentException($"The public proxy address '{publicAddress}' is not host:port.", nameof(options));
        }

        if (options.ConnectionUpgradePingInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("The connection-upgrade ping interval must be positive.", nameof(options));
        }

        foreach (var port in new[] { options.ProxyPort, options.SshProxyPort, options.AuthPort })
        {
            if (port is < 0 or > 65535)
            {
                throw new ArgumentException("Ports must be between 0 (pick a free one) and 65535.", nameof(options));
            }
        }

        if (!SemanticVersion.TryParse(string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, version.Major - 1)}.0.0-aa"), out var minimum))
        {
            throw new ArgumentException("The server version's major number is out of range.", nameof(options));
        }

        var defaultJoinApis = version.Major > 18 || (version.Major == 18 && version.Minor >= 2)
            ? EmulatorJoinApis.LegacyAndUnified
            : EmulatorJoinApis.Legacy;
        return new EmulatorSettings
        {
            ClusterName = options.ClusterName,
            Suite = options.SignatureAlgorithmSuite,
            ServerVersion = options.ServerVersion,
            MinClientVersion = minimum,
            JoinApis = options.JoinApis ?? defaultJoinApis,
            TlsRoutingEnabled = options.TlsRoutingEnabled,
            PublicHostName = options.PublicHostName,
            ListenAddress = options.ListenAddress ?? IPAddress.Loopback,
            ProxyPort = options.ProxyPort,
            SshProxyPort = options.SshProxyPort,
            AuthPort = options.AuthPort,
            PublicProxyAddress = options.PublicProxyAddress,
            ConnectionUpgradePingInterval = options.ConnectionUpgradePingInterval,
        };
    }

    private static bool IsHostPort(string address)
    {
        var colon = address.LastIndexOf(':');
        return colon > 0 && !address[..colon].Any(char.IsWhiteSpace)
            && int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535;
    }
}
