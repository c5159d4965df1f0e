using System.Runtime.InteropServices;

namespace Teleport.MachineId.Cli;

/// <summary>
/// SIGINT/SIGTERM (and SIGQUIT) cancel the command's token: daemons stop renewing and exit 0,
/// one-shot runs stop where they are (exit code 130).
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly PosixSignalRegistration[] _registrations;

    public StopSignals()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Stop),
        ];
    }

    public CancellationToken Token => _stopping.Token;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _stopping.Dispose();
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _stopping.Cancel();
    }
}
