using Grpc.Core;

namespace DfbNet.Client.Internal;

/// <summary>Exponential back-off with jitter, and which status codes are worth another attempt.</summary>
internal sealed class Backoff
{
    private readonly TimeSpan _first;
    private readonly TimeSpan _max;
    private readonly bool _resourceExhausted;

    public Backoff(DfbNetClientOptions options)
    {
        _first = options.RetryDelay;
        _max = options.MaxRetryDelay;
        _resourceExhausted = options.RetryResourceExhausted;
    }

    /// <summary>UNAVAILABLE: the server is down, restarting, or the connection broke; the call did not produce an answer
    /// and classifying is side-effect free, so it is safe to send again. Also INTERNAL when no server said it: the HTTP/2
    /// connection went away mid-call (an IOException or an HTTP protocol error under it), which is the same break seen a
    /// moment later. RESOURCE_EXHAUSTED only where configured (see <see cref="DfbNetClientOptions.RetryResourceExhausted"/>).</summary>
    public bool IsTransient(RpcException exception) =>
        exception.StatusCode == StatusCode.Unavailable
        || (exception.StatusCode == StatusCode.Internal && exception.Status.DebugException is IOException or HttpRequestException or HttpProtocolException)
        || (_resourceExhausted && exception.StatusCode == StatusCode.ResourceExhausted);

    /// <summary>The longest delay before attempt <paramref name="retry"/> (0-based) can be.</summary>
    public TimeSpan UpperBound(int retry) => TimeSpan.FromTicks((long)Math.Min(_max.Ticks, _first.Ticks * Math.Pow(2, Math.Min(retry, 30))));

    /// <summary>The delay before retry <paramref name="retry"/> (0-based): between half and all of its upper bound.</summary>
    public TimeSpan Delay(int retry) => UpperBound(retry) * (0.5 + (Random.Shared.NextDouble() * 0.5));

    /// <summary>True when waiting out the longest delay of <paramref name="retry"/> still leaves time before the deadline.</summary>
    public bool FitsDeadline(int retry, DateTime? deadline) => deadline is not { } d || DateTime.UtcNow + UpperBound(retry) < d;
}
