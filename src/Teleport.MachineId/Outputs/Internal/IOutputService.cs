namespace Teleport.MachineId.Outputs.Internal;

/// <summary>
/// The shape every output service shares (identity, ssh_host, ssh-multiplexer), for the code that runs
/// several of them alike: the CLI's runner and the hosting integration.
/// </summary>
internal interface IOutputService : IAsyncDisposable
{
    /// <summary>The service's name for logs.</summary>
    string Name { get; }

    /// <summary>Whether the service can run once and exit (tbot's one-shot mode); the multiplexer cannot.</summary>
    bool SupportsOneshot { get; }

    /// <summary>The last failure since the last success, or <see langword="null"/>.</summary>
    Exception? LastError { get; }

    /// <summary>Checks the destination can be written, so a run can fail before it spends a single-use join token.</summary>
    /// <exception cref="Destinations.DestinationException">The destination cannot be used.</exception>
    Task VerifyDestinationAsync(CancellationToken cancellationToken);

    /// <summary>Starts in the background.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Waits until the first renewal succeeded.</summary>
    Task WaitUntilReadyAsync(CancellationToken cancellationToken);

    /// <summary>One renewal now (one-shot mode).</summary>
    Task RenewOnceAsync(CancellationToken cancellationToken);
}
