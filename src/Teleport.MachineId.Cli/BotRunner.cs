using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs;

namespace Teleport.MachineId.Cli;

/// <summary>Runs a <see cref="BotRunPlan"/>: the bot identity provider, one signer, and the identity outputs.</summary>
internal static class BotRunner
{
    /// <summary>
    /// One-shot: joins or renews once, writes every output once, returns. Otherwise: starts the
    /// provider and the outputs and keeps renewing until <paramref name="cancellationToken"/> fires.
    /// </summary>
    /// <returns>The results of the first write of each output.</returns>
    public static async Task<IReadOnlyList<IdentityOutputResult>> RunAsync(
        BotRunPlan plan, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger("tbot-dotnet");
        var provider = BotIdentityProvider.Create(plan.Bot, loggerFactory, timeProvider);
        await using (provider.ConfigureAwait(false))
        {
            await provider.StartAsync(cancellationToken).ConfigureAwait(false);
            var identity = await provider.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
            CliLog.BotReady(logger, identity);
            var signer = new TeleportSshCertificateSigner(provider, plan.Bot, loggerFactory, timeProvider);
            await using (signer.ConfigureAwait(false))
            {
                var outputs = plan.Outputs.Select(o => IdentityOutputService.Create(signer, o, loggerFactory, timeProvider)).ToList();
                try
                {
                    var results = new List<IdentityOutputResult>();
                    if (plan.Oneshot)
                    {
                        foreach (var output in outputs)
                        {
                            results.Add(await output.RenewNowAsync(cancellationToken).ConfigureAwait(false));
                        }

                        CliLog.OneshotDone(logger, results.Count);
                        return results;
                    }

                    foreach (var output in outputs)
                    {
                        await output.StartAsync(cancellationToken).ConfigureAwait(false);
                    }

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
                    foreach (var output in outputs)
                    {
                        await output.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
        }
    }
}
