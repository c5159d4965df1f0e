using BenchmarkDotNet.Attributes;
using Teleport.MachineId.OpenSsh;

namespace Teleport.MachineId.Benchmarks;

/// <summary>
/// Rendering of tbot's ssh_config and known_hosts for the inputs of tbot's golden test (local +
/// leaf cluster, TLS routing, one RSA host CA key listed twice per cluster). Runs on every renewal.
/// </summary>
[MemoryDiagnoser]
public class OpenSshRenderBenchmarks
{
    // The public host CA key of tbot's Test_renderSSHConfig fixture (test data, not a secret).
    private const string HostCaKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC8kYdyZA1ZSNjZ4pqybDXvWplHQHkU6fPL+cAYHUkAT5CiQV4GOjwaSTcvZNK5U2fQ0jm6jknCnsZi1t9JujCjXUT3bYHCnSwWhXN55QzIu530Q/MeXz5W8TxYRrWULgPhqqtq8B9N554+s40higG21fmhhdDtpmQzw3vJLspY05mnL1+fW+RIKkM4rb150sdZXKINxfNQvERteE8WX0vL2yG4RuqJzYtGCDEGeHd+HLne7xfmqPxun7bUYaxAlplhm1z2J41hqaj8pBwDSEV9SBOZXvh6FjS9nvJCT7Z1bbZwWrAO/7E2ac0eV+5iEc0J+TyufO3F9uod+J+AICtB";

    private SshConfigParameters _parameters = null!;
    private IReadOnlyList<ClusterHostCaKeys> _hostCas = null!;

    [GlobalSetup]
    public void Setup()
    {
        _parameters = new SshConfigParameters("tele.blackmesa.gov", 443, "/test/dir", ["tele.blackmesa.gov", "tele.aperture.labs"],
            SshProxyCommand.ForTbot("/path/to/tbot", "/test/dir", "tele.blackmesa.gov", 443, tlsRouting: true, connectionUpgrade: true));
        _hostCas =
        [
            new ClusterHostCaKeys("tele.blackmesa.gov", [HostCaKey, HostCaKey]),
            new ClusterHostCaKeys("tele.aperture.labs", [HostCaKey, HostCaKey]),
        ];
    }

    /// <summary>Main ssh_config + main known_hosts (the pair OpenSSH reads).</summary>
    [Benchmark(Baseline = true)]
    public int SshConfigAndKnownHosts() =>
        SshConfigRenderer.RenderSshConfig(_parameters).Length
        + KnownHostsRenderer.RenderKnownHosts("tele.blackmesa.gov", _hostCas).Length;

    /// <summary>Every OpenSSH file of the output: main pair plus both per-cluster pairs (6 files).</summary>
    [Benchmark]
    public int AllSixFiles()
    {
        var length = SshConfigAndKnownHosts();
        foreach (var cluster in _hostCas)
        {
            length += SshConfigRenderer.RenderClusterSshConfig(_parameters, cluster.ClusterName).Length
                + KnownHostsRenderer.RenderClusterKnownHosts(cluster).Length;
        }

        return length;
    }
}
