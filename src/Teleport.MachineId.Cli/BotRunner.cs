using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Teleport.MachineId.Cli;

/// <summary>Runs a <see cref="BotRunPlan"/>: the bot identity provider, one signer, and the services (identity and ssh_host outputs, ssh-multiplexers).</summary>
internal static class BotRunner
{
    /// <summary>Attempts of a one-shot join or renewal when the cluster cannot be reached.</summary>
    internal const int OneshotAttempts = 3;

    /// <summary>
    /// One-shot: joins or renews once (a few attempts on transient failures), writes every output
    /// once, returns. Otherwise: starts the provider and the outputs and keeps renewing until
    /// <paramref name="cancellationToken"/> fires.
    /// </summary>
    /// <returns>The results of the first write of each output (none when stopped before they were written).</returns>
    public static async Task<IReadOnlyList<IdentityOutputResult>> RunAsync(
        BotRunPlan plan, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger("tbot-dotnet");
        if (plan.Oneshot)
        {
            var identity = await JoinOrRenewOnceAsync(plan.Bot, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            CliLog.BotReady(logger, identity);
            var results = new List<IdentityOutputResult>();
            var signer = new TeleportSshCertificateSigner(new FixedBotIdentity(identity, timeProvider), plan.Bot, loggerFactory, timeProvider);
            await using (signer.ConfigureAwait(false))
            {
                foreach (var options in plan.Outputs)
                {
                    var output = IdentityOutputService.Create(signer, options, loggerFactory, timeProvider);
                    await using (output.ConfigureAwait(false))
                    {
                        results.Add(await output.RenewNowAsync(cancellationToken).ConfigureAwait(false));
                    }
                }

                foreach (var service in CreateServices(plan with { Outputs = [] }, signer, loggerFactory, timeProvider))
                {
                    await using (service.ConfigureAwait(false))
                    {
                        if (service.SupportsOneshot)
                        {
                            await service.RenewOnceAsync(cancellationToken).ConfigureAwait(false);
                        }
                        else
                        {
                            // tbot: long-running services (the ssh-multiplexer) do not take part in one-shot runs.
                            CliLog.OneshotSkipped(logger, service.Name);
                        }
                    }
                }
            }

            CliLog.OneshotDone(logger, results.Count);
            return results;
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

    private static async Task<IReadOnlyList<IdentityOutputResult>> RunDaemonAsync(
        BotRunPlan plan, ILogger logger, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var provider = BotIdentityProvider.Create(plan.Bot, loggerFactory, timeProvider);
        await using (provider.ConfigureAwait(false))
        {
            await provider.StartAsync(cancellationToken).ConfigureAwait(false);
            var ready = await provider.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
            CliLog.BotReady(logger, ready);
            var signer = new TeleportSshCertificateSigner(provider, plan.Bot, loggerFactory, timeProvider);
            await using (signer.ConfigureAwait(false))
            {
                var outputs = plan.Outputs.Select(o => IdentityOutputService.Create(signer, o, loggerFactory, timeProvider)).ToList();
                var services = CreateServices(plan with { Outputs = [] }, signer, loggerFactory, timeProvider).ToList();
                var all = outputs.Cast<IOutputService>().Concat(services).ToList();
                try
                {
                    foreach (var service in all)
                    {
                        await service.StartAsync(cancellationToken).ConfigureAwait(false);
                    }

                    var results = new List<IdentityOutputResult>();
                    foreach (var output in outputs)
                    {
                        results.Add(await output.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false));
                    }

                    foreach (var service in services)
                    {
                        await service.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
                    }

                    CliLog.Running(logger, all.Count);
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
                    foreach (var service in all)
                    {
                        await service.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
        }
    }

    /// <summary>The plan's services in order: identity outputs, ssh_host outputs, multiplexers.</summary>
    private static IEnumerable<IOutputService> CreateServices(BotRunPlan plan, TeleportSshCertificateSigner signer, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        foreach (var options in plan.Outputs)
        {
            yield return IdentityOutputService.Create(signer, options, loggerFactory, timeProvider);
        }

        foreach (var options in plan.SshHostOutputs)
        {
            yield return SshHostOutputService.Create(signer, options, loggerFactory, timeProvider);
        }

        foreach (var options in plan.Multiplexers)
        {
            yield return SshMultiplexerService.Create(signer, options, loggerFactory, timeProvider);
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
