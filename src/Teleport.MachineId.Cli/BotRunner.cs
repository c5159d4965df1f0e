using Microsoft.Extensions.Logging;
using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Outputs.Ssh;
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
    /// <paramref name="cancellationToken"/> fires. Either way every check that can fail here — the
    /// bot's and outputs' options, each destination usable, the storage lockable and writable —
    /// runs before anything is spent remotely (a single-use join token).
    /// </summary>
    /// <returns>The results of the first write of each output (none when stopped before they were written).</returns>
    /// <exception cref="CliException">A setting is unusable or the cluster refused what it names; the message names the flag or key.</exception>
    public static async Task<IReadOnlyList<IdentityOutputResult>> RunAsync(
        BotRunPlan plan, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            plan.CheckLocalInputs();
            if (plan.NeverUsesSystemTrustStore)
            {
                // On Linux the first certificate chain built in a process (checking the stored identity,
                // every mutual-TLS handshake) reads and parses the whole OS store, 40-90 ms of a one-shot
                // run that never consults it here.
                ProcessTrustStore.ExcludeFromThisProcess();
            }

            return await RunCheckedAsync(plan, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ReferenceEquals(CliErrors.ForRun(ex, plan), ex))
        {
            throw CliErrors.ForRun(ex, plan);
        }
    }

    private static async Task<IReadOnlyList<IdentityOutputResult>> RunCheckedAsync(
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
            var services = await PlanServices.CreateCheckedAsync(plan, signer, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
            await using (services.ConfigureAwait(false))
            {
                var identity = await JoinOrRenewOnceAsync(plan.Bot, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
                bot.Set(identity);
                CliLog.BotReady(logger, identity);
                var results = new List<IdentityOutputResult>();
                for (var i = 0; i < services.Outputs.Count; i++)
                {
                    results.Add(await RefusalNamesRoles(services.Outputs[i].RenewNowAsync(cancellationToken), plan, i).ConfigureAwait(false));
                }

                foreach (var service in services.Others)
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

                CliLog.OneshotDone(logger, results.Count);
                return results;
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
                var services = await PlanServices.CreateCheckedAsync(plan, signer, loggerFactory, timeProvider, cancellationToken).ConfigureAwait(false);
                await using (services.ConfigureAwait(false))
                {
                    BotIdentity? loaded = null;
                    void OnLoaded(object? sender, BotIdentityChangedEventArgs change)
                    {
                        if (change.Reason == BotIdentityChangeReason.LoadedFromStorage)
                        {
                            loaded = change.Identity;
                        }
                    }

                    provider.IdentityChanged += OnLoaded;
                    await provider.StartAsync(cancellationToken).ConfigureAwait(false);
                    var ready = await provider.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
                    provider.IdentityChanged -= OnLoaded;
                    if (ReferenceEquals(ready, loaded))
                    {
                        ready = await AwaitStartupRenewalAsync(provider, ready, logger, cancellationToken).ConfigureAwait(false);
                    }

                    CliLog.BotReady(logger, ready);
                    foreach (var service in services.All)
                    {
                        await service.StartAsync(cancellationToken).ConfigureAwait(false);
                    }

                    var results = new List<IdentityOutputResult>();
                    for (var i = 0; i < services.Outputs.Count; i++)
                    {
                        results.Add(await RefusalNamesRoles(services.Outputs[i].WaitUntilReadyAsync(cancellationToken), plan, i).ConfigureAwait(false));
                    }

                    foreach (var service in services.Others)
                    {
                        await service.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
                    }

                    CliLog.Running(logger, services.All.Count);
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
            }
        }
    }

    /// <summary>
    /// The plan's services, created (which validates their options) and their destinations checked
    /// before anything is spent remotely: identity outputs (whose results the run returns), then
    /// ssh_host outputs and multiplexers.
    /// </summary>
    private sealed class PlanServices : IAsyncDisposable
    {
        private PlanServices(List<IdentityOutputService> outputs, List<IOutputService> others)
        {
            Outputs = outputs;
            Others = others;
            All = [.. outputs, .. others];
        }

        public List<IdentityOutputService> Outputs { get; }

        public List<IOutputService> Others { get; }

        public List<IOutputService> All { get; }

        /// <exception cref="ArgumentException">A service's options are invalid.</exception>
        /// <exception cref="Destinations.DestinationException">A destination cannot be used.</exception>
        public static async Task<PlanServices> CreateCheckedAsync(
            BotRunPlan plan, TeleportSshCertificateSigner signer, ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken)
        {
            var services = new PlanServices([], []);
            try
            {
                foreach (var options in plan.Outputs)
                {
                    services.Add(IdentityOutputService.Create(signer, options, loggerFactory, timeProvider));
                }

                foreach (var options in plan.SshHostOutputs)
                {
                    services.Add(SshHostOutputService.Create(signer, options, loggerFactory, timeProvider));
                }

                foreach (var options in plan.Multiplexers)
                {
                    services.Add(SshMultiplexerService.Create(signer, options, loggerFactory, timeProvider));
                }

                foreach (var service in services.All)
                {
                    await service.VerifyDestinationAsync(cancellationToken).ConfigureAwait(false);
                }

                return services;
            }
            catch
            {
                await services.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var service in All)
            {
                await service.DisposeAsync().ConfigureAwait(false);
            }
        }

        private void Add(IOutputService service)
        {
            if (service is IdentityOutputService output)
            {
                Outputs.Add(output);
            }
            else
            {
                Others.Add(service);
            }

            All.Add(service);
        }
    }

    /// <summary>
    /// A stored identity is renewed at once at start-up (tbot's rule). Outputs started before that
    /// renewal would issue their certificates twice — with the stored identity, then again on the
    /// renewal — so they wait for it (the provider shares the renewal in flight). If it fails, the
    /// stored identity is still valid: the outputs use it and the provider keeps retrying.
    /// </summary>
    private static async Task<BotIdentity> AwaitStartupRenewalAsync(BotIdentityProvider provider, BotIdentity loaded, ILogger logger, CancellationToken cancellationToken)
    {
        if (!ReferenceEquals(provider.Current, loaded))
        {
            return provider.Current ?? loaded;
        }

        try
        {
            return await provider.RenewNowAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TeleportException ex)
        {
            CliLog.StartupRenewalFailed(logger, CliErrors.OneLine(ex.Message));
            return provider.Current ?? loaded;
        }
    }

    /// <summary>The cluster refusing an output's certificates is about the roles asked for: say which setting holds them.</summary>
    private static async Task<IdentityOutputResult> RefusalNamesRoles(Task<IdentityOutputResult> issue, BotRunPlan plan, int index)
    {
        try
        {
            return await issue.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TeleportNotFoundException or TeleportAccessDeniedException)
        {
            var roles = plan.Outputs[index].Roles;
            var asked = roles.Count == 0
                ? "every role the bot may impersonate"
                : $"the roles {string.Join(", ", roles)} ({plan.Names.Roles(index)})";
            throw CliException.Refused($"The cluster refused the certificates for {asked}: {CliErrors.OneLine(ex.Message)}", ex);
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
