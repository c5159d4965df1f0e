namespace Teleport.MachineId.Crypto;

/// <summary>The algorithm of a key pair (key type and, for ECDSA, curve).</summary>
public enum KeyAlgorithm
{
    /// <summary>
    /// RSA (<c>ssh-rsa</c>) of any size: generated keys are 2048 bits (what every Teleport suite asks
    /// for); imported keys may have other sizes, see <see cref="PublicKeyInfo.KeySizeInBits"/>.
    /// </summary>
    Rsa = 1,

    /// <summary>ECDSA on NIST P-256 (<c>ecdsa-sha2-nistp256</c>).</summary>
    EcdsaP256 = 2,

    /// <summary>ECDSA on NIST P-384 (<c>ecdsa-sha2-nistp384</c>).</summary>
    EcdsaP384 = 3,

    /// <summary>ECDSA on NIST P-521 (<c>ecdsa-sha2-nistp521</c>).</summary>
    EcdsaP521 = 4,

    /// <summary>Ed25519 (<c>ssh-ed25519</c>).</summary>
    Ed25519 = 5,
}
