using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Net;
using System.Text;
using Teleport.MachineId.Configuration;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.IdentityFiles;
using Teleport.MachineId.OpenSsh;
using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.Outputs.SshMultiplexer.Internal;
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
        new("ssh-agent-request", "SSH agent requests from local clients on the multiplexer's agent.sock (draft-miller-ssh-agent)", SshAgentRequest),
        new("ping-tunnel", "a proxy's bytes in Teleport's ping-framed legacy upgrade tunnel (alpn-ping without WebSocket)", PingTunnel,
            typeof(IOException)),
        new("multiplexer-request", "ssh-multiplexer v1.sock requests (host:port[|cluster]) from local clients", MultiplexerRequest),
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

    private static void SshAgentRequest(byte[] input)
    {
        // The agent never throws for a request: every malformed one is answered SSH_AGENT_FAILURE.
        var response = AgentKeyring.Value.Handle(input);
        Check(response.Length >= 5 && BinaryPrimitives.ReadUInt32BigEndian(response) == response.Length - 4, "agent response framing");
        Check(response[4] is SshAgentKeyring.AgentFailure or SshAgentKeyring.IdentitiesAnswer or SshAgentKeyring.SignResponse, "agent response type");
        if (response[4] == SshAgentKeyring.SignResponse)
        {
            var reader = new SshWireReader(response.AsSpan(5), "fuzz sign response");
            var signature = new SshWireReader(reader.ReadString(), "fuzz signature");
            Check(signature.ReadUtf8String().Length > 0 && !signature.ReadString().IsEmpty, "agent signature blob");
        }
    }

    private static void PingTunnel(byte[] input)
    {
        // Teleport's own framing (the WebSocket form is the BCL's, which AFL++ cannot see into).
        using var tunnel = new Teleport.MachineId.Wire.Connections.PingFramedStream(new MemoryStream(input, writable: false));
        var buffer = new byte[4096];
        long total = 0;
        int read;
        while ((read = tunnel.ReadAsync(buffer).AsTask().GetAwaiter().GetResult()) > 0)
        {
            total += read;
            Check(total <= input.Length, "a tunnel never yields more bytes than it was sent");
        }
    }

    private static void MultiplexerRequest(byte[] input)
    {
        if (!SshMultiplexerTarget.TryParse(FuzzInput.Text(input), out var target, out var error))
        {
            Check(!string.IsNullOrEmpty(error), "a refused multiplexer request says why");
            return;
        }

        Check(target.Host.Length > 0 && target.Port is >= 0 and <= 65535, "multiplexer target host and port");
    }

    /// <summary>
    /// One keyring for every input, built on first use (after SharpFuzz mapped its coverage memory)
    /// from fixed Ed25519 keys so that seeds can name the served key blobs.
    /// </summary>
    private static readonly Lazy<SshAgentKeyring> AgentKeyring = new(CreateAgentKeyring);

    /// <summary>The agent keyring the target serves (its seeds name these keys): fixed keys, a fixed certificate.</summary>
    internal static SshAgentKeyring CreateAgentKeyring()
    {
        var key = FixedEd25519Key(1);
        using var ca = FixedEd25519Key(2);
        var certificate = new SshCertificateBuilder
        {
            PublicKey = key.PublicKey,
            Type = SshCertificateType.User,
            KeyId = "bot-fuzz",
            ValidAfter = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            ValidBefore = new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero),
        };
        certificate.Principals.Add("root");
        return SshAgentKeyring.ForCertificate(key, certificate.Sign(ca));
    }

    /// <summary>A throw-away Ed25519 key whose seed is 32 copies of <paramref name="fill"/> (PKCS#8, RFC 8410).</summary>
    internal static PrivateKey FixedEd25519Key(byte fill)
    {
        byte[] prefix = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        var der = prefix.Concat(Enumerable.Repeat(fill, 32)).ToArray();
        return PrivateKey.ImportPem(PemEncoding.WriteString("PRIVATE KEY", der));
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
