using System.Globalization;
using System.Reflection;
using Teleport.MachineId.Tests.Configuration;

namespace Teleport.MachineId.Tests.Limits;

/// <summary>docs/limits.md lists every limit <see cref="InputLimits"/> defines, with the value the code enforces.</summary>
public sealed class InputLimitsDocumentationTests
{
    [Test]
    public void The_limits_table_lists_every_limit_with_its_value()
    {
        var table = File.ReadAllText(ConfigurationTestFiles.RepositoryPath("docs/limits.md"));
        var sizes = typeof(InputLimits).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .Select(f => (f.Name, Value: InputLimits.Describe((int)f.GetRawConstantValue()!)))
            .ToList();
        var times = typeof(InputLimits).GetProperties(BindingFlags.Public | BindingFlags.Static)
            .Where(p => p.PropertyType == typeof(TimeSpan))
            .Select(p => (p.Name, Value: ((TimeSpan)p.GetValue(null)!).TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s"))
            .ToList();

        Assert.That(sizes, Has.Count.GreaterThanOrEqualTo(10), "the limits were found");
        Assert.Multiple(() =>
        {
            foreach (var (name, value) in sizes.Concat(times))
            {
                Assert.That(table, Does.Contain($"| `{name}` | {value} |"), name);
            }
        });
    }
}
