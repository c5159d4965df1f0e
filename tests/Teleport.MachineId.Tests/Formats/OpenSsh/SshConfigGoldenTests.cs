using Teleport.MachineId.OpenSsh;

namespace Teleport.MachineId.Tests.Formats.OpenSsh;

/// <summary>
/// Byte-for-byte comparison with tbot v18's golden files (TestData/OpenSsh, see PROVENANCE.md),
/// given exactly the inputs of the upstream test.
/// </summary>
public sealed class SshConfigGoldenTests
{
    private const string ProxyHost = "tele.blackmesa.gov";
    private const string LocalCluster = "tele.blackmesa.gov";
    private const string LeafCluster = "tele.aperture.labs";
    private const string Destination = "/test/dir";
    private const string Tbot = "/path/to/tbot";

    public sealed record Variant(string Name, bool TlsRouting, bool AlpnUpgradeRequired)
    {
        public override string ToString() => Name;

        public int ProxyPort => TlsRouting ? 443 : 3023;

        // tbot asks for the connection upgrade only when TLS routing is on.
        public bool ConnectionUpgrade => TlsRouting && AlpnUpgradeRequired;
    }

    public static IEnumerable<Variant> Variants =>
    [
        new("tls_routing-alpn_upgrade", true, true),
        new("tls_routing-no_alpn_upgrade", true, false),
        new("no_tls_routing-alpn_upgrade", false, true),
        new("no_tls_routing-no_alpn_upgrade", false, false),
    ];

