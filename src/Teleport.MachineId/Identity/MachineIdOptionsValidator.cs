using Microsoft.Extensions.Options;
using Teleport.MachineId.Identity.Internal;
using Teleport.MachineId.Identity.Joining;

namespace Teleport.MachineId;

/// <summary>
/// Validates <see cref="MachineIdOptions"/> for the options system, so a host with
/// <c>ValidateOnStart</c> (what <c>AddTeleportMachineId</c> registers) fails at start-up with every problem listed.
/// </summary>
public sealed class MachineIdOptionsValidator : IValidateOptions<MachineIdOptions>
{
    /// <summary>Checks the options.</summary>
    /// <param name="name">The options name.</param>
    /// <param name="options">The options.</param>
    /// <returns>Success, or a failure listing every problem (never the token).</returns>
    public ValidateOptionsResult Validate(string? name, MachineIdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = MachineIdOptionsValidation.Validate(options, JoinMethodRegistry.Default);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
