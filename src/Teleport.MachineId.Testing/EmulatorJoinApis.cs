namespace Teleport.MachineId.Testing;

/// <summary>Which join APIs the emulated cluster serves.</summary>
public enum EmulatorJoinApis
{
    /// <summary>
    /// Teleport 18.0/18.1: only the legacy APIs (<c>POST /webapi/host/credentials</c>,
    /// <c>proto.JoinService/RegisterUsingToken</c> and, for bound keypair,
    /// <c>proto.JoinService/RegisterUsingBoundKeypairMethod</c>); <c>teleport.join.v1.JoinService/Join</c> answers Unimplemented.
    /// </summary>
    Legacy = 1,

    /// <summary>Later 18.x and 19: the unified <c>teleport.join.v1.JoinService/Join</c> as well as the legacy APIs.</summary>
    LegacyAndUnified = 2,
}
