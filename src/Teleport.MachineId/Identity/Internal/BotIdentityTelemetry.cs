using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Teleport.MachineId.Identity.Internal;

/// <summary>The instruments of one provider (see <see cref="MachineIdDiagnostics"/>).</summary>
internal sealed class BotIdentityTelemetry : IDisposable
{
    public static readonly ActivitySource ActivitySource = new(MachineIdDiagnostics.ActivitySourceName);

    private const string OperationTag = "teleport.machineid.operation";
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _renewals;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _ttlShortened;

    public BotIdentityTelemetry(IMeterFactory? meterFactory, Func<double?> secondsUntilExpiry)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(MachineIdDiagnostics.MeterName)) ?? new Meter(MachineIdDiagnostics.MeterName);
        _renewals = _meter.CreateCounter<long>("teleport.machineid.bot.renewals", "{renewal}", "Successful joins and renewals of the bot identity.");
        _failures = _meter.CreateCounter<long>("teleport.machineid.bot.renewal.failures", "{failure}", "Failed joins and renewals of the bot identity.");
        _duration = _meter.CreateHistogram<double>("teleport.machineid.bot.renewal.duration", "s", "Duration of joins and renewals, successful or not.");
        _ttlShortened = _meter.CreateCounter<long>("teleport.machineid.bot.ttl_shortened", "{renewal}", "Renewals granted a shorter lifetime than requested.");
        _meter.CreateObservableGauge<double>(
            "teleport.machineid.bot.identity.time_to_expiry",
            () => secondsUntilExpiry() is { } seconds ? [new Measurement<double>(seconds)] : Array.Empty<Measurement<double>>(),
            "s",
            "Seconds until the current bot identity expires (negative once expired).");
    }

    public static string OperationName(BotIdentityChangeReason reason) => reason switch
    {
        BotIdentityChangeReason.Joined => "join",
        BotIdentityChangeReason.Rejoined => "rejoin",
        _ => "renew",
    };

    public void Succeeded(string operation, TimeSpan duration, bool ttlShortened)
    {
        var tag = new KeyValuePair<string, object?>(OperationTag, operation);
        _renewals.Add(1, tag);
        _duration.Record(duration.TotalSeconds, tag);
        if (ttlShortened)
        {
            _ttlShortened.Add(1, tag);
        }
    }

    public void Failed(string operation, TimeSpan duration, Exception exception)
    {
        var tag = new KeyValuePair<string, object?>(OperationTag, operation);
        _failures.Add(1, tag, new KeyValuePair<string, object?>("error.type", exception.GetType().Name));
        _duration.Record(duration.TotalSeconds, tag);
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
