using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Cli;

/// <summary>Runs a <see cref="BotRunPlan"/>: the bot identity provider, one signer, and the identity outputs.</summary>
internal static class BotRunner
{
    /// <summary>Attempts of a one-shot join or renewal when the cluster cannot be reached.</summary>
    internal const int OneshotAttempts = 3;

    /// <summary>
    /// One-shot: joins or renews once (a few attempts on transient failures), writes every output
    /// once, returns. Otherwise: starts the provider and the outputs and keeps renewing until
    /// <paramref name="cancellationToken"/> fires. Either way every check that can fail here — the
    /// bot's and outputs' options, each destination usable, the storage lockable and writable —
    /// runs before anything is spent remotely (a single-use join token).
    /// </summary>
    /// <returns>The results of the first write of each output (none when stopped before they were written).</returns>
    public static async Task<IReadOnlyList<IdentityOutputResult>> RunAsync(
        BotRunPlan plan, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger("tbot-dotnet");
        if (plan.Oneshot)
        {
            return await RunOnceAsync(plan, logger, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await RunDaemonAsync(plan, logger, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A stop (SIGTERM) while starting is as clean as one while running: tbot exits 0 either way,
            // and service managers treat anything else as a failed stop.
            CliLog.Stopping(logger);
            return [];
        }
    }

    private static async Task<IReadOnlyList<IdentityOutputResult>> RunOnceAsync(
        BotRunPlan plan, ILogger logger, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var bot = new OneShotBotIdentity(timeProvider);
        var signer = new TeleportSshCertificateSigner(bot, plan.Bot, loggerFactory, timeProvider);
        await using (signer.ConfigureAwait(false))
        {
            var outputs = await CreateCheckedOutputsAsync(plan, signer, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            try
            {
                var identity = await JoinOrRenewOnceAsync(plan.Bot, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
                bot.Set(identity);
                CliLog.BotReady(logger, identity);
                var results = new List<IdentityOutputResult>();
                foreach (var output in outputs)
                {
                    results.Add(await output.RenewNowAsync(cancellationToken).ConfigureAwait(false));
                }

                CliLog.OneshotDone(logger, results.Count);
                return results;
            }
            finally
            {
                await DisposeAllAsync(outputs).ConfigureAwait(false);
            }
        }
    }

    private static async Task<IReadOnlyList<IdentityOutputResult>> RunDaemonAsync(
        BotRunPlan plan, ILogger logger, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var provider = BotIdentityProvider.Create(plan.Bot, loggerFactory, timeProvider);
        await using (provider.ConfigureAwait(false))
        {
            var signer = new TeleportSshCertificateSigner(provider, plan.Bot, loggerFactory, timeProvider);
            await using (signer.ConfigureAwait(false))
            {
                var outputs = await CreateCheckedOutputsAsync(plan, signer, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
                try
                {
                    await provider.StartAsync(cancellationToken).ConfigureAwait(false);
                    var ready = await provider.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
                    CliLog.BotReady(logger, ready);
                    foreach (var output in outputs)
                    {
                        await output.StartAsync(cancellationToken).ConfigureAwait(false);
                    }

                    var results = new List<IdentityOutputResult>();
                    foreach (var output in outputs)
                    {
                        results.Add(await output.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false));
                    }

                    CliLog.Running(logger, results.Count);
                    try
                    {
                        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        CliLog.Stopping(logger);
                    }

                    return results;
                }
                finally
                {
                    await DisposeAllAsync(outputs).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Creates every output (which validates its options) and checks each destination can be written.</summary>
    /// <exception cref="ArgumentException">An output's options are invalid.</exception>
    /// <exception cref="Destinations.DestinationException">A destination cannot be used.</exception>
    private static async Task<List<IdentityOutputService>> CreateCheckedOutputsAsync(
        BotRunPlan plan, TeleportSshCertificateSigner signer, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var outputs = new List<IdentityOutputService>();
        try
        {
            foreach (var options in plan.Outputs)
            {
                outputs.Add(IdentityOutputService.Create(signer, options, loggerFactory, timeProvider));
            }

            foreach (var output in outputs)
            {
                await output.Destination.VerifyWritableAsync(cancellationToken).ConfigureAwait(false);
            }

            return outputs;
        }
        catch
        {
            await DisposeAllAsync(outputs).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task DisposeAllAsync(List<IdentityOutputService> outputs)
    {
        foreach (var output in outputs)
        {
            await output.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<BotIdentity> JoinOrRenewOnceAsync(MachineIdOptions options, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await BotIdentityProvider.JoinOrRenewOnceAsync(options, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TeleportException ex) when (ex.IsTransient && attempt < OneshotAttempts)
            {
                CliLog.Retrying(loggerFactory.CreateLogger("tbot-dotnet"), attempt, OneshotAttempts, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(attempt), timeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
