using System.Collections.Concurrent;
using System.Security.Claims;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace DfbNet.Server.Internal;

/// <summary>The quotas of authenticated callers (<see cref="DfbNetAuthOptions.Quotas"/>), one <see cref="CallerQuota"/>
/// per caller name, shared by all of its calls.</summary>
internal sealed class CallerQuotas(IOptions<DfbNetAuthOptions> options, TimeProvider clock)
{
    private readonly Dictionary<string, CallerQuotaOptions> _configured = options.Value.Quotas;
    private readonly ConcurrentDictionary<string, CallerQuota> _callers = new(StringComparer.Ordinal);

    /// <summary>The caller of a call: null when authentication is off (anonymous calls have no quota).</summary>
    public CallerQuota? For(ServerCallContext context) => For(context.GetHttpContext().User);

    public CallerQuota? For(ClaimsPrincipal user)
    {
        if (user.Identity is not { IsAuthenticated: true })
        {
            return null;
        }

        var name = DfbNetAuthentication.CallerName(user);
        return _callers.TryGetValue(name, out var caller) ? caller : _callers.GetOrAdd(name, Create);
    }

    private CallerQuota Create(string name)
    {
        var (quota, setting) = _configured.TryGetValue(name, out var own)
            ? (own, $"{DfbNetAuthOptions.SectionName}:Quotas:{name}")
            : _configured.TryGetValue("*", out var all) ? (all, $"{DfbNetAuthOptions.SectionName}:Quotas:*") : (new CallerQuotaOptions(), "");
        return new CallerQuota(name, quota.FramesPerSecond, quota.MaxStreams, setting, clock);
    }
}

/// <summary>One caller's frame rate (a token bucket holding one second's worth) and open streams.</summary>
internal sealed class CallerQuota(string name, double framesPerSecond, int maxStreams, string setting, TimeProvider clock)
{
    private readonly Lock _gate = new();
    private double _tokens = Math.Max(framesPerSecond, 1);
    private long _refilled = clock.GetTimestamp();
    private int _streams;

    public string Name { get; } = name;

    /// <summary>Takes one frame of the caller's rate; false (counted) when the caller is over it.</summary>
    public bool TryTakeFrame()
    {
        if (framesPerSecond <= 0)
        {
            ServerMetrics.ClientFrame(Name);
            return true;
        }

        lock (_gate)
        {
            var now = clock.GetTimestamp();
            _tokens = Math.Min(Math.Max(framesPerSecond, 1), _tokens + (clock.GetElapsedTime(_refilled, now).TotalSeconds * framesPerSecond));
            _refilled = now;
            if (_tokens < 1)
            {
                ServerMetrics.QuotaRefused(Name, "frames_per_second");
                return false;
            }

            _tokens--;
        }

        ServerMetrics.ClientFrame(Name);
        return true;
    }

    public string FrameRateExceeded => $"caller '{Name}' is over its quota of {framesPerSecond:0.##} frames per second ({setting}:FramesPerSecond); slow down.";

    /// <exception cref="RpcException">RESOURCE_EXHAUSTED when the frame is over the caller's rate.</exception>
    public void TakeFrameOrThrow()
    {
        if (!TryTakeFrame())
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, FrameRateExceeded));
        }
    }

    /// <summary>Counts a stream of the caller until <see cref="ExitStream"/>.</summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED when the caller has as many streams open as it may.</exception>
    public void EnterStream()
    {
        // No quota (0) still counts the caller's streams, against a bound no caller reaches.
        if (!BoundedCount.TryIncrement(ref _streams, maxStreams > 0 ? maxStreams : int.MaxValue))
        {
            ServerMetrics.QuotaRefused(Name, "streams");
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"caller '{Name}' has {maxStreams} streams open, as many as {setting}:MaxStreams allows; close one first."));
        }
    }

    public void ExitStream() => Interlocked.Decrement(ref _streams);
}
