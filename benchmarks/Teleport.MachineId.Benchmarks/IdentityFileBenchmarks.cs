using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BenchmarkDotNet.Attributes;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Tls;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// Writing and reading a tbot-shaped identity file (balanced-v1 suite: ECDSA P-256 key and
/// certificates, Ed25519 host CA keys for a local and a leaf cluster, two TLS CAs): about 4.5 KB.
/// </summary>
[MemoryDiagnoser]
public class IdentityFileBenchmarks
{
    private IdentityFile _model = null!;
    private string _text = null!;

    [GlobalSetup]
    public void Setup()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = DateTimeOffset.UtcNow;
        using var ca = TeleportTlsCertificateBuilder.CreateCertificateAuthority("tele.example.com", caKey, now.AddDays(-1));
        using var leafCa = TeleportTlsCertificateBuilder.CreateCertificateAuthority("leaf.example.com", caKey, now.AddDays(-1));
        var builder = new TeleportTlsCertificateBuilder { Username = "bot-robot", Impersonator = "bot-robot", DisallowReissue = true, BotName = "robot" };
        builder.Roles.Add("access");
        builder.Principals.Add("root");
        using var tls = builder.Issue(new PublicKey(key), ca, caKey, now.AddMinutes(-1), now.AddHours(1));

        var hostCa = "ssh-ed25519 " + Convert.ToBase64String(Ed25519Blob(1));
        var leafHostCa = "ssh-ed25519 " + Convert.ToBase64String(Ed25519Blob(2));
        _model = new IdentityFile(
            key.ExportPkcs8PrivateKeyPem(),
            "ecdsa-sha2-nistp256-cert-v01@openssh.com " + Convert.ToBase64String(EcdsaCertificateBlob(key)),
            tls.ExportCertificatePem(),
            [KnownHostsCertAuthority.ForCluster("tele.example.com", hostCa), KnownHostsCertAuthority.ForCluster("leaf.example.com", leafHostCa)],
            [ca.ExportCertificatePem(), leafCa.ExportCertificatePem()]);
        _text = IdentityFileWriter.Write(_model);
    }

    [Benchmark]
    public int Write() => IdentityFileWriter.Write(_model).Length;

    [Benchmark]
    public int Read() => IdentityFileReader.Parse(_text).TlsCertificateAuthorityPems.Count;

    private static byte[] Ed25519Blob(byte fill)
    {
        var blob = new List<byte>();
        AppendString(blob, "ssh-ed25519"u8);
        AppendString(blob, Enumerable.Repeat(fill, 32).ToArray());
        return [.. blob];
    }

    /// <summary>A structurally complete OpenSSH certificate (PROTOCOL.certkeys), as Teleport issues for a bot output.</summary>
    private static byte[] EcdsaCertificateBlob(ECDsa key)
    {
        var q = key.ExportParameters(false).Q;
        var blob = new List<byte>();
        AppendString(blob, "ecdsa-sha2-nistp256-cert-v01@openssh.com"u8);
        AppendString(blob, RandomNumberGenerator.GetBytes(32));
        AppendString(blob, "nistp256"u8);
        AppendString(blob, [0x04, .. q.X!, .. q.Y!]);
        Append(blob, 8, 0);                      // serial
        Append(blob, 4, 1);                      // user certificate
        AppendString(blob, "bot-robot"u8);
        var principals = new List<byte>();
        AppendString(principals, "root"u8);
        AppendString(principals, "-teleport-internal-join"u8);
        AppendString(blob, [.. principals]);
        Append(blob, 8, 1_750_000_000);
        Append(blob, 8, 1_750_003_600);
        AppendString(blob, []);
        var extensions = new List<byte>();
        foreach (var name in new[] { "permit-pty", "permit-port-forwarding", "teleport-roles" })
        {
            AppendString(extensions, Encoding.ASCII.GetBytes(name));
            AppendString(extensions, name == "teleport-roles" ? "{\"roles\":[\"access\"]}"u8.ToArray() : []);
        }

        AppendString(blob, [.. extensions]);
        AppendString(blob, []);
        AppendString(blob, Ed25519Blob(3));
        var signature = new List<byte>();
        AppendString(signature, "ssh-ed25519"u8);
        AppendString(signature, new byte[64]);
        AppendString(blob, [.. signature]);
        return [.. blob];
    }

    private static void AppendString(List<byte> buffer, ReadOnlySpan<byte> value)
    {
        Append(buffer, 4, (ulong)value.Length);
        buffer.AddRange(value.ToArray());
    }

    private static void Append(List<byte> buffer, int size, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        buffer.AddRange(bytes[(8 - size)..].ToArray());
    }
}