    private static string Golden(Variant variant, string name) =>
        File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "OpenSsh", variant.Name, name + ".golden"));

    internal static SshConfigParameters Parameters(Variant variant) => new(
        ProxyHost, variant.ProxyPort, Destination, [LocalCluster, LeafCluster],
        SshProxyCommand.ForTbot(Tbot, Destination, ProxyHost, variant.ProxyPort, variant.TlsRouting, variant.ConnectionUpgrade));

    /// <summary>The upstream fixture's host CA: one RSA key, listed twice for each cluster.</summary>
    internal static IReadOnlyList<ClusterHostCaKeys> HostCas(string caKey) =>
    [
        new ClusterHostCaKeys(LocalCluster, [caKey, caKey]),
        new ClusterHostCaKeys(LeafCluster, [caKey, caKey]),
    ];

    internal static string FixtureCaKey(Variant variant)
    {
        var line = Golden(variant, "local_cluster_known_hosts").Split('\n')[1];
        return line["@cert-authority * ".Length..line.LastIndexOf(" type=host", StringComparison.Ordinal)];
    }

    [TestCaseSource(nameof(Variants))]
    public void Main_ssh_config(Variant variant) =>
        Assert.That(SshConfigRenderer.RenderSshConfig(Parameters(variant)), Is.EqualTo(Golden(variant, "ssh_config")));

    [TestCaseSource(nameof(Variants))]
    public void Local_cluster_ssh_config(Variant variant) =>
        Assert.That(SshConfigRenderer.RenderClusterSshConfig(Parameters(variant), LocalCluster), Is.EqualTo(Golden(variant, "local_cluster_ssh_config")));

    [TestCaseSource(nameof(Variants))]
    public void Leaf_cluster_ssh_config(Variant variant) =>
        Assert.That(SshConfigRenderer.RenderClusterSshConfig(Parameters(variant), LeafCluster), Is.EqualTo(Golden(variant, "remote_cluster_ssh_config")));

    [TestCaseSource(nameof(Variants))]
    public void Main_known_hosts(Variant variant) =>
        Assert.That(KnownHostsRenderer.RenderKnownHosts(ProxyHost, HostCas(FixtureCaKey(variant))), Is.EqualTo(Golden(variant, "known_hosts")));

    [TestCaseSource(nameof(Variants))]
    public void Local_cluster_known_hosts(Variant variant) =>
        Assert.That(KnownHostsRenderer.RenderClusterKnownHosts(HostCas(FixtureCaKey(variant))[0]), Is.EqualTo(Golden(variant, "local_cluster_known_hosts")));

    [TestCaseSource(nameof(Variants))]
    public void Leaf_cluster_known_hosts(Variant variant) =>
        Assert.That(KnownHostsRenderer.RenderClusterKnownHosts(HostCas(FixtureCaKey(variant))[1]), Is.EqualTo(Golden(variant, "remote_cluster_known_hosts")));

    [Test]
    public void Golden_inputs_cover_every_file()
    {
        // 4 variants x 6 files, all compared above (the multiplexer's goldens in muxed/ have their own tests).
        var root = Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", "OpenSsh");
        var files = Directory.GetFiles(root, "*.golden", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(root, f).StartsWith("muxed" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .ToArray();
        Assert.That(files, Has.Length.EqualTo(24));
    }

    [Test]
    public void Known_hosts_keys_drop_comments_like_MarshalAuthorizedKey()
    {
        var key = FixtureCaKey(Variants.First());
        var cluster = new ClusterHostCaKeys("c.example", [key + " host_ca@example  \n"]);
        Assert.That(cluster.PublicKeys, Is.EqualTo(new[] { key }));
        Assert.That(KnownHostsRenderer.RenderKnownHosts("proxy.example", [cluster]),
            Is.EqualTo($"@cert-authority proxy.example,c.example,*.c.example {key} type=host\n"));
    }

    [Test]
    public void File_names()
    {
        Assert.That(SshConfigRenderer.GetClusterFileName(LeafCluster), Is.EqualTo("tele.aperture.labs.ssh_config"));
        Assert.That(KnownHostsRenderer.GetClusterFileName(LeafCluster), Is.EqualTo("tele.aperture.labs.known_hosts"));
        Assert.That(SshConfigRenderer.FileName, Is.EqualTo("ssh_config"));
        Assert.That(KnownHostsRenderer.FileName, Is.EqualTo("known_hosts"));
    }

    [Test]
    public void Unwritable_inputs_are_refused()
    {
        var command = SshProxyCommand.ForTbot(Tbot, Destination, ProxyHost, 443, true, false);
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentException>(() => new SshConfigParameters(ProxyHost, 443, "relative/dir", [LocalCluster], command));
            Assert.Throws<ArgumentException>(() => new SshConfigParameters(ProxyHost, 443, "/dir/${HOME}", [LocalCluster], command));
            Assert.Throws<ArgumentException>(() => new SshConfigParameters(ProxyHost, 443, "/dir\nHost *", [LocalCluster], command));
            Assert.Throws<ArgumentException>(() => new SshConfigParameters("proxy host", 443, Destination, [LocalCluster], command));
            Assert.Throws<ArgumentException>(() => new SshConfigParameters(ProxyHost, 443, Destination, [], command));
            Assert.Throws<ArgumentException>(() => new SshConfigParameters(ProxyHost, 443, Destination, ["a b"], command));
            Assert.Throws<ArgumentException>(() => new SshConfigParameters(ProxyHost, 443, Destination, ["../etc"], command));
            Assert.Throws<ArgumentException>(() => new SshConfigParameters(ProxyHost, 443, Destination, ["a,b"], command));
            Assert.Throws<ArgumentOutOfRangeException>(() => new SshConfigParameters(ProxyHost, 0, Destination, [LocalCluster], command));
            Assert.Throws<ArgumentException>(() => new SshProxyCommand("/bin/tool", "a\nb"));
            Assert.Throws<ArgumentException>(() => SshProxyCommand.Quote("a\rb"));
            Assert.Throws<TeleportFormatException>(() => new ClusterHostCaKeys(LocalCluster, ["ssh-rsa"]));
            Assert.Throws<TeleportFormatException>(() => new ClusterHostCaKeys(LocalCluster, ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA"]));
            Assert.Throws<TeleportFormatException>(() => new ClusterHostCaKeys(LocalCluster, ["ssh-ed25519 !!!!"]));
        });
    }

    [Test]
    public void Quote_follows_tbot_and_keeps_OpenSSH_tokenizer_balanced()
    {
        Assert.Multiple(() =>
        {
            Assert.That(SshProxyCommand.Quote("/test/dir"), Is.EqualTo("'/test/dir'"));
            Assert.That(SshProxyCommand.Quote("it's"), Is.EqualTo("'it'\"'\"'s'"));
            Assert.That(SshProxyCommand.Quote("100%"), Is.EqualTo("'100%%'"));
            Assert.That(SshProxyCommand.Quote(@"C:\x"), Is.EqualTo("'C:'\"\\\\\"'x'"));
        });
    }
}
