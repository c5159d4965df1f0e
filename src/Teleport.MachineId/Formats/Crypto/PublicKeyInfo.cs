using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// A public key (RSA, ECDSA P-256/384/521 or Ed25519) with its SSH, PEM and PKIX encodings.
/// Immutable and safe to share between threads; equal when the keys are equal.
/// </summary>
/// <remarks>
/// Kept in its canonical SSH wire form (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 §4); every other
/// encoding is derived from it. Not named <c>PublicKey</c> to stay clear of
/// <see cref="System.Security.Cryptography.X509Certificates.PublicKey"/>.
/// </remarks>
public sealed class PublicKeyInfo : IEquatable<PublicKeyInfo>
{
    private const string WhatWire = "SSH public key";

    private readonly byte[] _wire;
    private readonly SshKeyFields _fields;
    private string? _fingerprint;

    private PublicKeyInfo(byte[] canonicalWire)
    {
        _wire = canonicalWire;
        var reader = new SshWireReader(canonicalWire, WhatWire);
        _ = KeyAlgorithmInfo.TryFromSshKeyType(reader.ReadString(), out var algorithm);
        _fields = SshKeyFields.Read(ref reader, canonicalWire, algorithm);
        KeySizeInBits = algorithm switch
        {
            KeyAlgorithm.Rsa => BitLength(RsaModulus),
            KeyAlgorithm.EcdsaP256 => 256,
            KeyAlgorithm.EcdsaP384 => 384,
            KeyAlgorithm.EcdsaP521 => 521,
            _ => 256,
        };
    }

    /// <summary>The key algorithm. <see cref="KeyAlgorithm.Rsa"/> stands for RSA of any size; see <see cref="KeySizeInBits"/>.</summary>
    public KeyAlgorithm Algorithm => _fields.Algorithm;

    /// <summary>The key size in bits (RSA modulus length; 256/384/521 for ECDSA; 256 for Ed25519).</summary>
    public int KeySizeInBits { get; }

    /// <summary>The SSH key type name: <c>ssh-rsa</c>, <c>ecdsa-sha2-nistp256</c>, <c>ecdsa-sha2-nistp384</c>, <c>ecdsa-sha2-nistp521</c> or <c>ssh-ed25519</c>.</summary>
    public string SshKeyType => KeyAlgorithmInfo.SshKeyType(Algorithm);

    /// <summary>
    /// The SHA-256 fingerprint as OpenSSH prints it: <c>SHA256:</c> followed by the unpadded
    /// base64 of the SHA-256 of the SSH wire blob.
    /// </summary>
    public string Sha256Fingerprint => _fingerprint ??= ComputeFingerprint(_wire);

    /// <summary>The SSH wire blob, for code in this assembly that must not copy it.</summary>
    internal ReadOnlySpan<byte> WireSpan => _wire;

    /// <summary>The fields after the type name (what a certificate embeds after its nonce).</summary>
    internal ReadOnlySpan<byte> KeyFieldsSpan => _wire.AsSpan(4 + (int)BinaryPrimitives.ReadUInt32BigEndian(_wire));

    internal ReadOnlySpan<byte> RsaExponent => Algorithm == KeyAlgorithm.Rsa ? _wire.AsSpan(_fields.AOffset, _fields.ALength) : default;

    internal ReadOnlySpan<byte> RsaModulus => Algorithm == KeyAlgorithm.Rsa ? _wire.AsSpan(_fields.BOffset, _fields.BLength) : default;

    /// <summary>The uncompressed ECDSA point (0x04 ‖ X ‖ Y).</summary>
    internal ReadOnlySpan<byte> EcPoint => KeyAlgorithmInfo.IsEcdsa(Algorithm) ? _wire.AsSpan(_fields.AOffset, _fields.ALength) : default;

    internal ReadOnlySpan<byte> Ed25519Key => Algorithm == KeyAlgorithm.Ed25519 ? _wire.AsSpan(_fields.AOffset, _fields.ALength) : default;

    /// <summary>Compares two keys.</summary>
    public static bool operator ==(PublicKeyInfo? left, PublicKeyInfo? right) =>
        left is null ? right is null : left.Equals(right);

    /// <summary>Compares two keys.</summary>
    public static bool operator !=(PublicKeyInfo? left, PublicKeyInfo? right) => !(left == right);

