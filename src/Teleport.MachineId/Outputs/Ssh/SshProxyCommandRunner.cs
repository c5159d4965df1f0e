using System.Globalization;
using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Wire;
using Teleport.MachineId.Wire.Connections;
using Teleport.MachineId.Wire.Streams;

namespace Teleport.MachineId.Outputs.Ssh;

/// <summary>What <c>tbot-dotnet ssh-proxy-command</c> was asked (tbot's flags).</summary>
/// <param name="DestinationDirectory">The identity output directory whose credentials authenticate to the proxy.</param>
/// <param name="ProxyServer">The proxy's SSH transport address, <c>host:port</c>.</param>
/// <param name="Cluster">The cluster of the node; the credentials' cluster when <see langword="null"/>.</param>
/// <param name="Host">The host ssh was asked for (<c>%h</c>).</param>
/// <param name="Port">The port ssh was asked for (<c>%p</c>).</param>
internal sealed record SshProxyCommandRequest(string DestinationDirectory, string ProxyServer, string? Cluster, string Host, int Port)
{
    /// <summary>tbot's <c>--[no-]connection-upgrade</c>: always or never; detected (Teleport's test) when neither is given.</summary>
    public AlpnUpgradePolicy ConnectionUpgrade { get; init; } = AlpnUpgradePolicy.Detect;
}

/// <summary>
/// The ProxyCommand: reads one consistent credential set from the destination, opens
/// <c>TransportService.ProxySSH</c> to the node on the proxy (no discovery), and copies ssh's
/// stdin to the node and the node's bytes to stdout until the node closes. Kept free of DI and
/// configuration machinery so the process starts fast.
/// </summary>
internal static class SshProxyCommandRunner
{
    private const int BufferSize = 64 * 1024;

    /// <exception cref="TeleportException">The credentials are unusable or the proxy refused.</exception>
    /// <param name="request">What ssh asked for.</param>
    /// <param name="input">ssh's bytes to the node (standard input).</param>
    /// <param name="output">The node's bytes to ssh (standard output).</param>
    /// <param name="loggerFactory">Logging (standard error).</param>
    /// <param name="cancellationToken">Stops the command.</param>
    /// <param name="trace">Phase timings of the set-up, when asked for (<see cref="StartupTrace"/>).</param>
    public static async Task RunAsync(
        SshProxyCommandRequest request, Stream input, Stream output, ILoggerFactory loggerFactory, CancellationToken cancellationToken, StartupTrace? trace = null)
    {
        var logger = loggerFactory.CreateLogger("Teleport.MachineId.Outputs.Ssh.SshProxyCommand");
        var proxy = HostPort.Parse(request.ProxyServer, TeleportDefaults.ProxyPort);
        using var credentials = await NodeCredentials.LoadDirectoryAsync(request.DestinationDirectory, cancellationToken).ConfigureAwait(false);
        trace?.Mark("credentials read");
        var cluster = string.IsNullOrEmpty(request.Cluster) ? credentials.ClusterName : request.Cluster;
        var node = TargetHostNames.Clean(request.Host, proxy.Host, cluster);
        var options = new WireClientOptions { ProxyServer = proxy, LoggerFactory = loggerFactory, ConnectionUpgrade = request.ConnectionUpgrade };
        using var dialer = new ProxyNodeDialer(proxy, () => credentials.Wire, options, logger, trace);
        var stream = await dialer.OpenAsync(node + ":" + request.Port.ToString(CultureInfo.InvariantCulture), cluster, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            trace?.Mark("ProxySSH stream open (node dialed)");
            OutputsLog.NodeConnected(logger, node, request.Port, cluster, proxy);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var up = CopyUpAsync(input, stream, stop.Token);
            await CopyDownAsync(stream, output, trace, cancellationToken).ConfigureAwait(false);

            // The node closed: nothing more to send. A read of stdin may be blocked in the kernel
            // and cannot be cancelled, so it is not awaited; the process exits next.
            await stop.CancelAsync().ConfigureAwait(false);
            _ = up.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    private static async Task CopyUpAsync(Stream input, ProxySshStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[BufferSize];
        int read;
        while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }

        await stream.ShutdownWriteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task CopyDownAsync(ProxySshStream stream, Stream output, StartupTrace? trace, CancellationToken cancellationToken)
    {
        // Each received frame goes straight from its pooled buffer to stdout (no copy in between).
        ReadOnlyMemory<byte> frame;
        while (!(frame = await stream.ReadFrameAsync(cancellationToken).ConfigureAwait(false)).IsEmpty)
        {
            if (trace is not null)
            {
                trace.Mark("first bytes from the node");
                trace = null;
            }

            // Synchronous on purpose: stdout is a pipe to ssh, and the console stream has no real
            // async write (its WriteAsync queues a synchronous write to another pool thread: two
            // thread hops and a task per chunk). A full pipe blocks here, which is the backpressure.
            output.Write(frame.Span);
            output.Flush();
        }
    }
}
