using System.Numerics;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// OpenSSH's <c>openssh-key-v1</c> private key container (OpenSSH PROTOCOL.key), unencrypted
/// only: what <c>ssh-keygen</c> writes without a passphrase.
/// </summary>
internal static class OpenSshPrivateKeyFormat
{
    private const string What = "OpenSSH private key";

    private static ReadOnlySpan<byte> Magic => "openssh-key-v1\0"u8;

    /// <exception cref="TeleportFormatException">The blob is malformed, encrypted, holds several keys, or an unsupported key type.</exception>
    public static PrivateKey Decode(byte[] blob)
    {
        if (!blob.AsSpan().StartsWith(Magic))
        {
            throw new TeleportFormatException($"Malformed {What}: missing the openssh-key-v1 header.");
        }

        var reader = new SshWireReader(blob.AsSpan(Magic.Length), What);
        var cipher = reader.ReadString();
        var kdf = reader.ReadString();
        _ = reader.ReadString(); // kdf options
        if (!cipher.SequenceEqual("none"u8) || !kdf.SequenceEqual("none"u8))
        {
            throw new TeleportFormatException(
                "Encrypted OpenSSH private keys are not supported; remove the passphrase with 'ssh-keygen -p -N \"\" -f <file>'.");
        }

        if (reader.ReadUInt32() != 1)
        {
            throw new TeleportFormatException($"Malformed {What}: exactly one key per file is supported.");
        }

        var declaredPublic = PublicKeyInfo.FromSshWire(reader.ReadString());
        var section = reader.ReadString();
        reader.EnsureAtEnd();

        var inner = new SshWireReader(section, What);
        if (inner.ReadUInt32() != inner.ReadUInt32())
        {
            throw new TeleportFormatException($"Malformed {What}: check values differ (corrupt or encrypted key).");
        }

        if (!KeyAlgorithmInfo.TryFromSshKeyType(inner.ReadString(), out var algorithm))
        {
            throw new TeleportFormatException($"Unsupported {What} type; expected ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa.");
        }

        var key = algorithm switch
        {
            KeyAlgorithm.Ed25519 => ReadEd25519(ref inner),
            KeyAlgorithm.Rsa => ReadRsa(ref inner),
            _ => ReadEcdsa(ref inner, algorithm),
        };

        try
        {
            _ = inner.ReadString(); // comment
            var padding = inner.ReadRemaining();
            for (var i = 0; i < padding.Length; i++)
            {
                if (padding[i] != (byte)(i + 1))
                {
                    throw new TeleportFormatException($"Malformed {What}: invalid padding.");
                }
            }

            if (key.PublicKey != declaredPublic)
            {
                throw new TeleportFormatException($"Malformed {What}: the private key does not match the public key stored with it.");
            }

            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Encodes an unencrypted <c>openssh-key-v1</c> blob (zero it after use).</summary>
    public static byte[] Encode(PrivateKey key, string comment)
    {
        using var writer = new SshWireWriter(2048, sensitive: true);
        writer.WriteRaw(Magic);
        writer.WriteString("none"u8);
        writer.WriteString("none"u8);
        writer.WriteString(ReadOnlySpan<byte>.Empty);
        writer.WriteUInt32(1);
        writer.WriteString(key.PublicKey.WireSpan);

        var section = writer.BeginNested();
        var sectionStart = writer.Length;
        var check = (uint)RandomNumberGenerator.GetInt32(int.MaxValue);
        writer.WriteUInt32(check);
        writer.WriteUInt32(check);
        writer.WriteString(key.PublicKey.SshKeyType);
        switch (key.Algorithm)
        {
            case KeyAlgorithm.Ed25519:
            {
                Span<byte> secret = stackalloc byte[64];
                key.Ed25519Parameters.Encode(secret[..32]);
                key.PublicKey.Ed25519Key.CopyTo(secret[32..]);
                writer.WriteString(key.PublicKey.Ed25519Key);
                writer.WriteString(secret);
                CryptographicOperations.ZeroMemory(secret);
                break;
            }

            case KeyAlgorithm.Rsa:
            {
                var p = key.Rsa.ExportParameters(true);
                try
                {
                    writer.WriteMPInt(p.Modulus);
                    writer.WriteMPInt(p.Exponent);
                    writer.WriteMPInt(p.D);
                    writer.WriteMPInt(p.InverseQ);
                    writer.WriteMPInt(p.P);
                    writer.WriteMPInt(p.Q);
                }
                finally
                {
                    Clear(p.D, p.P, p.Q, p.DP, p.DQ, p.InverseQ);
                }

                break;
            }

            default:
            {
                var p = key.Ecdsa.ExportParameters(true);
                try
                {
                    writer.WriteString(KeyAlgorithmInfo.CurveNameUtf8(key.Algorithm));
                    writer.WriteString(key.PublicKey.EcPoint);
                    writer.WriteMPInt(p.D);
                }
                finally
                {
                    Clear(p.D);
                }

                break;
            }
        }

        writer.WriteString(comment);
        for (byte pad = 1; (writer.Length - sectionStart) % 8 != 0; pad++)
        {
            writer.WriteByte(pad);
        }

        writer.EndNested(section);
        return writer.ToArray();
    }

    private static PrivateKey ReadEd25519(ref SshWireReader reader)
    {
        var publicKey = reader.ReadString();
        var secret = reader.ReadString();
        if (publicKey.Length != 32 || secret.Length != 64 || !secret[32..].SequenceEqual(publicKey))
        {
            throw new TeleportFormatException($"Malformed {What}: invalid Ed25519 key lengths.");
        }

        return PrivateKey.FromEd25519(new Ed25519PrivateKeyParameters(secret[..32]));
    }

    private static PrivateKey ReadEcdsa(ref SshWireReader reader, KeyAlgorithm algorithm)
    {
        var curve = reader.ReadString();
        var point = reader.ReadString();
        var d = reader.ReadPositiveMPInt();
        var size = KeyAlgorithmInfo.FieldSize(algorithm);
        if (!curve.SequenceEqual(KeyAlgorithmInfo.CurveNameUtf8(algorithm)) || point.Length != 1 + (2 * size) || point[0] != 0x04 || d.Length > size)
        {
            throw new TeleportFormatException($"Malformed {What}: invalid ECDSA key.");
        }

        var parameters = new ECParameters
        {
            Curve = KeyAlgorithmInfo.Curve(algorithm),
            Q = new ECPoint { X = point.Slice(1, size).ToArray(), Y = point.Slice(1 + size, size).ToArray() },
            D = new byte[size],
        };
        d.CopyTo(parameters.D.AsSpan(size - d.Length));
        try
        {
            return PrivateKey.FromEcdsa(ECDsa.Create(parameters));
        }
        catch (CryptographicException ex)
        {
            throw new TeleportFormatException($"Malformed {What}: invalid ECDSA key.", ex);
        }
        finally
        {
            Clear(parameters.D);
        }
    }

    private static PrivateKey ReadRsa(ref SshWireReader reader)
    {
        var n = reader.ReadPositiveMPInt();
        var e = reader.ReadPositiveMPInt();
        var d = reader.ReadPositiveMPInt();
        var iqmp = reader.ReadPositiveMPInt();
        var p = reader.ReadPositiveMPInt();
        var q = reader.ReadPositiveMPInt();
        if (n.IsEmpty || e.IsEmpty || d.IsEmpty || p.IsEmpty || q.IsEmpty || iqmp.IsEmpty || n.Length > KeyAlgorithmInfo.MaxRsaModulusBytes)
        {
            throw new TeleportFormatException($"Malformed {What}: invalid RSA key.");
        }

        // The BCL wants D as long as the modulus and the CRT values half as long, and DP/DQ,
        // which the OpenSSH format leaves out.
        var modulusLength = n.Length;
        var half = (modulusLength + 1) / 2;
        if (d.Length > modulusLength || p.Length > half || q.Length > half || iqmp.Length > half)
        {
            throw new TeleportFormatException($"Malformed {What}: invalid RSA key.");
        }

        var dValue = new BigInteger(d, isUnsigned: true, isBigEndian: true);
        var pValue = new BigInteger(p, isUnsigned: true, isBigEndian: true);
        var qValue = new BigInteger(q, isUnsigned: true, isBigEndian: true);
        if (pValue <= BigInteger.One || qValue <= BigInteger.One)
        {
            throw new TeleportFormatException($"Malformed {What}: invalid RSA key.");
        }

        var parameters = new RSAParameters
        {
            Modulus = n.ToArray(),
            Exponent = e.ToArray(),
            D = Pad(d, modulusLength),
            P = Pad(p, half),
            Q = Pad(q, half),
            InverseQ = Pad(iqmp, half),
            DP = Pad((dValue % (pValue - 1)).ToByteArray(isUnsigned: true, isBigEndian: true), half),
            DQ = Pad((dValue % (qValue - 1)).ToByteArray(isUnsigned: true, isBigEndian: true), half),
        };
        var rsa = RSA.Create();
        try
        {
            if (new BigInteger(n, isUnsigned: true, isBigEndian: true) != pValue * qValue)
            {
                throw new TeleportFormatException($"Malformed {What}: the RSA modulus is not the product of its primes.");
            }

            rsa.ImportParameters(parameters);
            return PrivateKey.FromRsa(rsa);
        }
        catch (CryptographicException ex)
        {
            rsa.Dispose();
            throw new TeleportFormatException($"Malformed {What}: invalid RSA key.", ex);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
        finally
        {
            Clear(parameters.D, parameters.P, parameters.Q, parameters.DP, parameters.DQ, parameters.InverseQ);
        }
    }

    private static byte[] Pad(ReadOnlySpan<byte> value, int length)
    {
        value = value.TrimStart((byte)0);
        if (value.Length > length)
        {
            throw new TeleportFormatException($"Malformed {What}: invalid RSA key.");
        }

        var result = new byte[length];
        value.CopyTo(result.AsSpan(length - value.Length));
        return result;
    }

    private static void Clear(params byte[]?[] arrays)
    {
        foreach (var array in arrays)
        {
            if (array is not null)
            {
                CryptographicOperations.ZeroMemory(array);
            }
        }
    }
}
