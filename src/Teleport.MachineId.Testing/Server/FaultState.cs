using Grpc.Core;

namespace Teleport.MachineId.Testing.Server;

/// <summary>Injected faults: Auth or the proxy offline, failures of the next N calls, added latency. Thread-safe.</summary>
internal sealed class FaultState
{
    private readonly object _gate = new();
    private readonly List<FailureRule> _rules = [];
    private long _latencyTicks;
    private volatile bool _authOffline;
    private volatile bool _proxyOffline;

    public bool AuthOnline => !_authOffline;

    public bool ProxyOnline => !_proxyOffline;

    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set => Interlocked.Exchange(ref _latencyTicks, value.Ticks);
    }

    public void SetAuthOffline(bool offline) => _authOffline = offline;

    public void SetProxyOffline(bool offline) => _proxyOffline = offline;

    public void AddFailures(int count, StatusCode status, string? method, string? message)
    {
        lock (_gate)
        {
            _rules.Add(new FailureRule { Remaining = count, Status = status, Method = method, Message = message });
        }
    }

    public void Reset()
    {
        lock (_gate)
        {
            _rules.Clear();
        }

        Latency = TimeSpan.Zero;
        _authOffline = false;
        _proxyOffline = false;
    }

    /// <summary>Consumes one injected failure that applies to <paramref name="method"/> (a gRPC full name or an HTTP path).</summary>
    public bool TryTakeFailure(string method, out StatusCode status, out string message)
    {
        lock (_gate)
        {
            foreach (var rule in _rules)
            {
                if (rule.Remaining > 0 && Matches(rule.Method, method))
                {
                    rule.Remaining--;
                    status = rule.Status;
                    message = rule.Message ?? $"injected fault: {status}";
                    _rules.RemoveAll(r => r.Remaining <= 0);
                    return true;
                }
            }
        }

        status = StatusCode.OK;
        message = string.Empty;
        return false;
    }

    private static bool Matches(string? filter, string method)
    {
        if (string.IsNullOrEmpty(filter))
        {
            return true;
        }

        var normalized = method.StartsWith("/v1/webapi/", StringComparison.Ordinal) ? method[3..] : method;
        return string.Equals(filter, normalized, StringComparison.Ordinal)
            || normalized.EndsWith("/" + filter.TrimStart('/'), StringComparison.Ordinal);
    }

    private sealed class FailureRule
    {
        public int Remaining { get; set; }

        public StatusCode Status { get; init; }

        public string? Method { get; init; }

        public string? Message { get; init; }
    }
}
