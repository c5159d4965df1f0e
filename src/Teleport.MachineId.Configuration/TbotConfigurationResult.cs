namespace Teleport.MachineId.Configuration;

/// <summary>A configuration read by <see cref="TbotConfigurationReader"/>, with the warnings found on the way.</summary>
public sealed class TbotConfigurationResult
{
    internal TbotConfigurationResult(TbotConfiguration configuration, IReadOnlyList<TbotConfigurationIssue> warnings)
    {
        Configuration = configuration;
        Warnings = warnings;
    }

    /// <summary>The validated configuration.</summary>
    public TbotConfiguration Configuration { get; }

    /// <summary>
    /// Settings tbot accepts but warns about (deprecated keys, a renewal interval not shorter than
    /// the TTL, overrides that replace file values, …); empty when there are none.
    /// </summary>
    public IReadOnlyList<TbotConfigurationIssue> Warnings { get; }
}
