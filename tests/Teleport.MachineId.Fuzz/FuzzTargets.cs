using System.Buffers;
using System.Net;
using System.Text;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Testing.Hosting;
using Teleport.MachineId.Testing.Network;
using Teleport.MachineId.Tls;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Discovery;
using Teleport.MachineId.Wire.Streams;

namespace Teleport.MachineId.Fuzz;

/// <summary>
/// Every parser that reads outside input, as a fuzz target. Each one calls the same entry point the
/// SDK, CLI or emulator uses for that input, then reads what was parsed (lazily decoded parts too).
/// Nothing here may run instrumented SDK code before SharpFuzz has mapped AFL++'s coverage memory
/// (no static state built from SDK types): instrumented code writes to that map.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>All targets, by name.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("ssh-certificate", "OpenSSH certificate wire format (PROTOCOL.certkeys), as in key-cert.pub and join/renewal replies", SshCertificateWire),
        new("ssh-public-key", "SSH public key wire blobs (RFC 4253 §6.6, RFC 5656, RFC 8709): CA keys, key.pub", SshPublicKeyWire),
        new("openssh-private-key", "openssh-key-v1 private key blobs (the body of an OPENSSH PRIVATE KEY block)", OpenSshPrivateKey),
        new("pem", "PEM text: private keys (PKCS#1, SEC1, PKCS#8, OpenSSH), public keys, certificate bundles (--ca-bundle, tlscert)", Pem),
        new("identity-file", "tsh/tbot identity files (tsh -i, tbot-dotnet ssh -i)", IdentityFileText),
        new("key-lines", "authorized_keys / known_hosts lines: public keys, certificates, @cert-authority entries", KeyLines),
        new("tbot-yaml", "tbot v2 YAML configuration (start -c tbot.yaml)", TbotYaml),
        new("emulator-yaml", "emulator YAML configuration and resource documents (emulator -c, resources:)", EmulatorYaml),
        new("tls-identity", "Teleport X.509 identities (DER): subject OIDs, traits, bot attributes", TlsIdentity),
        new("webapi-json", "proxy web API JSON: /webapi/find and /webapi/ping answers, legacy join certificates, error bodies", WebApiJson,
            typeof(TeleportProtocolException)),
        new("go-duration", "Go durations (credential_ttl, renewal_interval, --credential-ttl)", GoDurationText),
        new("proxyssh-frame", "serialized teleport.transport.v1 ProxySSHResponse messages from the proxy", ProxySshFrame,
            typeof(InvalidDataException)),
        new("bot-storage", "the bot's storage files (bot-identity.json, renewal-inflight.json) as the start-up loader reads them", BotStorage,
            typeof(TeleportException)),
        new("client-hello", "TLS ClientHello bodies read by the emulator's ALPN router", TlsClientHello),
    ];

    /// <summary>The target called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No such target.</exception>
    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"Unknown fuzz target '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}.", nameof(name));

    private static void SshCertificateWire(byte[] input)
    {
        var certificate = SshCertificate.FromWire(input);
        FuzzInput.Observe(certificate);
        FuzzInput.Observe(certificate.GetTeleportInfo());
        _ = certificate.VerifySignature();
        try
        {
            certificate.Verify([certificate.SignatureKey], certificate.ValidAfter, certificate.Type, "root");
        }
        catch (CertificateValidationException)
        {
            // The documented outcome of a failed check.
        }

        // What the SDK writes back (key-cert.pub, identity files) must read back as the same certificate.
        var line = certificate.ToAuthorizedKey("comment");
        Check(SshCertificate.ParseAuthorizedKey(line) == certificate, "ssh certificate authorized_keys round trip");
    }

    private static void SshPublicKeyWire(byte[] input)
    {
        var key = PublicKeyInfo.FromSshWire(input);
        FuzzInput.Observe(key);
        Check(PublicKeyInfo.ParseAuthorizedKey(key.ToAuthorizedKey("c")) == key, "public key authorized_keys round trip");
        Check(PublicKeyInfo.ImportPem(key.ExportPem()) == key, "public key PEM round trip");
    }

    private static void OpenSshPrivateKey(byte[] input)
    {
        using var key = OpenSshPrivateKeyFormat.Decode(input);
        FuzzInput.Observe(key.PublicKey);
        using var again = PrivateKey.ImportPem(key.ExportOpenSshPem("c"));
        Check(again.PublicKey == key.PublicKey, "OpenSSH private key round trip");
    }

    private static void Pem(byte[] input)
    {
        var text = FuzzInput.Text(input);
        var blocks = PemBlocks.Read(text);
        Check(blocks.All(b => b.Label.Length > 0), "PEM block without label");
        Try(() =>
        {
            using var key = PrivateKey.ImportPem(text);
            FuzzInput.Observe(key.PublicKey);
        });
        Try(() => FuzzInput.Observe(PublicKeyInfo.ImportPem(text)));
        Try(() =>
        {
            foreach (var certificate in IssuedCertificates.ReadPemCertificates(text, "fuzz input", shared: false))
            {
                _ = certificate.Subject;
                certificate.Dispose();
            }
        });
    }

    private static void IdentityFileText(byte[] input)
    {
        var identity = IdentityFileReader.Parse(FuzzInput.Text(input));
        FuzzInput.Observe(identity);
        var written = IdentityFileWriter.Write(identity);
        Check(IdentityFileReader.Parse(written).SshCertificate == identity.SshCertificate, "identity file round trip");
    }

    private static void KeyLines(byte[] input)
    {
        foreach (var line in FuzzInput.Text(input).Split('\n'))
        {
            Try(() => FuzzInput.Observe(PublicKeyInfo.ParseAuthorizedKey(line)));
            Try(() => FuzzInput.Observe(SshCertificate.ParseAuthorizedKey(line)));
            Try(() =>
            {
                var entry = KnownHostsCertAuthority.Parse(line);
                FuzzInput.Observe(entry);
                Check(KnownHostsCertAuthority.Parse(entry.ToString()).ToString() == entry.ToString(), "known_hosts round trip");
            });
        }
    }

    private static void TbotYaml(byte[] input)
    {
        var result = TbotConfigurationReader.Read(FuzzInput.Text(input), sourceName: "fuzz.yaml");
        FuzzInput.Observe(result.Configuration);
        FuzzInput.Observe(result.Warnings);
        // What `start -c` does next: a validated configuration always maps.
        _ = result.Configuration.ToMachineIdOptions();
    }

    private static void EmulatorYaml(byte[] input)
    {
        var text = FuzzInput.Text(input);
        Try(() => FuzzInput.Observe(EmulatorConfiguration.Parse(text, "/nonexistent/fuzz")));
        Try(() => FuzzInput.Observe(ResourceYaml.Parse(text)));
    }

    private static void TlsIdentity(byte[] input)
    {
        var identity = TeleportTlsIdentity.FromDer(input);
        FuzzInput.Observe(identity);
        identity.Certificate.Dispose();
    }

    private static void WebApiJson(byte[] input)
    {
        // The same bytes as each body the SDK parses: a find/ping answer, a legacy join answer, an error body.
        try
        {
            FuzzInput.Observe(ProxyWebClient.ParseFindResponse(input, new HostPort("proxy.example.com", 443), "GET /webapi/find"));
        }
        catch (TeleportProtocolException)
        {
        }

        try
        {
            FuzzInput.Observe(ProxyWebClient.ParseCertsResponse(input, "POST /webapi/host/credentials"));
        }
        catch (TeleportProtocolException)
        {
        }

        var error = WireErrors.FromHttp(HttpStatusCode.BadRequest, input, "GET /webapi/find", "proxy.example.com:443");
        Check(error is not null && !error.Message.Contains('\n', StringComparison.Ordinal), "error message is one line");
    }

    private static void GoDurationText(byte[] input)
    {
        var text = FuzzInput.Text(input);
        var parsed = GoDuration.TryParse(text, out var value);
        try
        {
            var strict = GoDuration.Parse(text);
            Check(parsed && strict == value, "GoDuration.Parse and TryParse agree");
        }
        catch (TeleportFormatException)
        {
            Check(!parsed, "GoDuration.Parse and TryParse agree");
            throw;
        }

        // Durations the SDK formats (logs, YAML it writes) read back as the same value.
        Check(GoDuration.Parse(GoDuration.Format(value)) == value, "GoDuration format round trip");
    }

    private static void ProxySshFrame(byte[] input)
    {
        // Whole, and split where the first byte says: gRPC hands messages over in segments.
        var whole = ProxySshResponseFrame.Parse(new ReadOnlySequence<byte>(input));
        var split = input.Length == 0 ? 0 : input[0] % input.Length;
        ProxySshResponseFrame segmented;
        try
        {
            segmented = ProxySshResponseFrame.Parse(SegmentedSequence.Create(input, split));
        }
        catch
        {
            whole.Release();
            throw;
        }

        try
        {
            Check(whole.HasSshFrame == segmented.HasSshFrame && whole.FipsEnabled == segmented.FipsEnabled
                  && whole.Payload.Span.SequenceEqual(segmented.Payload.Span), "segmented parse agrees");
        }
        finally
        {
            whole.Release();
            segmented.Release();
        }
    }

    private static void BotStorage(byte[] input)
    {
        // What start-up does with storage it finds: decode, then rebuild and verify the identity
        // (a TeleportException means "unusable storage": the loader then joins again).
        try
        {
            var inFlight = BotIdentityStoreFormat.DecodeInFlight(input);
            FuzzInput.Observe(inFlight.NewPublicKey);
        }
        catch (TeleportFormatException)
        {
        }

        var stored = BotIdentityStoreFormat.DecodeIdentity(input);
        using var key = PrivateKey.ImportPem(stored.PrivateKeyPem);
        var identity = BotIdentity.Create(key, stored.Material);
        FuzzInput.Observe(identity.TlsIdentity);
        var again = BotIdentityStoreFormat.DecodeIdentity(BotIdentityStoreFormat.EncodeIdentity(stored)).Material;
        Check(again.TlsCertificatePem == stored.Material.TlsCertificatePem && again.SshCertificate == stored.Material.SshCertificate
              && again.TlsCaCertificatesPem.SequenceEqual(stored.Material.TlsCaCertificatesPem) && again.SshCaKeys.SequenceEqual(stored.Material.SshCaKeys)
              && again.JoinMethod == stored.Material.JoinMethod, "stored identity round trip");
    }

    private static void TlsClientHello(byte[] input)
    {
        var hello = ClientHello.Parse(input);
        FuzzInput.Observe(hello?.ApplicationProtocols);
        _ = hello?.ServerName;
    }

    /// <summary>Runs a second parser on the same input; its documented exception is fine.</summary>
    private static void Try(Action parse)
    {
        try
        {
            parse();
        }
        catch (TeleportFormatException)
        {
        }
    }

    /// <summary>An invariant of the parser; a violation is a bug (reported like a crash).</summary>
    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }
}

/// <summary>A parser broke one of its own invariants (round trip, agreement of two entry points).</summary>
internal sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException(string message)
        : base("Invariant broken: " + message)
    {
    }

    public FuzzInvariantException()
    {
    }

    public FuzzInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