    /// <summary>Reads an SSH wire blob (<c>string type, …fields</c>).</summary>
    /// <param name="wire">The blob, as found base64-encoded in a <c>.pub</c> file.</param>
    /// <returns>The key.</returns>
    /// <exception cref="TeleportFormatException">The blob is truncated, has trailing data, is a certificate, or names an unsupported key type.</exception>
    public static PublicKeyInfo FromSshWire(ReadOnlySpan<byte> wire)
    {
        var reader = new SshWireReader(wire, WhatWire);
        var typeName = reader.ReadString();
        if (!KeyAlgorithmInfo.TryFromSshKeyType(typeName, out var algorithm))
        {
            if (KeyAlgorithmInfo.TryFromCertificateType(typeName, out _))
            {
                throw new TeleportFormatException("Expected an SSH public key but found a certificate; parse it with SshCertificate.");
            }

            throw new TeleportFormatException(
                "Unsupported SSH public key type; expected ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa.");
        }

        var fields = SshKeyFields.Read(ref reader, wire, algorithm);
        reader.EnsureAtEnd();
        return FromFields(wire, fields);
    }

    /// <summary>
    /// Parses a public key line: <c>&lt;type&gt; &lt;base64&gt; [comment]</c>, as in <c>.pub</c> files,
    /// <c>authorized_keys</c> (leading options are skipped, including quoted ones) and
    /// <c>known_hosts</c> (markers and host patterns are skipped). Blank and <c>#</c> lines before
    /// the key are skipped.
    /// </summary>
    /// <param name="line">The line.</param>
    /// <returns>The key.</returns>
    /// <exception cref="TeleportFormatException">No supported key is found, the base64 is invalid, the type name disagrees with the blob, or the line holds a certificate.</exception>
    public static PublicKeyInfo ParseAuthorizedKey(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        const string what = "SSH public key line";
        AuthorizedKeyLine.Find(line, what, out var algorithm, out var isCertificate, out var base64, out _);
        if (isCertificate)
        {
            throw new TeleportFormatException("Expected an SSH public key but found a certificate; parse it with SshCertificate.");
        }

        var key = FromSshWire(AuthorizedKeyLine.DecodeBase64(base64, what));
        if (key.Algorithm != algorithm)
        {
            throw new TeleportFormatException($"Malformed {what}: the key type name does not match the type inside the key data.");
        }

        return key;
    }

    /// <summary>
    /// Reads the first public key PEM block: <c>PUBLIC KEY</c> or <c>RSA PUBLIC KEY</c>, holding
    /// either PKIX SubjectPublicKeyInfo or PKCS#1 RSAPublicKey (Teleport accepts both in either block).
    /// </summary>
    /// <param name="pem">PEM text.</param>
    /// <returns>The key.</returns>
    /// <exception cref="TeleportFormatException">No public key block is found or its content is invalid or unsupported.</exception>
    public static PublicKeyInfo ImportPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        foreach (var (label, der) in PemBlocks.Read(pem))
        {
            if (label is "PUBLIC KEY" or "RSA PUBLIC KEY")
            {
                return Asn1KeyEncoding.DecodePublicKey(der);
            }
        }

