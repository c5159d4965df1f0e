using Teleport.MachineId.Ssh;

namespace Teleport.MachineId.Crypto;

/// <summary>
/// Where the algorithm-specific fields of an SSH public key are inside some buffer: RSA
/// <c>e</c> (A) and <c>n</c> (B) magnitudes, the ECDSA point <c>Q</c> (A), or the Ed25519 key (A).
/// These are the fields after the key type name in a public key blob, and the fields after the
/// nonce in a certificate (PROTOCOL.certkeys), so one reader serves both.
/// </summary>
internal readonly record struct SshKeyFields(KeyAlgorithm Algorithm, int AOffset, int ALength, int BOffset, int BLength)
{
    /// <summary>
    /// Reads and validates the fields of a public key of <paramref name="algorithm"/> (the type
    /// name has already been read).
    /// </summary>
    /// <exception cref="TeleportFormatException">The fields are truncated or invalid.</exception>
    public static SshKeyFields Read(ref SshWireReader reader, ReadOnlySpan<byte> data, KeyAlgorithm algorithm)
    {
        switch (algorithm)
        {
            case KeyAlgorithm.Rsa:
            {
                var (eOffset, eLength) = reader.ReadPositiveMPIntRange();
                var (nOffset, nLength) = reader.ReadPositiveMPIntRange();
                if (eLength == 0 || nLength == 0)
                {
                    SshWireReader.ThrowFormat(reader.What, "an RSA key with a zero exponent or modulus");
                }

                if (nLength > KeyAlgorithmInfo.MaxRsaModulusBytes || eLength > nLength)
                {
                    SshWireReader.ThrowFormat(reader.What, "an RSA key of unsupported size");
                }

                return new SshKeyFields(algorithm, eOffset, eLength, nOffset, nLength);
            }

            case KeyAlgorithm.EcdsaP256:
            case KeyAlgorithm.EcdsaP384:
            case KeyAlgorithm.EcdsaP521:
            {
                var curve = reader.ReadString();
                if (!curve.SequenceEqual(KeyAlgorithmInfo.CurveNameUtf8(algorithm)))
                {
                    SshWireReader.ThrowFormat(reader.What, "an ECDSA curve name that does not match the key type");
                }

                var (qOffset, qLength) = reader.ReadStringRange();
                if (qLength != 1 + (2 * KeyAlgorithmInfo.FieldSize(algorithm)) || data[qOffset] != 0x04)
                {
                    SshWireReader.ThrowFormat(reader.What, "an ECDSA public point that is not an uncompressed point of the curve's size");
                }

                return new SshKeyFields(algorithm, qOffset, qLength, 0, 0);
            }

            case KeyAlgorithm.Ed25519:
            {
                var (offset, length) = reader.ReadStringRange();
                if (length != 32)
                {
                    SshWireReader.ThrowFormat(reader.What, "an Ed25519 public key that is not 32 bytes");
                }

                return new SshKeyFields(algorithm, offset, length, 0, 0);
            }

            default:
                SshWireReader.ThrowFormat(reader.What, "an unsupported key algorithm");
                return default;
        }
    }
}
