using BenchmarkDotNet.Attributes;
using Teleport.MachineId.Configuration;

namespace Teleport.MachineId.Benchmarks;

/// <summary>Reading tbot v2 YAML: a typical identity-output file, and a file rejected with problems.</summary>
[MemoryDiagnoser]
public class TbotConfigurationBenchmarks
{
    // The SSH guide's examples/tbot.yaml without its comments.
    private const string Typical = """
        version: v2
        proxy_server: teleport.example.com:443
        onboarding:
          join_method: token
          token: /var/lib/teleport/bot-token
        storage:
          type: directory
          path: /var/lib/teleport/bot
        credential_ttl: 1h
        renewal_interval: 20m
        services:
          - type: identity
            destination:
              type: directory
              path: /opt/machine-id
            roles:
              - access
            ssh_config: "on"
        """;

    private const string Invalid = """
        version: v2
        proxy_sever: teleport.example.com:443
        fips: true
        onboarding:
          join_method: gitlab
        services:
          - type: ssh-multiplexer
          - type: identity
            destination: {type: kubernetes_secret, name: s}
        """;

    [Benchmark(Baseline = true)]
    public TbotConfiguration ReadTypical() => TbotConfigurationReader.Read(Typical).Configuration;

    [Benchmark]
    public int ReadInvalid()
    {
        try
        {
            TbotConfigurationReader.Read(Invalid);
            return 0;
        }
        catch (TbotConfigurationException ex)
        {
            return ex.Errors.Count;
        }
    }

    [Benchmark]
    public TimeSpan ParseDuration() => GoDuration.Parse("2h45m30.5s");

    [Benchmark]
    public string FormatDuration() => GoDuration.Format(TimeSpan.FromMinutes(90));
}