        throw new TeleportFormatException("No 'PUBLIC KEY' or 'RSA PUBLIC KEY' PEM block was found.");
    }

    /// <summary>Reads a DER PKIX SubjectPublicKeyInfo.</summary>
    /// <param name="der">The DER bytes.</param>
    /// <returns>The key.</returns>
    /// <exception cref="TeleportFormatException">The DER is invalid or the algorithm unsupported.</exception>
    public static PublicKeyInfo ImportSubjectPublicKeyInfo(ReadOnlySpan<byte> der) =>
        Asn1KeyEncoding.DecodeSubjectPublicKeyInfo(der);

    /// <summary>The SSH wire blob (<c>string type, …fields</c>).</summary>
    /// <returns>A new array.</returns>
    public byte[] ToSshWire() => (byte[])_wire.Clone();

    /// <summary>The OpenSSH text form: <c>&lt;type&gt; &lt;base64&gt;</c>, then <c> comment</c> when given; no newline.</summary>
    /// <param name="comment">Optional comment.</param>
    /// <returns>The line.</returns>
    public string ToAuthorizedKey(string? comment = null)
    {
        var type = SshKeyType;
        var base64 = Convert.ToBase64String(_wire);
        return string.IsNullOrEmpty(comment) ? $"{type} {base64}" : $"{type} {base64} {comment}";
    }

    /// <summary>
    /// PEM as Teleport sends TLS public keys: PKCS#1 <c>RSA PUBLIC KEY</c> for RSA, PKIX
    /// <c>PUBLIC KEY</c> otherwise; ends with a newline.
    /// </summary>
    /// <returns>The PEM text.</returns>
    public string ExportPem() => Algorithm == KeyAlgorithm.Rsa
        ? PemBlocks.Write("RSA PUBLIC KEY", Asn1KeyEncoding.EncodeRsaPublicKey(RsaModulus, RsaExponent))
        : PemBlocks.Write("PUBLIC KEY", ExportSubjectPublicKeyInfo());

    /// <summary>The DER PKIX SubjectPublicKeyInfo.</summary>
    /// <returns>A new array.</returns>
    public byte[] ExportSubjectPublicKeyInfo() => Asn1KeyEncoding.EncodeSubjectPublicKeyInfo(this);

    /// <inheritdoc />
    public bool Equals(PublicKeyInfo? other) =>
        other is not null && (ReferenceEquals(this, other) || _wire.AsSpan().SequenceEqual(other._wire));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as PublicKeyInfo);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.AddBytes(_wire);
        return hash.ToHashCode();
    }

    /// <summary>The key type and fingerprint, e.g. <c>ssh-ed25519 SHA256:…</c>.</summary>
    /// <returns>A short description.</returns>
    public override string ToString() => $"{SshKeyType} {Sha256Fingerprint}";

    internal static PublicKeyInfo CreateRsa(ReadOnlySpan<byte> modulus, ReadOnlySpan<byte> exponent)
    {
        using var writer = new SshWireWriter(32 + modulus.Length + exponent.Length);
        writer.WriteString("ssh-rsa"u8);
        writer.WriteMPInt(exponent);
        writer.WriteMPInt(modulus);
        return new PublicKeyInfo(writer.ToArray());
    }

    internal static PublicKeyInfo CreateEcdsa(KeyAlgorithm algorithm, ReadOnlySpan<byte> uncompressedPoint)
    {
        using var writer = new SshWireWriter(48 + uncompressedPoint.Length);
        writer.WriteString(KeyAlgorithmInfo.SshKeyType(algorithm));
        writer.WriteString(KeyAlgorithmInfo.CurveNameUtf8(algorithm));
        writer.WriteString(uncompressedPoint);
        return new PublicKeyInfo(writer.ToArray());
    }

    internal static PublicKeyInfo CreateEcdsa(KeyAlgorithm algorithm, ECPoint q)
    {
        var size = KeyAlgorithmInfo.FieldSize(algorithm);
        Span<byte> point = stackalloc byte[1 + (2 * size)];
        point[0] = 0x04;
        LeftPad(q.X, point.Slice(1, size));
        LeftPad(q.Y, point.Slice(1 + size, size));
        return CreateEcdsa(algorithm, point);
    }

    internal static PublicKeyInfo CreateEd25519(ReadOnlySpan<byte> key)
    {
        using var writer = new SshWireWriter(51);
        writer.WriteString("ssh-ed25519"u8);
        writer.WriteString(key);
        return new PublicKeyInfo(writer.ToArray());
    }

    /// <summary>Builds the canonical key from fields read elsewhere (a certificate or a blob).</summary>
    internal static PublicKeyInfo FromFields(ReadOnlySpan<byte> data, SshKeyFields fields) => fields.Algorithm switch
    {
        KeyAlgorithm.Rsa => CreateRsa(data.Slice(fields.BOffset, fields.BLength), data.Slice(fields.AOffset, fields.ALength)),
        KeyAlgorithm.Ed25519 => CreateEd25519(data.Slice(fields.AOffset, fields.ALength)),
        _ => CreateEcdsa(fields.Algorithm, data.Slice(fields.AOffset, fields.ALength)),
    };

    /// <summary>A BCL RSA object for this key; the caller disposes it.</summary>
    /// <exception cref="CryptographicException">The platform rejects the key.</exception>
    internal RSA CreateRsa()
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportParameters(new RSAParameters { Modulus = RsaModulus.ToArray(), Exponent = RsaExponent.ToArray() });
            return rsa;
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    /// <summary>A BCL ECDsa object for this key; the caller disposes it.</summary>
    /// <exception cref="CryptographicException">The point is not on the curve.</exception>
    internal ECDsa CreateEcdsa()
    {
        var size = KeyAlgorithmInfo.FieldSize(Algorithm);
        var point = EcPoint;
        return ECDsa.Create(new ECParameters
        {
            Curve = KeyAlgorithmInfo.Curve(Algorithm),
            Q = new ECPoint { X = point.Slice(1, size).ToArray(), Y = point.Slice(1 + size, size).ToArray() },
        });
    }

    internal static string ComputeFingerprint(ReadOnlySpan<byte> wire)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(wire, hash);
        return "SHA256:" + Convert.ToBase64String(hash).TrimEnd('=');
    }

    private static void LeftPad(byte[]? value, Span<byte> destination)
    {
        var source = (value ?? []).AsSpan().TrimStart((byte)0);
        if (source.Length > destination.Length)
        {
            throw new CryptographicException("EC coordinate is larger than the curve's field.");
        }

        destination.Clear();
        source.CopyTo(destination[(destination.Length - source.Length)..]);
    }

    private static int BitLength(ReadOnlySpan<byte> magnitude) =>
        magnitude.IsEmpty ? 0 : ((magnitude.Length - 1) * 8) + (32 - BitOperations.LeadingZeroCount((uint)magnitude[0]));
}
