using System.Diagnostics.CodeAnalysis;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// A Teleport signature-algorithm suite (cluster auth preference <c>signature_algorithm_suite</c>):
/// decides which key algorithm each <see cref="KeyPurpose"/> gets. An extensible enumeration:
/// the four suites Teleport 18 knows are predefined, and a name sent by a newer cluster still
/// parses (see <see cref="IsKnown"/>).
/// </summary>
/// <remarks>
/// The text form is Teleport's JSON/YAML form (<c>legacy</c>, <c>balanced-v1</c>, <c>fips-v1</c>,
/// <c>hsm-v1</c>). An unspecified suite (empty text, proto value 0, or <see langword="default"/>)
/// means <see cref="Legacy"/>, as in Teleport.
/// </remarks>
public readonly struct SignatureAlgorithmSuite : IEquatable<SignatureAlgorithmSuite>
{
    private const string LegacyName = "legacy";
    private const string BalancedV1Name = "balanced-v1";
    private const string FipsV1Name = "fips-v1";
    private const string HsmV1Name = "hsm-v1";
    private const string ProtoPrefix = "SIGNATURE_ALGORITHM_SUITE_";

    private readonly string? _name;

    /// <summary>Creates a suite from its text form; use <see cref="Parse"/> for input from outside.</summary>
    /// <param name="name">Lower-case suite name such as <c>balanced-v1</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid suite name.</exception>
    public SignatureAlgorithmSuite(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!TryNormalize(name, out var normalized))
        {
            throw new ArgumentException("A signature algorithm suite name is lower-case letters, digits and '-'.", nameof(name));
        }

        _name = normalized;
    }

    /// <summary>The original suite: RSA 2048 for everything.</summary>
    public static SignatureAlgorithmSuite Legacy => new(LegacyName);

    /// <summary>ECDSA P-256 for clients and TLS CAs, Ed25519 for SSH CAs, RSA 2048 where compatibility needs it.</summary>
    public static SignatureAlgorithmSuite BalancedV1 => new(BalancedV1Name);

    /// <summary>Like <see cref="BalancedV1"/> with ECDSA P-256 instead of Ed25519 (FIPS).</summary>
    public static SignatureAlgorithmSuite FipsV1 => new(FipsV1Name);

    /// <summary>Like <see cref="BalancedV1"/> with ECDSA P-256 CA keys (HSM/KMS-backed clusters).</summary>
    public static SignatureAlgorithmSuite HsmV1 => new(HsmV1Name);

    /// <summary>The suite name (<c>legacy</c>, <c>balanced-v1</c>, …).</summary>
    public string Name => _name ?? LegacyName;

    /// <summary><see langword="true"/> for the four suites this library has a key table for.</summary>
    public bool IsKnown => Name is LegacyName or BalancedV1Name or FipsV1Name or HsmV1Name;

    /// <summary>Compares two suites by name.</summary>
    public static bool operator ==(SignatureAlgorithmSuite left, SignatureAlgorithmSuite right) => left.Equals(right);

    /// <summary>Compares two suites by name.</summary>
    public static bool operator !=(SignatureAlgorithmSuite left, SignatureAlgorithmSuite right) => !left.Equals(right);

    /// <summary>
    /// Parses a suite name. Empty, <see langword="null"/> and <c>unspecified</c> mean
    /// <see cref="Legacy"/>; names are case-insensitive and Teleport's proto enum names
    /// (<c>SIGNATURE_ALGORITHM_SUITE_BALANCED_V1</c>) are accepted too.
    /// </summary>
    /// <param name="text">The suite name.</param>
    /// <returns>The suite; possibly one this library does not know (<see cref="IsKnown"/>).</returns>
    /// <exception cref="TeleportFormatException"><paramref name="text"/> is not a suite name.</exception>
    public static SignatureAlgorithmSuite Parse(string? text)
    {
        if (!TryParse(text, out var suite))
        {
            throw new TeleportFormatException(
                "Invalid signature algorithm suite name; expected legacy, balanced-v1, fips-v1 or hsm-v1.");
        }

        return suite;
    }

    /// <summary>Parses a suite name like <see cref="Parse"/> without throwing.</summary>
    /// <param name="text">The suite name.</param>
    /// <param name="suite">The suite when the result is <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is a suite name.</returns>
    public static bool TryParse(string? text, out SignatureAlgorithmSuite suite)
    {
        suite = default;
        var trimmed = (text ?? string.Empty).Trim();
        if (trimmed.Length == 0)
        {
            return true;
        }

        if (trimmed.StartsWith(ProtoPrefix, StringComparison.OrdinalIgnoreCase))
        {
            trimmed = trimmed[ProtoPrefix.Length..].Replace('_', '-');
        }

        if (!TryNormalize(trimmed, out var normalized))
        {
            return false;
        }

        suite = normalized == "unspecified" ? default : new SignatureAlgorithmSuite(normalized);
        return true;
    }

    /// <summary>The key algorithm this suite uses for <paramref name="purpose"/>.</summary>
    /// <param name="purpose">What the key is for.</param>
    /// <returns>The key algorithm.</returns>
    /// <exception cref="NotSupportedException">The suite is not one this library knows (<see cref="IsKnown"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="purpose"/> is not a defined value.</exception>
    public KeyAlgorithm GetKeyAlgorithm(KeyPurpose purpose)
    {
        if (!Enum.IsDefined(purpose))
        {
            throw new ArgumentOutOfRangeException(nameof(purpose), purpose, "Unknown key purpose.");
        }

        if (!TryGetKeyAlgorithm(purpose, out var algorithm))
        {
            throw new NotSupportedException(
                $"Signature algorithm suite '{Name}' is not known to this version of Teleport.MachineId; " +
                "generate keys for balanced-v1 (ECDSA P-256), which every non-legacy cluster accepts.");
        }

        return algorithm;
    }

    /// <summary>The key algorithm this suite uses for <paramref name="purpose"/>, if the suite is known.</summary>
    /// <param name="purpose">What the key is for.</param>
    /// <param name="algorithm">The key algorithm when the result is <see langword="true"/>.</param>
    /// <returns><see langword="false"/> for an unknown suite or purpose.</returns>
    public bool TryGetKeyAlgorithm(KeyPurpose purpose, out KeyAlgorithm algorithm)
    {
        algorithm = default;
        var name = Name;
        if (name == LegacyName)
        {
            algorithm = KeyAlgorithm.Rsa2048;
            return Enum.IsDefined(purpose);
        }

        if (name is not (BalancedV1Name or FipsV1Name or HsmV1Name))
        {
            return false;
        }

        switch (purpose)
        {
            case KeyPurpose.BotIdentity:
            case KeyPurpose.BotImpersonatedIdentity:
            case KeyPurpose.UserCaTls:
            case KeyPurpose.HostCaTls:
                algorithm = KeyAlgorithm.EcdsaP256;
                return true;
            case KeyPurpose.DatabaseClient:
            case KeyPurpose.DatabaseCaTls:
                algorithm = KeyAlgorithm.Rsa2048;
                return true;
            case KeyPurpose.UserCaSsh:
            case KeyPurpose.HostCaSsh:
                algorithm = name == BalancedV1Name ? KeyAlgorithm.Ed25519 : KeyAlgorithm.EcdsaP256;
                return true;
            case KeyPurpose.HostSsh:
            case KeyPurpose.BoundKeypairJoining:
                algorithm = name == FipsV1Name ? KeyAlgorithm.EcdsaP256 : KeyAlgorithm.Ed25519;
                return true;
            default:
                return false;
        }
    }

    /// <inheritdoc />
    public bool Equals(SignatureAlgorithmSuite other) => string.Equals(Name, other.Name, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SignatureAlgorithmSuite other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Name);

    /// <summary>The suite name.</summary>
    /// <returns><see cref="Name"/>.</returns>
    public override string ToString() => Name;

    /// <summary>Maps a value of Teleport's proto enum <c>types.SignatureAlgorithmSuite</c> (0 unspecified ⇒ legacy).</summary>
    /// <param name="value">The enum value as sent on the wire.</param>
    /// <returns>The suite.</returns>
    /// <exception cref="TeleportProtocolException">The value is not one Teleport 18 defines.</exception>
    public static SignatureAlgorithmSuite FromProtoValue(int value) => value switch
    {
        0 or 1 => Legacy,
        2 => BalancedV1,
        3 => FipsV1,
        4 => HsmV1,
        _ => throw new TeleportProtocolException($"Unknown signature algorithm suite value {value} from the cluster."),
    };

    /// <summary>The value of Teleport's proto enum <c>types.SignatureAlgorithmSuite</c> for a known suite (legacy ⇒ 1), as a cluster sends it.</summary>
    /// <returns>The enum value.</returns>
    /// <exception cref="NotSupportedException">The suite has no proto value known to this library.</exception>
    public int ToProtoValue() => Name switch
    {
        LegacyName => 1,
        BalancedV1Name => 2,
        FipsV1Name => 3,
        HsmV1Name => 4,
        _ => throw new NotSupportedException($"Signature algorithm suite '{Name}' has no known proto value."),
    };

    private static bool TryNormalize(string text, [NotNullWhen(true)] out string? normalized)
    {
        normalized = null;
        if (text.Length is 0 or > 64)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }

        normalized = text.ToLowerInvariant() switch
        {
            LegacyName => LegacyName,
            BalancedV1Name => BalancedV1Name,
            FipsV1Name => FipsV1Name,
            HsmV1Name => HsmV1Name,
            var other => other,
        };
        return true;
    }
}
